package db

import (
	"context"
	"testing"

	"github.com/mljob/mljob/internal/run"
)

// TestCostRecordedWithOutcome checks that an attempt's cost is stored with
// its outcome, once (a second recording changes nothing), read back with
// the outcome, and summed per sweep group, a pruned attempt's included.
func TestCostRecordedWithOutcome(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	loss := 1.0
	mustRunJobs(t, db, []filterJob{
		{project: "p", sweep: "s", succeeded: true, loss: &loss},
		{project: "p", sweep: "s", pruned: true, loss: &loss},
		{project: "p", sweep: "s", succeeded: true, loss: &loss},
	})
	costs := map[int64]run.Cost{
		1: {WallSeconds: 10, UserSeconds: 7, SysSeconds: 1, MaxRSSBytes: 1 << 30, GPUs: 2},
		2: {WallSeconds: 4, UserSeconds: 3, SysSeconds: 0.5, MaxRSSBytes: 1 << 20, GPUs: 1},
	}
	// mustRunJobs recorded the outcomes without costs: add them as a
	// dispatcher would have, through a second attempt's worth of rows.
	for id, c := range costs {
		if _, err := db.sql.ExecContext(ctx, `DELETE FROM outcomes WHERE order_id = ?`, id); err != nil {
			t.Fatal(err)
		}
		c := c
		if _, err := db.RecordOutcome(ctx, Outcome{OrderID: id, Attempt: 1, Succeeded: id == 1, Loss: &loss, Cost: &c}); err != nil {
			t.Fatal(err)
		}
		other := run.Cost{WallSeconds: 99}
		if rec, err := db.RecordOutcome(ctx, Outcome{OrderID: id, Attempt: 1, Cost: &other}); rec || err != nil {
			t.Fatalf("second RecordOutcome = %v, %v; want false, nil", rec, err)
		}
	}
	rows, err := db.Outcomes(ctx, OutcomeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d outcomes, want 3", len(rows))
	}
	for _, r := range rows {
		want, ok := costs[r.OrderID]
		switch {
		case !ok && r.Cost != nil:
			t.Errorf("order %d: cost %+v, want none", r.OrderID, *r.Cost)
		case ok && (r.Cost == nil || *r.Cost != want):
			t.Errorf("order %d: cost %+v, want %+v", r.OrderID, r.Cost, want)
		}
	}
	if !rows[1].Pruned {
		t.Errorf("order 2 not pruned: the test needs a pruned attempt")
	}
	progs, err := db.SweepProgresses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(progs) != 1 {
		t.Fatalf("%d groups, want 1", len(progs))
	}
	if got, want := progs[0].CPUSeconds, 7+1+3+0.5; got != want {
		t.Errorf("CPU seconds %v, want %v", got, want)
	}
	if got, want := progs[0].GPUSeconds, 2*10+1*4.0; got != want {
		t.Errorf("GPU seconds %v, want %v", got, want)
	}
}
