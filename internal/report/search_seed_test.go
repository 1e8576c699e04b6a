package report

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/replicate"
	runpkg "github.com/mljob/mljob/internal/run"
)

// searchRun is one trial of the synthetic search: its parameters, its
// score (minimised) and what it cost.
type searchRun struct {
	driver, noise float64
	kind          string
	score         float64
	cpu           float64 // CPU-seconds
	gpus          int
	wall          float64
}

// searchProject is the project of the synthetic search.
const searchProject = "synthetic"

// searchRuns is a search over driver (uniform on 0…1), noise (uniform on
// 0…1) and kind (a, b or c): the score is 100·(driver−0.3)² plus a little
// noise, so driver alone drives it and noise and kind do not. CPU-seconds
// grow with driver, so the cheapest runs are not the best. Drawn from a
// fixed seed: the same runs every time.
func searchRuns(n int) []searchRun {
	rng := rand.New(rand.NewPCG(16, 5))
	kinds := []string{"a", "b", "c"}
	out := make([]searchRun, n)
	for i := range out {
		d, z := rng.Float64(), rng.Float64()
		out[i] = searchRun{driver: d, noise: z, kind: kinds[rng.IntN(3)],
			score: 100*(d-0.3)*(d-0.3) + rng.NormFloat64()*0.2,
			cpu:   10 + 50*d, wall: 5 + 20*d}
	}
	return out
}

// mustSeedSearch submits runs as jobs of searchProject (score:min),
// claims each, and records their outcomes, with their costs, in the order
// order gives (indexes into runs): the order the runs "ended" in. It
// returns the job id of each run.
func mustSeedSearch(tb testing.TB, store *db.DB, runs []searchRun, order []int) []int64 {
	tb.Helper()
	ctx := context.Background()
	obj, err := objective.Parse("score:min")
	if err != nil {
		tb.Fatal(err)
	}
	jobs := make([]db.NewJob, len(runs))
	for i, r := range runs {
		spec, err := json.Marshal(map[string]any{"projectName": searchProject, "scriptName": "train.py",
			"driver": r.driver, "noise": r.noise, "kind": r.kind})
		if err != nil {
			tb.Fatal(err)
		}
		jobs[i] = db.NewJob{Project: searchProject, Script: "train.py", Spec: spec, Objective: obj}
	}
	if _, err := store.SubmitJobs(ctx, jobs); err != nil {
		tb.Fatal(err)
	}
	claims := make([]*db.Claim, len(runs))
	ids := make([]int64, len(runs))
	for i := range runs {
		c, err := store.ClaimOrder(ctx, "worker", "0", "test-dispatcher")
		if err != nil || c == nil {
			tb.Fatalf("claim %d: %v, %v", i, c, err)
		}
		claims[i], ids[i] = c, c.Job.ID
	}
	for _, i := range order {
		r, c := runs[i], claims[i]
		line := fmt.Sprintf(`{"status": 200, "score": %s}`, formatJSONFloat(r.score))
		if _, err := store.RecordOutcome(ctx, db.Outcome{OrderID: c.Order.ID, Attempt: c.Order.Attempt, Host: "worker",
			Succeeded: true, DurationSeconds: r.wall, JSON: []byte(line),
			Cost: &runpkg.Cost{WallSeconds: r.wall, UserSeconds: r.cpu * 0.9, SysSeconds: r.cpu * 0.1, GPUs: r.gpus}}); err != nil {
			tb.Fatal(err)
		}
	}
	return ids
}

func formatJSONFloat(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		panic("not a JSON number")
	}
	b, _ := json.Marshal(f)
	return string(b)
}

// shuffled is 0…n−1 in an order fixed by seed.
func shuffled(n int, seed uint64) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	rand.New(rand.NewPCG(seed, 1)).Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}

// mustSeedReplicates makes one replicate group of the three best runs of
// the seeded search (sources, best first by score) with len(extra[k])
// replicates of source k, records extra[k] as their scores, and returns
// the group as the report shows it (values read back from the queue, as
// mljob report reads them).
func mustSeedReplicates(tb testing.TB, store *db.DB, sources []int64, extra [][]float64) []replicate.GroupView {
	tb.Helper()
	ctx := context.Background()
	obj, _ := objective.Parse("score:min")
	g := db.NewReplicateGroup{Project: searchProject, Objective: obj, Seeds: len(extra[0])}
	for k, src := range sources {
		for s := range extra[k] {
			spec, _ := json.Marshal(map[string]any{"projectName": searchProject, "scriptName": "train.py",
				"replicateOf": src, "seed": s + 1})
			g.Members = append(g.Members, db.NewReplicate{SourceJobID: src, SourceRank: k + 1,
				Job: db.NewJob{Project: searchProject, Script: "train.py", Spec: spec, Objective: obj}})
		}
	}
	if _, _, err := store.CreateReplicates(ctx, g); err != nil {
		tb.Fatal(err)
	}
	for k := range sources {
		for _, v := range extra[k] {
			c, err := store.ClaimOrder(ctx, "worker", "0", "test-dispatcher")
			if err != nil || c == nil {
				tb.Fatalf("claim replicate: %v, %v", c, err)
			}
			if _, err := store.RecordOutcome(ctx, db.Outcome{OrderID: c.Order.ID, Attempt: c.Order.Attempt, Host: "worker",
				Succeeded: true, DurationSeconds: 1, JSON: []byte(fmt.Sprintf(`{"status": 200, "score": %s}`, formatJSONFloat(v)))}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	groups, err := store.ReplicateGroups(ctx, searchProject, 0)
	if err != nil {
		tb.Fatal(err)
	}
	rows, err := store.Outcomes(ctx, db.OutcomeFilter{Project: searchProject, States: []string{db.OutcomeSucceeded}})
	if err != nil {
		tb.Fatal(err)
	}
	values := map[int64]*float64{}
	for _, r := range rows {
		values[r.JobID] = r.ObjectiveValue
	}
	var views []replicate.GroupView
	for _, g := range groups {
		views = append(views, replicate.NewGroupView(g, values))
	}
	return views
}
