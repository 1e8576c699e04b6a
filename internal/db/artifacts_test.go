package db

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestArtifactFetchLifecycle(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	subs, err := db.Submit(ctx, []NewJob{
		{Project: "p", Script: "s.py", Spec: []byte(`{}`), Artifacts: []string{"*.pt", "plots/*.png"}, ArtifactsCap: 5000},
		{Project: "p", Script: "s.py", Spec: []byte(`{"a":1}`)},
	}, SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job, err := db.Job(ctx, subs.Jobs[0].JobID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(job.Artifacts, []string{"*.pt", "plots/*.png"}) || job.ArtifactsCap != 5000 {
		t.Fatalf("job read back with artifacts %q cap %d", job.Artifacts, job.ArtifactsCap)
	}

	// The first claim gets a run dir; the second fails before it has one
	// and owes nothing.
	c1 := mustClaim(t, db, "h")
	if err := db.MarkRunning(ctx, c1.Order.ID, 1, "/w/runs/1-1", 42); err != nil {
		t.Fatal(err)
	}
	c2 := mustClaim(t, db, "h")
	for _, c := range []*Claim{c1, c2} {
		if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: true}); err != nil {
			t.Fatal(err)
		}
	}
	pending, err := db.PendingFetches(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].OrderID != c1.Order.ID || pending[0].State != FetchPending || pending[0].JobCap != 5000 {
		t.Fatalf("pending = %+v, want only order %d's, pending, cap 5000", pending, c1.Order.ID)
	}
	if _, _, err := db.GetFetch(ctx, c2.Order.ID, 1); !errors.Is(err, ErrOrderNotFound) {
		t.Fatalf("an attempt without a run dir owes artifacts: %v", err)
	}

	files := []ArtifactFile{{Path: "a.pt", Size: 3, SHA256: "aa"}, {Path: "plots/b.png", Size: 4, SHA256: "bb"}}
	if err := db.SaveListing(ctx, c1.Order.ID, 1, files, 7, 5000, false, ""); err != nil {
		t.Fatal(err)
	}
	// A second listing (another dispatcher's) changes nothing.
	if err := db.SaveListing(ctx, c1.Order.ID, 1, files[:1], 3, 5000, false, ""); err != nil {
		t.Fatal(err)
	}
	if err := db.ArtifactHome(ctx, c1.Order.ID, 1, "a.pt"); err != nil {
		t.Fatal(err)
	}
	f, got, err := db.JobFetch(ctx, subs.Jobs[0].JobID)
	if err != nil {
		t.Fatal(err)
	}
	if f.State != FetchListed || len(got) != 2 || !got[0].Done || got[1].Done {
		t.Fatalf("after one file home: %+v %+v", f, got)
	}
	if p, _ := db.PendingFetches(ctx, "h"); len(p) != 1 {
		t.Fatalf("a half-fetched attempt is not pending: %+v", p)
	}
	if err := db.ArtifactHome(ctx, c1.Order.ID, 1, "plots/b.png"); err != nil {
		t.Fatal(err)
	}
	if f, _, _ = db.GetFetch(ctx, c1.Order.ID, 1); f.State != FetchDone || f.Total != 7 {
		t.Fatalf("after every file home: %+v", f)
	}
	if p, _ := db.PendingFetches(ctx, "h"); len(p) != 0 {
		t.Fatalf("a done attempt is still pending: %+v", p)
	}
}

func TestArtifactFetchOverCap(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	mustSubmit(t, db, "p", 0)
	c := mustClaim(t, db, "h")
	if err := db.MarkRunning(ctx, c.Order.ID, 1, "/w/runs/1-1", 42); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: true}); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveListing(ctx, c.Order.ID, 1, []ArtifactFile{{Path: "big.pt", Size: 20}}, 20, 10, true, "over the cap"); err != nil {
		t.Fatal(err)
	}
	f, files, err := db.GetFetch(ctx, c.Order.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if f.State != FetchOverCap || f.Error != "over the cap" || f.Cap != 10 || len(files) != 1 || files[0].Done {
		t.Fatalf("over the cap: %+v %+v", f, files)
	}
	if p, _ := db.PendingFetches(ctx, "h"); len(p) != 0 {
		t.Fatalf("an attempt over its cap is still pending: %+v", p)
	}
}

// TestArtifactFetchNoDir: an outcome whose host said the run dir holds no
// artifacts/ dir owes nothing when its job names no globs (done, empty),
// and is still listed when it names some or the host did not say.
func TestArtifactFetchNoDir(t *testing.T) {
	for _, tc := range []struct {
		name  string
		globs []string
		noDir bool
		want  FetchState
	}{
		{"no globs, no dir", nil, true, FetchDone},
		{"no globs, dir or not said", nil, false, FetchPending},
		{"globs, no dir", []string{"*.pt"}, true, FetchPending},
		{"globs, dir", []string{"*.pt"}, false, FetchPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := MustOpenDB(t)
			if _, err := db.Submit(ctx, []NewJob{{Project: "p", Script: "s.py", Spec: []byte(`{}`), Artifacts: tc.globs}}, SubmitOptions{}); err != nil {
				t.Fatal(err)
			}
			c := mustClaim(t, db, "h")
			if err := db.MarkRunning(ctx, c.Order.ID, 1, "/w/runs/1-1", 42); err != nil {
				t.Fatal(err)
			}
			if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: true, NoArtifactsDir: tc.noDir}); err != nil {
				t.Fatal(err)
			}
			f, files, err := db.GetFetch(ctx, c.Order.ID, 1)
			if err != nil {
				t.Fatal(err)
			}
			if f.State != tc.want || len(files) != 0 {
				t.Fatalf("fetch %+v files %+v, want state %s", f, files, tc.want)
			}
			p, err := db.PendingFetches(ctx, "h")
			if err != nil {
				t.Fatal(err)
			}
			if owed := len(p) == 1; owed != (tc.want == FetchPending) {
				t.Fatalf("pending %+v, want owed %v", p, tc.want == FetchPending)
			}
			all, err := db.JobFetches(ctx, c.Order.JobID)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 1 || all[0].State != tc.want || all[0].Attempt != 1 {
				t.Fatalf("JobFetches %+v, want one, %s", all, tc.want)
			}
		})
	}
}
