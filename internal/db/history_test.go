package db

import (
	"context"
	"errors"
	"testing"
)

// TestJobHistory: a job's orders come with their attempts, and a missing
// job is ErrJobNotFound.
func TestJobHistory(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	s := mustSubmit(t, db, "p", 0)[0]
	c := mustClaim(t, db, "h")
	if err := db.ReleaseOrder(ctx, c.Order.ID, 1, "lost"); err != nil {
		t.Fatal(err)
	}
	mustClaim(t, db, "h")
	h, err := db.JobHistory(ctx, s.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if h.Job.ID != s.JobID || len(h.Orders) != 1 || len(h.Attempts) != 1 || len(h.Attempts[0]) != 2 || h.Sweep != nil {
		t.Errorf("JobHistory = %+v; want the job, its order with 2 attempts, no sweep", h)
	}
	if _, err := db.JobHistory(ctx, 99); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("JobHistory(99) error = %v, want ErrJobNotFound", err)
	}
}
