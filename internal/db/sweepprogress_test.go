package db

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/mljob/mljob/internal/objective"
)

// TestSweepProgresses: a group per sweep and per project's loose jobs of
// one objective, with its counts by state and its best succeeded outcome
// by the group's goal; failed, valueless and superseded outcomes never
// lead, and two objectives are never ranked together.
func TestSweepProgresses(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	acc := objective.Objective{Name: "acc", Goal: objective.Maximize}
	mse := objective.Objective{Name: "mse", Goal: objective.Minimize}
	submit := func(project, sweep string, obj objective.Objective, n int) {
		t.Helper()
		jobs := make([]NewJob, n)
		for i := range jobs {
			jobs[i] = NewJob{Project: project, Script: "s.py", Spec: fmt.Appendf(nil, `{"s":%q,"i":%d}`, sweep, i), Objective: obj}
		}
		var opts SubmitOptions
		if sweep != "" {
			opts.Sweep = &NewSweep{Name: sweep, Definition: []byte(`{}`)}
		}
		if _, err := db.Submit(ctx, jobs, opts); err != nil {
			t.Fatal(err)
		}
	}
	submit("p", "wide", acc, 5)   // jobs 1-5
	submit("p", "", mse, 2)       // jobs 6-7
	submit("p", "", acc, 1)       // job 8
	submit("q", "narrow", mse, 1) // job 9: queued only
	// job → (succeeded, Outcome line); a job not here stays queued.
	ran := map[int64]struct {
		ok   bool
		line string
	}{
		1: {true, `{"acc": 0.7}`},
		2: {true, `{"acc": 0.9}`},
		3: {false, `{"acc": 0.99}`}, // failed: its number does not count
		4: {true, `{"acc": "NaN"}`},
		6: {true, `{"mse": 4}`},
		7: {true, `{"mse": 3}`},
		8: {true, `{"acc": 0.1}`},
	}
	for range 8 {
		c := mustClaim(t, db, "h")
		r, ok := ran[c.Order.JobID]
		if !ok {
			continue // job 5: left running
		}
		if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: r.ok, JSON: []byte(r.line)}); err != nil {
			t.Fatal(err)
		}
	}

	got, err := db.SweepProgresses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		project, sweep string
		obj            objective.Objective
		counts         map[OrderState]int
		best           *BestOutcome
	}
	wants := []want{
		{"p", "wide", acc, map[OrderState]int{StateSucceeded: 3, StateFailed: 1, StateAssigned: 1}, &BestOutcome{Value: 0.9, JobID: 2, OrderID: 2, Attempt: 1}},
		{"p", "", acc, map[OrderState]int{StateSucceeded: 1}, &BestOutcome{Value: 0.1, JobID: 8, OrderID: 8, Attempt: 1}},
		{"p", "", mse, map[OrderState]int{StateSucceeded: 2}, &BestOutcome{Value: 3, JobID: 7, OrderID: 7, Attempt: 1}},
		{"q", "narrow", mse, map[OrderState]int{StateUnassigned: 1}, nil},
	}
	if len(got) != len(wants) {
		t.Fatalf("%d groups, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if g.Project != w.project || g.Sweep != w.sweep || g.Objective != w.obj || (g.SweepID == 0) != (w.sweep == "") {
			t.Errorf("group %d is %s/%q (sweep %d) %v, want %s/%q %v", i, g.Project, g.Sweep, g.SweepID, g.Objective, w.project, w.sweep, w.obj)
		}
		total := 0
		for s, n := range w.counts {
			total += n
			if g.Counts[s] != n {
				t.Errorf("group %d: %d %s, want %d (counts %v)", i, g.Counts[s], s, n, g.Counts)
			}
		}
		if g.Total != total || len(g.Counts) != len(OrderStates) {
			t.Errorf("group %d: total %d over %d states, want %d over every state", i, g.Total, len(g.Counts), total)
		}
		if (g.Best == nil) != (w.best == nil) || g.Best != nil && *g.Best != *w.best {
			t.Errorf("group %d: best %+v, want %+v", i, g.Best, w.best)
		}
	}
	if w := got[0]; w.Done() != 4 || w.Running() != 1 || w.Queued() != 0 {
		t.Errorf("wide: done %d, running %d, queued %d; want 4, 1, 0", w.Done(), w.Running(), w.Queued())
	}

	st, err := db.Status(ctx)
	if err != nil || len(st.Sweeps) != len(wants) || !maps.Equal(st.Sweeps[0].Counts, got[0].Counts) {
		t.Errorf("Status's sweeps %+v, %v; want SweepProgresses'", st.Sweeps, err)
	}
}
