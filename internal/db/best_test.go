package db

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestBestJob: --best's job is the sweep's best succeeded run by its
// objective (a failed run's better value never wins); a sweep without one
// is ErrNoBest; without a sweep, the queue's only group with a best, else
// an *AmbiguousBestError counting the groups.
func TestBestJob(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	submit := func(sweep string, n int) int64 {
		t.Helper()
		jobs := make([]NewJob, n)
		for i := range jobs {
			jobs[i] = NewJob{Project: "p", Script: "s.py", Spec: fmt.Appendf(nil, `{"s":%q,"i":%d}`, sweep, i)}
		}
		if _, err := db.Submit(ctx, jobs, SubmitOptions{Sweep: &NewSweep{Name: sweep, Definition: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
		sw, err := db.ResolveSweep(ctx, sweep, "")
		if err != nil {
			t.Fatal(err)
		}
		return sw.ID
	}
	// job → (succeeded, loss); a job not here stays queued.
	ran := map[int64]struct {
		ok   bool
		loss float64
	}{1: {true, 0.5}, 2: {true, 0.2}, 3: {false, 0.1}, 4: {true, 0.3}}
	record := func(n int) {
		t.Helper()
		for range n {
			c := mustClaim(t, db, "h")
			r := ran[c.Order.JobID]
			if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: r.ok,
				JSON: fmt.Appendf(nil, `{"loss": %g}`, r.loss)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	a := submit("a", 3) // jobs 1-3
	record(3)
	if got, err := db.BestJob(ctx, 0); err != nil || got != 2 {
		t.Errorf("BestJob(0) with one sweep = %d, %v; want job 2", got, err)
	}
	b := submit("b", 2) // jobs 4-5
	c := submit("c", 1) // job 6: never run
	record(1)           // job 4
	for _, tt := range []struct {
		name    string
		sweepID int64
		want    int64
		err     error
	}{
		{"sweep a", a, 2, nil},
		{"sweep b", b, 4, nil},
		{"sweep c", c, 0, ErrNoBest},
	} {
		got, err := db.BestJob(ctx, tt.sweepID)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("%s: BestJob = %d, %v; want %d, %v", tt.name, got, err, tt.want, tt.err)
		}
	}
	var many *AmbiguousBestError
	if _, err := db.BestJob(ctx, 0); !errors.As(err, &many) || many.Groups != 2 {
		t.Errorf("BestJob(0) with two sweeps' bests: %v, want an AmbiguousBestError of 2 groups", err)
	}
}
