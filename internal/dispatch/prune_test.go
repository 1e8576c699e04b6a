package dispatch_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/prune"
	"github.com/mljob/mljob/internal/testutil"
)

// curveScript prints valLoss = v·(1 + 1/step) for steps 1..steps, waits
// hold seconds, then prints its Outcome.
const curveScript = `import json, sys, time
job = json.loads(sys.argv[1])
for step in range(1, job["steps"] + 1):
    print(json.dumps({"step": step, "valLoss": job["v"] * (1 + 1 / step)}), flush=True)
time.sleep(job.get("hold", 0))
print(json.dumps({"valLoss": job["v"], "loss": job["v"]}), flush=True)
`

// TestPruneStopsTheLosingRun: one slot runs three jobs of a study in turn,
// under each rule. The second is worse than the first at step 1 and then
// waits a minute before its outcome: it is pruned there, killed, and
// recorded pruned with its verdict; the others succeed.
func TestPruneStopsTheLosingRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs python processes for a few seconds")
	}
	tests := []struct {
		name   string
		obj    string // the objective's name: the curves print only valLoss
		rule   prune.Rule
		want   db.PruneRecord // the verdict's rung, step, value, cutoff, rank and of
		reason string         // the start of its outcome's error
	}{
		// At step 1 its valLoss 4 ranked 2 of 2 against the first run's 2.
		{"asha", "valLoss", prune.Rule{Kind: prune.KindASHA, MinStep: 1, Reduction: 2},
			db.PruneRecord{Rung: 0, Step: 1, Value: 4, Cutoff: 2, Rank: 2, Of: 2},
			"pruned at step 1 (rung 0): valLoss 4 ranked 2 of 2, the cutoff was 2"},
		// Its best so far, 4, against the median of the one finished run.
		{"median", "valLoss", prune.Rule{Kind: prune.KindMedian, StartupRuns: 1},
			db.PruneRecord{Rung: -1, Step: 1, Value: 4, Cutoff: 2, Of: 1},
			"pruned at step 1: best valLoss 4 is worse than the median 2 of 1 finished runs"},
		// Ranked by loss, which only the Outcome line holds: judged on the
		// valLoss the rule's metric names.
		{"asha on a metric", "loss", prune.Rule{Kind: prune.KindASHA, MinStep: 1, Reduction: 2, Metric: "valLoss"},
			db.PruneRecord{Rung: 0, Step: 1, Value: 4, Cutoff: 2, Rank: 2, Of: 2},
			"pruned at step 1 (rung 0): valLoss 4 ranked 2 of 2, the cutoff was 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkPruneRun(t, tt.obj, tt.rule, tt.want, tt.reason) })
	}
}

func checkPruneRun(t *testing.T, obj string, rule prune.Rule, want db.PruneRecord, reason string) {
	ctx := context.Background()
	d := testutil.MustOpenDB(t)
	opts := localOptions(t, 1)
	opts.ScriptsDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(opts.ScriptsDir, "curve.py"), []byte(curveScript), 0o644); err != nil {
		t.Fatal(err)
	}
	var jobs []db.NewJob
	for _, spec := range []string{`{"v": 1, "steps": 6}`, `{"v": 2, "steps": 6, "hold": 60}`, `{"v": 0.5, "steps": 6}`} {
		jobs = append(jobs, db.NewJob{Project: "p", Script: "curve.py", Spec: []byte(spec),
			Objective: objective.Objective{Name: obj, Goal: objective.Minimize}, Pruner: rule})
	}
	subs, err := d.SubmitJobs(ctx, jobs)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var pruned []dispatch.Event
	opts.Observe = func(e dispatch.Event) {
		if e.Kind == dispatch.OrderPruned {
			mu.Lock()
			pruned = append(pruned, e)
			mu.Unlock()
		}
	}
	var log testutil.SyncBuffer
	opts.Log = &log
	sum, err := dispatch.Run(ctx, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Succeeded != 2 || sum.Pruned != 1 || sum.Failed != 0 {
		t.Fatalf("summary %+v\n%s", sum, log.String())
	}
	for i, want := range []db.OrderState{db.StateSucceeded, db.StatePruned, db.StateSucceeded} {
		orders, err := d.OrdersForJob(ctx, subs[i].JobID)
		if err != nil || len(orders) != 1 || orders[0].State != want {
			t.Fatalf("job %d: %+v, %v; want %s", subs[i].JobID, orders, err, want)
		}
	}
	recs, err := d.Prunes(ctx, subs[1].OrderID)
	if err != nil || len(recs) != 1 {
		t.Fatalf("Prunes = %+v, %v", recs, err)
	}
	if r := recs[0]; r.Rung != want.Rung || r.Step != want.Step || r.Value != want.Value || r.Cutoff != want.Cutoff ||
		r.Rank != want.Rank || r.Of != want.Of || r.Rule != rule {
		t.Errorf("verdict %+v, want %+v", r, want)
	}
	hist, err := d.JobHistory(ctx, subs[1].JobID)
	if err != nil || len(hist.Outcomes) != 1 || hist.Outcomes[0].Succeeded ||
		!strings.HasPrefix(hist.Outcomes[0].Error, reason) {
		t.Fatalf("pruned run's outcome %+v, %v", hist.Outcomes, err)
	}
	if hist.Outcomes[0].DurationSeconds >= 60 {
		t.Errorf("the pruned run was not stopped: it ran %.1f s", hist.Outcomes[0].DurationSeconds)
	}
	if len(pruned) != 1 || pruned[0].Order != subs[1].OrderID || pruned[0].Value == nil || *pruned[0].Value != 4 || pruned[0].Step != 1 {
		t.Errorf("pruned events %+v", pruned)
	}
}
