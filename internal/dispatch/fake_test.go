package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/engine/fake"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/testutil"
)

// fakeEcho is echo.py's contract as a fake run: loss x*x and metric x for
// the job's "x", exit with its "exitCode".
func fakeEcho(ctx context.Context, spec run.Spec, stdout, stderr io.Writer) int {
	var job struct {
		X        float64 `json:"x"`
		ExitCode int     `json:"exitCode"`
	}
	if err := json.Unmarshal(spec.Input.Data, &job); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, `{"status":200,"loss":%g,"metric":%g}`+"\n", job.X*job.X, job.X)
	return job.ExitCode
}

// fakeOptions dispatches to one fake engine per host.
func fakeOptions(t *testing.T, engines map[string]*fake.Engine, slots int) dispatch.Options {
	opts := localOptions(t, slots)
	opts.Hosts = nil
	for name := range engines {
		h := hosts.LocalHost(slots, python, t.TempDir())
		h.Name = name
		opts.Hosts = append(opts.Hosts, h)
	}
	opts.Connect = func(_ context.Context, h hosts.Host, _ engine.Options) (engine.Engine, error) {
		return engines[h.Name], nil
	}
	return opts
}

// TestFakeEngineRunsTheQueue runs the queue on two hosts that start no
// process: every run goes through the engine interface alone.
func TestFakeEngineRunsTheQueue(t *testing.T) {
	d := testutil.MustOpenDB(t)
	var specs []string
	for i := range 6 {
		specs = append(specs, fmt.Sprintf(`{"projectName":"p","scriptName":"echo.py","x":%d}`, i))
	}
	specs = append(specs, `{"projectName":"p","scriptName":"echo.py","x":1,"exitCode":3}`)
	submit(t, d, specs...)
	engines := map[string]*fake.Engine{"a": fake.New("a", fakeEcho), "b": fake.New("b", fakeEcho)}
	sum, err := dispatch.Run(context.Background(), d, fakeOptions(t, engines, 2))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Succeeded != 6 || sum.Failed != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if n := len(engines["a"].Runs()) + len(engines["b"].Runs()); n != 7 {
		t.Errorf("%d runs on the engines, want 7", n)
	}
	rows, err := d.Outcomes(context.Background(), db.OutcomeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.JobID == 7 {
			if r.Succeeded || r.ExitCode == nil || *r.ExitCode != 3 {
				t.Errorf("job 7: %+v", r.Outcome)
			}
			continue
		}
		x := float64(r.JobID - 1)
		if !r.Succeeded || r.Loss == nil || *r.Loss != x*x {
			t.Errorf("job %d: succeeded %v loss %v error %q", r.JobID, r.Succeeded, r.Loss, r.Error)
		}
	}
}

// TestEngineVerdictOnTheResult: an engine's word that its infrastructure
// ended a run releases the attempt (a new one runs), and its reason for
// another end fails the outcome with that reason, whatever the exit code.
func TestEngineVerdictOnTheResult(t *testing.T) {
	d := testutil.MustOpenDB(t)
	submit(t, d, `{"projectName":"p","scriptName":"echo.py","x":2}`, `{"projectName":"p","scriptName":"echo.py","x":3}`)
	e := fake.New("h", fakeEcho)
	var mu sync.Mutex
	seen := map[string]int{}
	e.Verdict = func(spec run.Spec) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		job := string(spec.Input.Data)
		seen[job]++
		switch {
		case strings.Contains(job, `"x":2`) && seen[job] == 1:
			return "the node failed", true
		case strings.Contains(job, `"x":3`):
			return "out of memory: the scheduler killed it", false
		}
		return "", false
	}
	sum, err := dispatch.Run(context.Background(), d, fakeOptions(t, map[string]*fake.Engine{"h": e}, 1))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Succeeded != 1 || sum.Failed != 1 || sum.Requeued != 1 {
		t.Fatalf("summary %+v, want 1 succeeded, 1 failed, 1 requeued", sum)
	}
	atts, err := d.Attempts(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 2 || !strings.Contains(atts[0].Error, "the node failed") || atts[1].State != db.StateSucceeded {
		t.Errorf("order 1's attempts: %+v", atts)
	}
	rows, err := d.Outcomes(context.Background(), db.OutcomeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.JobID == 2 && (r.Succeeded || r.Error != "out of memory: the scheduler killed it") {
			t.Errorf("job 2: succeeded %v error %q", r.Succeeded, r.Error)
		}
	}
}

