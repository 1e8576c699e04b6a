// Package orderview is what mljob cancel and mljob retry print of the
// orders they changed: a row per order with its state before, and what was
// done to it, as a render.Table and the rows for JSON.
package orderview

import (
	"fmt"
	"io"
	"strconv"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/render"
)

// Cancelled is one line of cancel's output.
type Cancelled struct {
	OrderID       int64  `json:"orderId"`
	JobID         int64  `json:"jobId"`
	PreviousState string `json:"previousState"`
	Action        string `json:"action"`
}

// Requeued is one line of retry's output.
type Requeued struct {
	OrderID       int64  `json:"orderId"`
	JobID         int64  `json:"jobId"`
	PreviousState string `json:"previousState"`
	// Attempts counts the attempts so far; the next run is attempt
	// Attempts+1.
	Attempts int `json:"attempts"`
}

// table is the ORDER, JOB, PREVIOUS columns both outputs begin with, and
// last, the column that differs.
func table(last, key string, lastNumeric bool) render.Table {
	return render.Table{
		Headers: []string{"ORDER", "JOB", "PREVIOUS", last},
		Keys:    []string{"orderId", "jobId", "previousState", key},
		Numeric: map[int]bool{0: true, 1: true, 3: lastNumeric},
	}
}

func ids(order db.Order) []string {
	return []string{strconv.FormatInt(order.ID, 10), strconv.FormatInt(order.JobID, 10), string(order.State)}
}

// CancelTable is cancel's table of res, and its rows for JSON.
func CancelTable(res []dispatch.CancelResult) (render.Table, []Cancelled) {
	t := table("ACTION", "action", false)
	rows := make([]Cancelled, len(res))
	for i, r := range res {
		rows[i] = Cancelled{OrderID: r.Order.ID, JobID: r.Order.JobID, PreviousState: string(r.Order.State), Action: r.Action}
		t.Rows = append(t.Rows, append(ids(r.Order), r.Action))
	}
	return t, rows
}

// RetryTable is retry's table of the orders queued again (each as it was
// before), and its rows for JSON.
func RetryTable(orders []db.Order) (render.Table, []Requeued) {
	t := table("ATTEMPTS", "attempts", true)
	rows := make([]Requeued, len(orders))
	for i, o := range orders {
		rows[i] = Requeued{OrderID: o.ID, JobID: o.JobID, PreviousState: string(o.State), Attempts: o.Attempt}
		t.Rows = append(t.Rows, append(ids(o), strconv.Itoa(o.Attempt)))
	}
	return t, rows
}

// WriteUnmatched tells, on w, that each of the named ids in missing (order
// ids with byOrder, else job ids) matched no order, and why.
func WriteUnmatched(w io.Writer, missing []int64, byOrder bool, why string) {
	what := "Job"
	if byOrder {
		what = "Order"
	}
	for _, id := range missing {
		fmt.Fprintf(w, "%s %d: %s.\n", what, id, why)
	}
}
