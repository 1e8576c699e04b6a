package db

import (
	"context"
	"strings"
	"testing"
)

// TestRecordLateOutcomeKeepsEvery: whatever became of the later attempt,
// the late outcome of an abandoned attempt never deletes an outcome; the
// one that does not count says why, naming the one that does.
func TestRecordLateOutcomeKeepsEvery(t *testing.T) {
	tests := []struct {
		name string
		// later is what attempt 2 did before attempt 1 was found finished:
		// "running", "succeeded" or "failed".
		later         string
		lateSucceeded bool
		wantOrder     OrderState
		// wantSuperseded maps an attempt to a text its outcome's superseded
		// holds; attempts not named must count ("").
		wantSuperseded map[int]string
	}{
		{"later still running", "running", true, StateSucceeded, map[int]string{2: "attempt 1 finished first"}},
		{"later succeeded", "succeeded", true, StateSucceeded, map[int]string{1: "attempt 2 had already succeeded"}},
		{"later succeeded, late failed", "succeeded", false, StateSucceeded, map[int]string{1: "attempt 2 had already succeeded"}},
		{"later failed, late succeeded", "failed", true, StateSucceeded, map[int]string{2: "attempt 1 succeeded after all"}},
		{"both failed", "failed", false, StateFailed, map[int]string{1: "attempt 2 had already failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			ctx := context.Background()
			mustSubmit(t, db, "p", 0)
			c := mustClaim(t, db, "h1")
			if err := db.MarkRunning(ctx, c.Order.ID, 1, "run1", 11); err != nil {
				t.Fatal(err)
			}
			if err := db.AbandonOrder(ctx, c.Order.ID, 1, "h1: host unreachable"); err != nil {
				t.Fatal(err)
			}
			c2 := mustClaim(t, db, "h2")
			if err := db.MarkRunning(ctx, c2.Order.ID, 2, "run2", 22); err != nil {
				t.Fatal(err)
			}
			if tt.later != "running" {
				if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 2, Succeeded: tt.later == "succeeded", Loss: ptr(0.5)}); err != nil {
					t.Fatal(err)
				}
			}
			note, done, err := db.RecordLateOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Host: "h1", Succeeded: tt.lateSucceeded, Loss: ptr(0.1)})
			if err != nil || !done || note == "" {
				t.Fatalf("RecordLateOutcome = %q, %v, %v", note, done, err)
			}
			if tt.later == "running" {
				// Attempt 2's dispatcher kills it and records what it saw.
				if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 2, Error: "superseded by another attempt (killed)", Loss: ptr(0.5)}); err != nil {
					t.Fatal(err)
				}
			}
			rows, err := db.Outcomes(ctx, OutcomeFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 {
				t.Fatalf("%d outcomes, want both attempts': %+v", len(rows), rows)
			}
			for _, r := range rows {
				want := tt.wantSuperseded[r.Attempt]
				if want == "" && r.Superseded != "" || !strings.Contains(r.Superseded, want) {
					t.Errorf("attempt %d: superseded %q, want %q", r.Attempt, r.Superseded, want)
				}
			}
			// --best stands for the job with the outcome that counts, even
			// where the other's loss is lower.
			best, err := db.Outcomes(ctx, OutcomeFilter{Best: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(best) != 1 || best[0].Superseded != "" {
				t.Errorf("best outcome %+v, want the one that counts", best)
			}
			if o := orderByID(t, db, c.Order.ID); o.State != tt.wantOrder {
				t.Errorf("order %s, want %s", o.State, tt.wantOrder)
			}
			if again, done, err := db.RecordLateOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: true}); err != nil || done {
				t.Errorf("a second RecordLateOutcome = %q, %v, %v; want nothing done", again, done, err)
			}
		})
	}
}