// TestRefusedHostGetsNoOrderBack: orders a host refuses before they start
// go back to the queue once, and to the other host; none is claimed again
// for the refusing host while the dispatcher has yet to mark it refused
// (a refused sbatch once ran every order of its array twice that way).
func TestRefusedHostGetsNoOrderBack(t *testing.T) {
	d := testutil.MustOpenDB(t)
	var specs []string
	for i := range 40 {
		specs = append(specs, fmt.Sprintf(`{"projectName":"p","scriptName":"echo.py","x":%d}`, i))
	}
	submit(t, d, specs...)
	bad := fake.New("bad", fakeEcho)
	bad.SetDown(engine.Mark("bad: the scheduler refused the submission", engine.ErrRefused))
	const slots = 4
	opts := fakeOptions(t, map[string]*fake.Engine{"bad": bad, "good": fake.New("good", fakeEcho)}, slots)
	sum, err := dispatch.Run(context.Background(), d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Succeeded != 40 {
		t.Errorf("summary %+v, want all 40 succeeded on the good host", sum)
	}
	onBad := 0
	for id := int64(1); id <= 40; id++ {
		atts, err := d.Attempts(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range atts {
			if a.Host == "bad" {
				onBad++
			}
		}
		if len(atts) > 2 {
			t.Errorf("order %d: %d attempts %+v, want at most one on the refusing host and one that ran", id, len(atts), atts)
		}
	}
	if onBad > slots {
		t.Errorf("%d attempts on the refusing host, want at most its %d slots (claimed before it refused)", onBad, slots)
	}
}

// TestProgressStoredBeforeTheOutcome: a run's progress lines, printed
// around its outcome with a malformed one among them, are all stored by
// the time its outcome is, the malformed one counted with its reason.
func TestProgressStoredBeforeTheOutcome(t *testing.T) {
	d := testutil.MustOpenDB(t)
	submit(t, d, `{"projectName":"p","scriptName":"echo.py","x":2}`)
	e := fake.New("h", func(ctx context.Context, spec run.Spec, stdout, stderr io.Writer) int {
		for i := range 30 {
			fmt.Fprintf(stdout, `{"step":%d,"series":"fold%d","loss":%d}`+"\n", i/2, i%2+1, 100-i)
			fmt.Fprintln(stdout, "epoch", i)
		}
		fmt.Fprintln(stdout, `{"step":3,"series":"fold1","loss":1}`) // backwards
		fmt.Fprintln(stdout, `{"status":200,"loss":4}`)
		fmt.Fprint(stdout, `{"step":20,"series":"fold1","loss":0}`) // after the outcome, no newline
		return 0
	})
	opts := fakeOptions(t, map[string]*fake.Engine{"h": e}, 1)
	var pts []db.MetricPoint
	opts.BeforeRecord = func(order int64) {
		var err error
		pts, err = d.Metrics(context.Background(), db.MetricFilter{OrderID: order, Attempt: 1})
		if err != nil {
			t.Error(err)
		}
	}
	sum, err := dispatch.Run(context.Background(), d, opts)
	if err != nil || sum.Succeeded != 1 {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	if len(pts) != 31 {
		t.Fatalf("%d points stored when the outcome was recorded, want 31: %+v", len(pts), pts)
	}
	last := pts[15] // fold1 sorts first: 15 points, then step 20
	if last.Series != "fold1" || last.Step != 20 || last.Value != 0 {
		t.Errorf("fold1's last point %+v", last)
	}
	sums, err := d.ProgressSummaries(context.Background(), []int64{1})
	if err != nil || len(sums) != 1 {
		t.Fatalf("summaries %+v, %v", sums, err)
	}
	if s := sums[0]; s.Lines != 31 || s.Points != 31 || s.Skipped[pyexec.SkipBackwards] != 1 || len(s.Skipped) != 1 {
		t.Errorf("summary %+v", s)
	}
	rows, _ := d.Outcomes(context.Background(), db.OutcomeFilter{})
	if len(rows) != 1 || rows[0].Loss == nil || *rows[0].Loss != 4 {
		t.Errorf("outcome %+v: want loss 4, the progress lines not taken for it", rows)
	}
}

// TestEventsCarryTheJob: a run's events say its project, sweep and
// objective; its progress is reported with the last line taken, and its
// outcome with its value of the objective (nil without one).
func TestEventsCarryTheJob(t *testing.T) {
	d := testutil.MustOpenDB(t)
	acc := objective.Objective{Name: "acc", Goal: objective.Maximize}
	var jobs []db.NewJob
	for _, x := range []int{3, 5} {
		jobs = append(jobs, db.NewJob{Project: "p", Script: "echo.py", Objective: acc,
			Spec: fmt.Appendf(nil, `{"projectName":"p","scriptName":"echo.py","x":%d}`, x)})
	}
	if _, err := d.Submit(context.Background(), jobs, db.SubmitOptions{Sweep: &db.NewSweep{Name: "wide", Definition: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	e := fake.New("h", func(ctx context.Context, spec run.Spec, stdout, stderr io.Writer) int {
		var job struct{ X int }
		_ = json.Unmarshal(spec.Input.Data, &job)
		fmt.Fprintf(stdout, `{"step":1,"series":"fold1","loss":9,"valAcc":0.5}`+"\n")
		fmt.Fprintf(stdout, `{"step":2,"series":"fold2","loss":8,"acc":0.%d}`+"\n", job.X)
		fmt.Fprintf(stdout, `{"step":1,"series":"fold2","loss":0}`+"\n") // backwards: not taken
		if job.X == 5 {
			fmt.Fprintln(stdout, `{"status":200,"loss":1}`) // no acc
		} else {
			fmt.Fprintf(stdout, `{"status":200,"acc":0.%d}`+"\n", job.X)
		}
		return 0
	})
	opts := fakeOptions(t, map[string]*fake.Engine{"h": e}, 1)
	var events []dispatch.Event
	opts.Observe = func(e dispatch.Event) { events = append(events, e) } // one at a time (observe)
	if sum, err := dispatch.Run(context.Background(), d, opts); err != nil || sum.Succeeded != 2 {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	kinds := map[dispatch.EventKind]int{}
	lastProgress := map[int64]dispatch.Event{} // by job
	for _, ev := range events {
		switch ev.Kind {
		case dispatch.OrderClaimed, dispatch.OrderProgress, dispatch.OrderSucceeded:
		default:
			continue
		}
		kinds[ev.Kind]++
		if ev.Project != "p" || ev.Sweep != "wide" || ev.Objective != acc {
			t.Errorf("%s of order %d: project %q sweep %q objective %v; want p, wide, acc:max", ev.Kind, ev.Order, ev.Project, ev.Sweep, ev.Objective)
		}
		x := 3 + 2*(ev.Job-1)
		switch ev.Kind {
		case dispatch.OrderProgress:
			lastProgress[ev.Job] = ev
		case dispatch.OrderSucceeded:
			if x == 3 && (ev.Value == nil || *ev.Value != 0.3) || x == 5 && ev.Value != nil {
				t.Errorf("job %d succeeded with value %v; want 0.3 for job 1, none for job 2", ev.Job, ev.Value)
			}
		}
	}
	if kinds[dispatch.OrderClaimed] != 2 || kinds[dispatch.OrderSucceeded] != 2 || len(lastProgress) != 2 {
		t.Errorf("events %v, progress of jobs %v; want 2 claims, 2 successes and progress of both jobs", kinds, lastProgress)
	}
	for job, ev := range lastProgress {
		want := []pyexec.Metric{{Name: "acc", Value: float64(3+2*(job-1)) / 10}, {Name: "loss", Value: 8}}
		if ev.Step != 2 || ev.Series != "fold2" || !slices.Equal(ev.Metrics, want) {
			t.Errorf("last progress of job %d: step %g series %q metrics %v; want fold2's step 2 with %v", job, ev.Step, ev.Series, ev.Metrics, want)
		}
	}
}
