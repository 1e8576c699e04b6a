package db

import (
	"context"
	"fmt"
	"testing"
)

// TestCollectableRunDirs: only an attempt with an outcome whose artifacts
// are done (or failed, or never owed) is offered to gc, and not again once
// its removal is recorded; a running attempt, and one whose artifacts are
// pending, listed or over the cap, never are.
func TestCollectableRunDirs(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	var jobs []NewJob
	for i := range 4 {
		jobs = append(jobs, NewJob{Project: "p", Script: "s.py", Spec: []byte(fmt.Sprintf(`{"i":%d}`, i)), Artifacts: []string{"*.pt"}})
	}
	if _, err := db.Submit(ctx, jobs, SubmitOptions{}); err != nil {
		t.Fatal(err)
	}
	var claims []*Claim
	for i := range 4 {
		c := mustClaim(t, db, "h")
		if err := db.MarkRunning(ctx, c.Order.ID, 1, fmt.Sprintf("/w/runs/q-%d-1", i+1), 42); err != nil {
			t.Fatal(err)
		}
		claims = append(claims, c)
	}
	// claims[3] stays running; the others end.
	for _, c := range claims[:3] {
		if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: true}); err != nil {
			t.Fatal(err)
		}
	}
	collectable := func() []int64 {
		t.Helper()
		dirs, err := db.CollectableRunDirs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, d := range dirs {
			ids = append(ids, d.OrderID)
		}
		return ids
	}
	if got := collectable(); len(got) != 0 {
		t.Fatalf("with every fetch pending or the run running, gc is offered orders %v", got)
	}
	file := []ArtifactFile{{Path: "a.pt", Size: 3, SHA256: "aa"}}
	if err := db.SaveListing(ctx, claims[0].Order.ID, 1, file, 3, 100, false, ""); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveListing(ctx, claims[1].Order.ID, 1, file, 3, 1, true, "over"); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveListing(ctx, claims[2].Order.ID, 1, file, 3, 100, false, ""); err != nil {
		t.Fatal(err)
	}
	if got := collectable(); len(got) != 0 {
		t.Fatalf("listed or over-cap attempts offered to gc: %v", got)
	}
	if err := db.ArtifactHome(ctx, claims[0].Order.ID, 1, "a.pt"); err != nil {
		t.Fatal(err)
	}
	if err := db.NoteFetch(ctx, claims[2].Order.ID, 1, "run dir gone", true); err != nil {
		t.Fatal(err)
	}
	dirs, err := db.CollectableRunDirs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 2 || dirs[0].OrderID != claims[0].Order.ID || dirs[1].OrderID != claims[2].Order.ID ||
		dirs[0].Dir != "/w/runs/q-1-1" || dirs[0].Host != "h" || dirs[0].Attempt != 1 {
		t.Fatalf("collectable = %+v, want orders %d (done) and %d (failed) with their recorded run dirs", dirs, claims[0].Order.ID, claims[2].Order.ID)
	}
	if err := db.RunDirRemoved(ctx, dirs[0]); err != nil {
		t.Fatal(err)
	}
	if err := db.RunDirRemoved(ctx, dirs[0]); err != nil { // twice is fine
		t.Fatal(err)
	}
	if got := collectable(); len(got) != 1 || got[0] != claims[2].Order.ID {
		t.Fatalf("after recording a removal, collectable = %v, want only %d", got, claims[2].Order.ID)
	}
}
