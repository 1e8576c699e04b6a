package db

import (
	"context"
	"errors"
	"testing"

	"github.com/mljob/mljob/internal/objective"
)

// TestCreateReplicates checks a replicate group is stored with its jobs
// and their orders in one transaction, read back by project and sweep
// with its configurations by rank, and counted per source.
func TestCreateReplicates(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	loss := 1.0
	sweeps := mustRunJobs(t, db, []filterJob{
		{project: "p", sweep: "s", succeeded: true, loss: &loss},
		{project: "p", sweep: "s", succeeded: true, loss: &loss},
	})
	obj := objective.Objective{Name: "loss", Goal: objective.Minimize}
	job := func(seed string) NewJob {
		return NewJob{Project: "p", Script: "nn.py", Spec: []byte(`{"projectName":"p","seed":` + seed + `}`), Objective: obj}
	}
	if _, _, err := db.CreateReplicates(ctx, NewReplicateGroup{Project: "p"}); !errors.Is(err, ErrReplicateGroupEmpty) {
		t.Fatalf("empty group: %v, want ErrReplicateGroupEmpty", err)
	}
	id, subs, err := db.CreateReplicates(ctx, NewReplicateGroup{Project: "p", SweepID: sweeps["s"], Objective: obj, Seeds: 2,
		Members: []NewReplicate{
			{SourceJobID: 2, SourceRank: 1, Job: job("1")}, {SourceJobID: 2, SourceRank: 1, Job: job("2")},
			{SourceJobID: 1, SourceRank: 2, Job: job("3")}, {SourceJobID: 1, SourceRank: 2, Job: job("4")},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 4 || subs[0].JobID != 3 || subs[3].JobID != 6 || subs[0].OrderID == 0 {
		t.Fatalf("submitted %+v, want jobs 3-6 with orders", subs)
	}
	// A member naming a job that does not exist fails the whole group.
	_, _, err = db.CreateReplicates(ctx, NewReplicateGroup{Project: "p", Objective: obj, Seeds: 1,
		Members: []NewReplicate{{SourceJobID: 99, SourceRank: 1, Job: job("5")}}})
	if err == nil {
		t.Fatal("a group naming job 99 was stored")
	}
	if n := countRows(t, db, "jobs"); n != 6 {
		t.Errorf("%d jobs after the refused group, want 6: nothing of it kept", n)
	}
	for _, tt := range []struct {
		name    string
		project string
		sweep   int64
		want    int
	}{{"project", "p", 0, 1}, {"sweep", "p", sweeps["s"], 1}, {"other project", "q", 0, 0}, {"all", "", 0, 1}} {
		groups, err := db.ReplicateGroups(ctx, tt.project, tt.sweep)
		if err != nil {
			t.Fatal(err)
		}
		if len(groups) != tt.want {
			t.Fatalf("%s: %d groups, want %d", tt.name, len(groups), tt.want)
		}
		if tt.want == 0 {
			continue
		}
		g := groups[0]
		if g.ID != id || g.SweepID != sweeps["s"] || g.Objective != obj || g.Seeds != 2 || len(g.Sources) != 2 ||
			g.Sources[0].JobID != 2 || g.Sources[0].Rank != 1 || len(g.Sources[0].Jobs) != 2 || g.Sources[0].Jobs[1] != 4 ||
			g.Sources[1].JobID != 1 || g.Sources[1].Jobs[0] != 5 {
			t.Errorf("%s: group %+v, want job 2 (jobs 3, 4) then job 1 (jobs 5, 6)", tt.name, g)
		}
	}
	counts, err := db.ReplicateCounts(ctx, []int64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if counts[1] != 2 || counts[2] != 2 || counts[3] != 0 {
		t.Errorf("ReplicateCounts = %v, want 2 for jobs 1 and 2, none for 3", counts)
	}
}
