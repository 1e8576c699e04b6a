package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/prune"
	"github.com/mljob/mljob/internal/render"
	"github.com/mljob/mljob/internal/testutil"
)

// slurmSeedTime is the clock of every write mustSeedSlurm makes.
var slurmSeedTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// mustSeedSlurm makes a database file and returns its path. Job 1 (project
// wine) lost its first attempt on host entry campus and runs its second
// there; job 2 (wine) waits on campus; job 3 (iris) runs over SSH on gpu1.
// With slurm, the campus attempts went to Slurm: job 1's first as task
// 12345_0, last seen NODE_FAIL, its second as 12346_0, RUNNING; job 2's as
// 12346_1, not seen yet. Without, the same history has no Slurm task.
// Job 4 (iris, objective valLoss:min, pruner asha) ran on gpu1 until its
// pruner stopped it at rung 2, its outcome recorded.
func mustSeedSlurm(tb testing.TB, slurm bool) string {
	tb.Helper()
	ctx := context.Background()
	store := testutil.MustOpenDB(tb)
	path := store.Path()
	defer store.Close()
	store.Now = func() time.Time { return slurmSeedTime }
	if _, err := store.SubmitJobs(ctx, []db.NewJob{
		{Project: "wine", Script: "nn.py", Spec: []byte(`{"projectName":"wine","scriptName":"nn.py","lr":0.1}`)},
		{Project: "wine", Script: "nn.py", Spec: []byte(`{"projectName":"wine","scriptName":"nn.py","lr":0.01}`)},
		{Project: "iris", Script: "nn.py", Spec: []byte(`{"projectName":"iris","scriptName":"nn.py"}`)},
		{Project: "iris", Script: "nn.py", Spec: []byte(`{"projectName":"iris","scriptName":"nn.py","lr":0.5}`),
			Objective: objective.Objective{Name: "valLoss", Goal: objective.Minimize},
			Pruner:    prune.Rule{Kind: prune.KindASHA, MinStep: 1, Reduction: 3}},
	}); err != nil {
		tb.Fatal(err)
	}
	// run claims the next order on host and starts it, in Slurm as task
	// when slurm is set and task is not nil.
	run := func(host string, pid int, task *db.SlurmTask) *db.Claim {
		tb.Helper()
		c, err := store.ClaimOrder(ctx, host, "0", "d1")
		if err != nil || c == nil {
			tb.Fatalf("claim on %s: %v, %v", host, c, err)
		}
		if err := store.MarkRunning(ctx, c.Order.ID, c.Order.Attempt, "/work/runs/q-"+host, pid); err != nil {
			tb.Fatal(err)
		}
		if slurm && task != nil {
			if err := store.MarkSlurm(ctx, c.Order.ID, c.Order.Attempt, *task); err != nil {
				tb.Fatal(err)
			}
		}
		return c
	}
	setStates := func(changes ...db.SlurmStateChange) {
		tb.Helper()
		if !slurm {
			return
		}
		if err := store.SetSlurmStates(ctx, changes); err != nil {
			tb.Fatal(err)
		}
	}

	first := run("campus", 0, &db.SlurmTask{JobID: 12345, ArrayIndex: 0, State: "PENDING"})
	setStates(db.SlurmStateChange{OrderID: first.Order.ID, Attempt: 1, State: "NODE_FAIL"})
	if err := store.ReleaseOrder(ctx, first.Order.ID, 1, "node lost"); err != nil {
		tb.Fatal(err)
	}
	second := run("campus", 0, &db.SlurmTask{JobID: 12346, ArrayIndex: 0})
	run("campus", 0, &db.SlurmTask{JobID: 12346, ArrayIndex: 1})
	setStates(db.SlurmStateChange{OrderID: second.Order.ID, Attempt: 2, State: "RUNNING"})
	run("gpu1", 4242, nil)
	mustPrune(tb, store, run("gpu1", 4343, nil))
	return path
}

// mustPrune has c's pruner stop it at step 9, rung 2, ranked 5 of 7, and
// records its outcome as the dispatcher does: failed, with the verdict.
func mustPrune(tb testing.TB, store *db.DB, c *db.Claim) {
	tb.Helper()
	ctx := context.Background()
	reason := "pruned at step 9 (rung 2): valLoss 0.53 ranked 5 of 7, the cutoff was 0.41 (asha:minStep=1,reduction=3,minEarlyStoppingRate=0)"
	if ok, err := store.Prune(ctx, db.Pruning{OrderID: c.Order.ID, Attempt: c.Order.Attempt, Series: "fold0",
		Decision: prune.Decision{Prune: true, Rung: 2, Step: 9, Value: 0.53, Cutoff: 0.41, Rank: 5, Of: 7},
		Reason:   reason}); !ok || err != nil {
		tb.Fatalf("prune order %d: %v, %v", c.Order.ID, ok, err)
	}
	if _, err := store.RecordOutcome(ctx, db.Outcome{OrderID: c.Order.ID, Attempt: c.Order.Attempt,
		ExitCode: ptrTo(-1), DurationSeconds: 42, Error: reason}); err != nil {
		tb.Fatal(err)
	}
}

// checkGolden compares got with testdata/<name>, which -update rewrites.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n--- want\n%s--- got\n%s", golden, want, got)
	}
}

// TestShowGolden pins show's forms of a job whose attempts went to Slurm,
// and of jobs without (run with -update to rewrite testdata/show/, then
// review the diff). Jobs without a Slurm task print as before Slurm.
func TestShowGolden(t *testing.T) {
	tests := []struct {
		name  string
		slurm bool
		jobID int64
	}{
		{name: "slurm-1", slurm: true, jobID: 1},
		{name: "slurm-2", slurm: true, jobID: 2}, // the task not seen yet
		{name: "slurm-3", slurm: true, jobID: 3},
		{name: "plain-1", slurm: false, jobID: 1},
		{name: "pruned-4", slurm: false, jobID: 4},
	}
	paths := map[bool]string{true: mustSeedSlurm(t, true), false: mustSeedSlurm(t, false)}
	for _, tt := range tests {
		for _, format := range render.Formats {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				var out, errOut bytes.Buffer
				opts := &showOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}, dbPath: paths[tt.slurm]},
					jobID: tt.jobID, output: format}
				if err := runShow(context.Background(), opts); err != nil {
					t.Fatal(err)
				}
				if errOut.Len() != 0 {
					t.Errorf("stderr = %q, want nothing", errOut.String())
				}
				checkGolden(t, filepath.Join("show", tt.name+"."+format), out.Bytes())
			})
		}
	}
}
