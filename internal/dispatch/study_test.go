package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/engine/fake"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/prune"
	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sweep"
	"github.com/mljob/mljob/internal/testutil"
	"github.com/mljob/mljob/internal/tpe"
)

// quadratic is the objective the fake trials compute: its minimum 0 is at
// x = 0.3, y = -0.2.
func quadratic(x, y float64) float64 { return (x-0.3)*(x-0.3) + (y+0.2)*(y+0.2) }

// fakeQuadratic prints the quadratic of the job's x and y as its loss.
func fakeQuadratic(ctx context.Context, spec run.Spec, stdout, stderr io.Writer) int {
	var job struct{ X, Y float64 }
	if err := json.Unmarshal(spec.Input.Data, &job); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, `{"status":200,"loss":%g}`+"\n", quadratic(job.X, job.Y))
	return 0
}

// submitStudy registers a tpe sweep of budget trials over x and y.
func submitStudy(t *testing.T, d *db.DB, budget, parallel int, seed uint64) int64 {
	t.Helper()
	f, err := sweep.ParseFile(fmt.Appendf(nil, "method: tpe\ntrials: %d\nseed: %d\nspace: {x: lin:-1:1, y: lin:-1:1}\n", budget, seed))
	if err != nil {
		t.Fatal(err)
	}
	space, err := f.Spec.SpaceJSON()
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Submit(context.Background(), nil, db.SubmitOptions{
		Sweep: &db.NewSweep{Name: "quad", Project: "p", Definition: []byte(`{"method":"tpe"}`)},
		Study: &db.NewStudy{Method: "tpe", Budget: budget, Parallel: parallel, Seed: seed, Space: space,
			Base: db.NewJob{Project: "p", Script: "echo.py", Spec: []byte(`{"projectName":"p","scriptName":"echo.py","x":0,"y":0}`),
				Objective: objective.Default}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Sweep.ID
}

// trialSpecs returns each trial's job spec, by trial number.
func trialSpecs(t *testing.T, d *db.DB, sweepID int64) []string {
	t.Helper()
	trials, next, err := d.StudyTrials(context.Background(), sweepID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) != next {
		t.Fatalf("%d trials, next number %d: numbers are not dense", len(trials), next)
	}
	out := make([]string, len(trials))
	for i, tr := range trials {
		if tr.Number != i {
			t.Fatalf("trial %d has number %d", i, tr.Number)
		}
		out[i] = fmt.Sprint(tr.Params)
	}
	return out
}

// TestTPESweepRunsItsBudget: a tpe sweep on two hosts of three slots runs
// exactly its budget, never more than parallel at once, every trial
// numbered once, and the search ends better than its random start.
func TestTPESweepRunsItsBudget(t *testing.T) {
	const budget, parallel = 30, 2
	d := testutil.MustOpenDB(t)
	id := submitStudy(t, d, budget, parallel, 11)
	var mu sync.Mutex
	running, most, started := 0, 0, 0
	pair := sync.NewCond(&mu)
	// Each run waits until a second one runs beside it (or it is the last):
	// the slots free meanwhile are where a dispatcher that ignored
	// parallel would start a third.
	do := func(ctx context.Context, spec run.Spec, stdout, stderr io.Writer) int {
		mu.Lock()
		running++
		started++
		most = max(most, running)
		pair.Broadcast()
		for running < parallel && started < budget && ctx.Err() == nil {
			pair.Wait()
		}
		mu.Unlock()
		code := fakeQuadratic(ctx, spec, stdout, stderr)
		mu.Lock()
		running--
		mu.Unlock()
		return code
	}
	engines := map[string]*fake.Engine{"a": fake.New("a", do), "b": fake.New("b", do)}
	sum, err := dispatch.Run(context.Background(), d, fakeOptions(t, engines, 3))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Succeeded != budget || sum.Failed != 0 {
		t.Fatalf("summary %+v, want %d succeeded", sum, budget)
	}
	if n := len(engines["a"].Runs()) + len(engines["b"].Runs()); n != budget {
		t.Errorf("%d runs, want %d", n, budget)
	}
	if most != parallel {
		t.Errorf("at most %d runs at once, want %d (parallel)", most, parallel)
	}
	specs := trialSpecs(t, d, id)
	if len(specs) != budget {
		t.Fatalf("%d trials, want %d", len(specs), budget)
	}
	trials, _, err := d.StudyTrials(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var startup []float64
	best := trials[0].Value
	for _, tr := range trials {
		if tr.Number < 10 {
			startup = append(startup, tr.Value)
		}
		best = min(best, tr.Value)
	}
	slices.Sort(startup)
	if med := (startup[4] + startup[5]) / 2; best >= med {
		t.Errorf("best %g is no better than the median %g of the 10 random startup trials", best, med)
	}
}

// keepOpen is a fake engine that a dispatcher's Close leaves open.
type keepOpen struct{ *fake.Engine }

func (keepOpen) Close() error { return nil }

// TestTPESweepResumes: one slot, parallel 1, so each trial is proposed once
// the one before is recorded: the same seed gives the same trials, and a
// dispatch stopped after a few trials and started again proposes exactly
// what an unbroken one does.
func TestTPESweepResumes(t *testing.T) {
	const budget = 18
	whole := func() []string {
		d := testutil.MustOpenDB(t)
		id := submitStudy(t, d, budget, 1, 5)
		sum, err := dispatch.Run(context.Background(), d, fakeOptions(t, map[string]*fake.Engine{"h": fake.New("h", fakeQuadratic)}, 1))
		if err != nil || sum.Succeeded != budget {
			t.Fatalf("summary %+v, %v", sum, err)
		}
		return trialSpecs(t, d, id)
	}
	want := whole()
	if again := whole(); !slices.Equal(again, want) {
		t.Fatalf("same seed, same order, other trials:\n%v\n%v", again, want)
	}

	d := testutil.MustOpenDB(t)
	id := submitStudy(t, d, budget, 1, 5)
	e := fake.New("h", fakeQuadratic)
	ctx, cancel := context.WithCancel(context.Background())
	opts := fakeOptions(t, map[string]*fake.Engine{"h": e}, 1)
	// The host outlives the first dispatcher, as a real one does: a run it
	// left going is there for the second to adopt.
	opts.Connect = func(context.Context, hosts.Host, engine.Options) (engine.Engine, error) { return keepOpen{e}, nil }
	var mu sync.Mutex
	done := 0
	opts.Observe = func(ev dispatch.Event) {
		if ev.Kind == dispatch.OrderSucceeded {
			mu.Lock()
			if done++; done == 7 {
				cancel()
			}
			mu.Unlock()
		}
	}
	if _, err := dispatch.Run(ctx, d, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped dispatch: %v, want context.Canceled", err)
	}
	cancel()
	if got := trialSpecs(t, d, id); len(got) >= budget || len(got) < 7 {
		t.Fatalf("%d trials after the stop, want 7 to %d", len(got), budget-1)
	}
	opts.Observe = nil
	if _, err := dispatch.Run(context.Background(), d, opts); err != nil {
		t.Fatal(err)
	}
	got := trialSpecs(t, d, id)
	if !slices.Equal(got, want) {
		t.Errorf("resumed sweep's trials differ from an unbroken one's:\n%v\n%v", got, want)
	}
	rows, err := d.Outcomes(context.Background(), db.OutcomeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != budget {
		t.Errorf("%d outcomes, want %d", len(rows), budget)
	}
}

// TestTPESweepPrunedTrials: a tpe sweep with asha on one slot, one trial
// at a time. Trial 0 reaches step 1 at loss 1 and succeeds; trial 1 is
// worse at step 1 (5) and waits: asha prunes it there; trial 2 fails; the
// rest succeed. The sampler is handed trial 1 as Pruned with its value at
// its step and trial 2 as Failed, and its proposal is the same without
// trial 2: a failed trial is left out.
func TestTPESweepPrunedTrials(t *testing.T) {
	const budget = 5
	ctx := context.Background()
	d := testutil.MustOpenDB(t)
	f, err := sweep.ParseFile([]byte("method: tpe\ntrials: 5\nseed: 3\nspace: {x: lin:-1:1, y: lin:-1:1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	space, err := f.Spec.SpaceJSON()
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Submit(ctx, nil, db.SubmitOptions{
		Sweep: &db.NewSweep{Name: "pruned", Project: "p", Definition: []byte(`{"method":"tpe"}`)},
		Study: &db.NewStudy{Method: "tpe", Budget: budget, Parallel: 1, Seed: 3, Space: space,
			Base: db.NewJob{Project: "p", Script: "echo.py", Spec: []byte(`{"projectName":"p","scriptName":"echo.py","x":0,"y":0}`),
				Objective: objective.Default, Pruner: prune.Rule{Kind: prune.KindASHA, MinStep: 1, Reduction: 2}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	do := func(ctx context.Context, spec run.Spec, stdout, stderr io.Writer) int {
		mu.Lock()
		n := calls // one slot, parallel 1: the call's index is the trial number
		calls++
		mu.Unlock()
		switch n {
		case 1:
			fmt.Fprintln(stdout, `{"step": 1, "loss": 5}`)
			<-ctx.Done() // until its pruner stops it
			return 1
		case 2:
			fmt.Fprintln(stderr, "boom")
			return 1
		}
		// Each later run is the best so far at step 1, so asha keeps it
		// even if it judges it after the run ends.
		v := 1 / float64(n+1)
		fmt.Fprintf(stdout, `{"step": 1, "loss": %g}`+"\n", v)
		fmt.Fprintf(stdout, `{"status": 200, "loss": %g}`+"\n", v)
		return 0
	}
	var seen [][]tpe.Trial // what the sampler was given, by trial number
	opts := fakeOptions(t, map[string]*fake.Engine{"a": fake.New("a", do)}, 1)
	opts.Propose = func(st db.Study, number int, trials []tpe.Trial) (db.Proposal, error) {
		seen = append(seen, slices.Clone(trials)) // one goroutine: the loop
		return dispatch.ProposeTrial(st, number, trials)
	}
	sum, err := dispatch.Run(ctx, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Succeeded != 3 || sum.Pruned != 1 || sum.Failed != 1 {
		t.Fatalf("summary %+v, want 3 succeeded, 1 pruned, 1 failed", sum)
	}
	if len(seen) != budget {
		t.Fatalf("%d proposals, want %d", len(seen), budget)
	}
	last := seen[budget-1]
	if len(last) != budget-1 {
		t.Fatalf("the last proposal was given %d trials, want %d", len(last), budget-1)
	}
	if tr := last[1]; tr.State != tpe.Pruned || tr.Value != 5 || tr.Step != 1 {
		t.Errorf("pruned trial as the sampler saw it: %+v, want Pruned, value 5 at step 1", tr)
	}
	if tr := last[2]; tr.State != tpe.Failed {
		t.Errorf("failed trial as the sampler saw it: %+v, want Failed", tr)
	}
	if tr := last[0]; tr.State != tpe.Complete || tr.Value != 1 {
		t.Errorf("trial 0 as the sampler saw it: %+v, want Complete 1", tr)
	}
	sts, err := d.Studies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	withFailed, err := dispatch.ProposeTrial(sts[0], budget-1, last)
	if err != nil {
		t.Fatal(err)
	}
	without, err := dispatch.ProposeTrial(sts[0], budget-1, slices.Delete(slices.Clone(last), 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(withFailed.Params, without.Params) {
		t.Errorf("proposal %v with the failed trial, %v without: it was not left out", withFailed.Params, without.Params)
	}
}

// TestProposeTrialConstantLiar: two studies alike but for constantLiar,
// read back from the queue, propose different trials from one history
// with trials in flight, and the same trial from one without: the study's
// stored setting is what ProposeTrial's sampler uses.
func TestProposeTrialConstantLiar(t *testing.T) {
	d := testutil.MustOpenDB(t)
	ids := map[bool]int64{}
	for _, liar := range []bool{true, false} {
		file := fmt.Appendf(nil, "method: tpe\ntrials: 40\nseed: 3\nconstantLiar: %v\nspace: {x: lin:-1:1, y: lin:-1:1}\n", liar)
		f, err := sweep.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		space, err := f.Spec.SpaceJSON()
		if err != nil {
			t.Fatal(err)
		}
		res, err := d.Submit(context.Background(), nil, db.SubmitOptions{
			Sweep: &db.NewSweep{Name: fmt.Sprintf("quad-%v", liar), Project: "p", Definition: []byte(`{"method":"tpe"}`)},
			Study: &db.NewStudy{Method: "tpe", Budget: 40, ConstantLiar: f.Spec.ConstantLiar, Seed: f.Spec.Seed, Space: space,
				Base: db.NewJob{Project: "p", Script: "echo.py", Spec: []byte(`{"projectName":"p","scriptName":"echo.py","x":0,"y":0}`),
					Objective: objective.Default}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids[liar] = res.Sweep.ID
	}
	sts, err := d.Studies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	studies := map[bool]db.Study{}
	for _, st := range sts {
		studies[st.SweepID == ids[true]] = st
	}
	if len(studies) != 2 || !studies[true].ConstantLiar || studies[false].ConstantLiar {
		t.Fatalf("studies read back %+v, want one with the liar and one without", sts)
	}
	// history is 20 trials at points of a fixed pseudo-random walk, each
	// with its quadratic; with running, every third is still in flight.
	history := func(running bool) []tpe.Trial {
		var trials []tpe.Trial
		for i := range 20 {
			// Round to the digits a trial's job keeps (Spec.Trial).
			x := math.Round((2*math.Mod(0.618*float64(i+1), 1)-1)*1e4) / 1e4
			y := math.Round((2*math.Mod(0.414*float64(i+1), 1)-1)*1e4) / 1e4
			tr := tpe.Trial{Number: i, Params: []float64{x, y}, State: tpe.Complete, Value: quadratic(x, y)}
			if running && i%3 == 1 {
				tr.State, tr.Value = tpe.Running, 0
			}
			trials = append(trials, tr)
		}
		return trials
	}
	propose := func(liar bool, trials []tpe.Trial) string {
		p, err := dispatch.ProposeTrial(studies[liar], len(trials), trials)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%s %v", p.Spec, p.Params)
	}
	if on, off := propose(true, history(true)), propose(false, history(true)); on == off {
		t.Errorf("with trials in flight, liar on and off both propose %s", on)
	}
	if on, off := propose(true, history(false)), propose(false, history(false)); on != off {
		t.Errorf("with no trial in flight, liar on proposes %s, off %s", on, off)
	}
}
