package orderview

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
)

func TestTables(t *testing.T) {
	o := db.Order{ID: 7, JobID: 3, State: db.StateFailed, Attempt: 2}
	rt, rrows := RetryTable([]db.Order{o})
	if !reflect.DeepEqual(rt.Rows, [][]string{{"7", "3", "failed", "2"}}) || rt.Headers[3] != "ATTEMPTS" || !rt.Numeric[3] ||
		rrows[0] != (Requeued{OrderID: 7, JobID: 3, PreviousState: "failed", Attempts: 2}) {
		t.Errorf("RetryTable = %+v, %+v", rt, rrows)
	}
	o.State = db.StateRunning
	ct, crows := CancelTable([]dispatch.CancelResult{{Order: o, Action: dispatch.ActionKilled}})
	if !reflect.DeepEqual(ct.Rows, [][]string{{"7", "3", "running", dispatch.ActionKilled}}) || ct.Keys[3] != "action" || ct.Numeric[3] ||
		crows[0].Action != dispatch.ActionKilled || crows[0].PreviousState != "running" {
		t.Errorf("CancelTable = %+v, %+v", ct, crows)
	}
	var b strings.Builder
	WriteUnmatched(&b, []int64{4, 5}, true, "nothing to cancel")
	if b.String() != "Order 4: nothing to cancel.\nOrder 5: nothing to cancel.\n" {
		t.Errorf("WriteUnmatched = %q", b.String())
	}
}
