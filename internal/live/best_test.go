package live_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/live"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/testutil"
)

var (
	cvMse = objective.Objective{Name: "cvMse", Goal: objective.Minimize}
	acc   = objective.Objective{Name: "acc", Goal: objective.Maximize}
)

// jobEvent is an event of order's run in sweep (of project wine) with
// objective obj, at t0+sec.
func jobEvent(k dispatch.EventKind, order int64, sweep string, obj objective.Objective, sec int) dispatch.Event {
	e := ev(k, order)
	e.Time = t0.Add(time.Duration(sec) * time.Second)
	e.Project, e.Sweep, e.Objective = "wine", sweep, obj
	return e
}

// progressEvent is a progress report of order's run: step of series with
// metrics as name, value pairs.
func progressEvent(order int64, sweep string, obj objective.Objective, sec int, series string, step float64, metrics ...any) dispatch.Event {
	e := jobEvent(dispatch.OrderProgress, order, sweep, obj, sec)
	e.Series, e.Step = series, step
	for i := 0; i < len(metrics); i += 2 {
		e.Metrics = append(e.Metrics, pyexec.Metric{Name: metrics[i].(string), Value: metrics[i+1].(float64)})
	}
	return e
}

// succeeded is order's outcome with value (none when nil).
func succeeded(order int64, sweep string, obj objective.Objective, sec int, value *float64) dispatch.Event {
	e := jobEvent(dispatch.OrderSucceeded, order, sweep, obj, sec)
	e.Value = value
	return e
}

func ptr(v float64) *float64 { return &v }

// seed is the queue's best before the dispatch: acc 0.9 by job 5 in sweep
// wide.
var seed = []db.SweepProgress{
	{Project: "wine", Sweep: "wide", SweepID: 2, Objective: acc, Best: &db.BestOutcome{Value: 0.9, JobID: 5}},
	{Project: "wine", Sweep: "empty", SweepID: 3, Objective: acc},
}

// sweepRun is a dispatch of two sweeps: lr (cvMse:min) whose runs report
// loss and valLoss by fold, then cvMse; and wide (acc:max), seeded with a
// best of 0.9 that its first run does not beat and its second does.
func sweepRun() []dispatch.Event {
	return []dispatch.Event{
		jobEvent(dispatch.OrderClaimed, 1, "lr", cvMse, 0),
		progressEvent(1, "lr", cvMse, 1, "fold1", 0, "loss", 9.5, "valLoss", 10.25),
		progressEvent(1, "lr", cvMse, 2, "fold1", 1, "loss", 8.0, "valLoss", 9.0), // within 30 s: not printed
		progressEvent(1, "lr", cvMse, 40, "fold2", 3, "loss", 7.0, "valLoss", 0.41),
		progressEvent(1, "lr", cvMse, 41, "", 4, "cvMse", 24901.34),
		succeeded(1, "lr", cvMse, 42, ptr(24901.34)),
		jobEvent(dispatch.OrderClaimed, 2, "lr", cvMse, 43),
		succeeded(2, "lr", cvMse, 44, ptr(30000)), // worse: no line
		jobEvent(dispatch.OrderClaimed, 3, "lr", cvMse, 45),
		succeeded(3, "lr", cvMse, 46, nil), // no value: no line
		jobEvent(dispatch.OrderClaimed, 4, "wide", acc, 47),
		succeeded(4, "wide", acc, 48, ptr(0.8)),              // below the seed's 0.9
		progressEvent(5, "wide", acc, 49, "", 7, "acc", 0.5), // adopted: no claim
		succeeded(5, "wide", acc, 50, ptr(0.95)),
	}
}

// TestLinesProgressAndBest: a run's progress prints with the objective
// when its lines carry it, else its first metric, at most every 30 s; a
// group's best prints when a run beats it, by the group's goal, counting
// the queue's best before the dispatch.
func TestLinesProgressAndBest(t *testing.T) {
	var b bytes.Buffer
	l := live.NewLines(&b)
	l.SeedBests(seed)
	for _, e := range sweepRun() {
		l.Observe(e)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if strings.Contains(line, "progress") || strings.Contains(line, "best") {
			got = append(got, line)
		}
	}
	want := []string{
		"2026-11-25T21:03:05Z order 1 progress: fold1 step 0 loss 9.5 (job 101, attempt 1)",
		"2026-11-25T21:03:44Z order 1 progress: fold2 step 3 loss 7 (job 101, attempt 1)",
		"2026-11-25T21:03:46Z best cvMse (lower is better): 24901.3 — job 101 (sweep lr)",
		"2026-11-25T21:03:53Z order 5 progress: step 7 acc 0.5 (job 105, attempt 1)",
		"2026-11-25T21:03:54Z best acc (higher is better): 0.95 — job 105 (sweep wide)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTallyRunsAndBests: the snapshot lists the runs in flight with
// their latest progress (the objective once reported, kept over lines
// without it) and each group's best; a run leaves when it ends.
func TestTallyRunsAndBests(t *testing.T) {
	ta := live.NewTally(t0, []string{"h1"})
	ta.SeedBests(seed)
	evs := sweepRun()
	for _, e := range evs[:5] {
		ta.Observe(e)
	}
	ta.Observe(progressEvent(1, "lr", cvMse, 41, "fold3", 5, "loss", 6.0))
	s := ta.Snapshot()
	wantRun := live.RunSnapshot{Order: 1, Job: 101, Host: "h1", Series: "fold3", Step: 5, Metric: "cvMse", Value: 24901.34}
	if len(s.Runs) != 1 || s.Runs[0] != wantRun {
		t.Errorf("runs %+v, want %+v", s.Runs, wantRun)
	}
	if len(s.Bests) != 1 || s.Bests[0] != (live.Best{Project: "wine", Sweep: "lr", Objective: cvMse}) {
		t.Errorf("bests %+v, want lr with no value yet", s.Bests)
	}
	for _, e := range evs[5:] {
		ta.Observe(e)
	}
	s = ta.Snapshot()
	if len(s.Runs) != 0 {
		t.Errorf("runs %+v after all ended", s.Runs)
	}
	want := []live.Best{
		{Project: "wine", Sweep: "lr", Objective: cvMse, HasValue: true, Value: 24901.34, Job: 101},
		{Project: "wine", Sweep: "wide", Objective: acc, HasValue: true, Value: 0.95, Job: 105},
	}
	if !slices.Equal(s.Bests, want) {
		t.Errorf("bests\n%+v\nwant\n%+v", s.Bests, want)
	}
}

// TestFormatBest: the objective with its direction, the value, the job
// and its group; a group without a value says so.
func TestFormatBest(t *testing.T) {
	tests := []struct {
		b    live.Best
		want string
	}{
		{live.Best{Project: "wine", Sweep: "wine-lr", Objective: cvMse, HasValue: true, Value: 24901.34, Job: 17},
			"best cvMse (lower is better): 24901.3 — job 17 (sweep wine-lr)"},
		{live.Best{Project: "wine", Objective: acc, HasValue: true, Value: 0.5, Job: 3},
			"best acc (higher is better): 0.5 — job 3 (project wine)"},
		{live.Best{Project: "wine", Sweep: "s", Objective: objective.Default},
			"best loss (lower is better): none yet (sweep s)"},
		{live.Best{Project: "wine", Sweep: "t", Objective: objective.Default, Budget: 40},
			"best loss (lower is better): none yet (sweep t, 0/40 trials)"},
		{live.Best{Project: "wine", Sweep: "t", Objective: cvMse, HasValue: true, Value: 3, Job: 9, Budget: 40, Done: 12},
			"best cvMse (lower is better): 3 — job 9 (sweep t, 12/40 trials)"},
	}
	for _, tt := range tests {
		if got := live.FormatBest(tt.b); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

// TestDisplayFinishBest: the summary names each group's best run of this
// dispatch, by its objective, the queue's earlier best counted.
func TestDisplayFinishBest(t *testing.T) {
	var b bytes.Buffer
	d := live.NewDisplay(context.Background(), &b, live.DisplayOptions{Hosts: []string{"h1"}, Start: t0, ProcessStart: t0, Bests: seed})
	for _, e := range sweepRun()[:12] { // wide's run 4 does not beat the seed
		d.Observe(e)
	}
	b.Reset()
	if err := d.Finish(dispatch.Summary{Succeeded: 4}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nbest cvMse (lower is better): 24901.3 — job 101 (sweep lr)\n",
		"\nbest acc (higher is better): 0.9 — job 5 (sweep wide)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary\n%s\nlacks %q", b.String(), want)
		}
	}
	if strings.Contains(b.String(), "empty") {
		t.Errorf("summary\n%s\nnames a sweep the dispatch ran nothing of", b.String())
	}
}

// TestViewShowsRunsAndBests: on a terminal, the lines below the hosts show
// each group's best and each run's latest progress.
func TestViewShowsRunsAndBests(t *testing.T) {
	var b testutil.SyncBuffer
	v := live.NewView(&b, live.ViewOptions{Hosts: []string{"h1"}, Start: t0, ForceTTY: true, Refresh: 10 * time.Millisecond})
	for _, e := range sweepRun()[:7] {
		v.Observe(e)
	}
	v.Observe(progressEvent(2, "lr", cvMse, 43, "fold1", 12, "valLoss", 0.41))
	v.Stop()
	for _, want := range []string{
		"  h1 ",
		"  best cvMse (lower is better): 24901.3 — job 101 (sweep lr)",
		"  job 102 fold1 step 12 valLoss 0.41",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("view lacks %q:\n%q", want, b.String())
		}
	}
}

// TestTallyPruned: a pruned run is counted apart from failures (no
// Failure listed), is done and no longer running, and never becomes its
// group's best, even with a value better than the best's.
func TestTallyPruned(t *testing.T) {
	ta := live.NewTally(t0, []string{"h1"})
	ta.SeedBests(seed)
	pruned := jobEvent(dispatch.OrderPruned, 7, "wide", acc, 5)
	v := 0.99
	pruned.Reason, pruned.Value = "pruned at step 3 (rung 1)", &v
	for _, e := range []dispatch.Event{jobEvent(dispatch.OrderClaimed, 7, "wide", acc, 0),
		progressEvent(7, "wide", acc, 1, "", 3, "acc", 0.99), pruned} {
		ta.Observe(e)
	}
	s := ta.Snapshot()
	if s.Pruned != 1 || s.Failed != 0 || len(s.Failures) != 0 || s.Running != 0 || s.Done() != 1 || len(s.Runs) != 0 {
		t.Errorf("pruned %d failed %d failures %v running %d done %d runs %v; want 1 pruned, done, nothing else",
			s.Pruned, s.Failed, s.Failures, s.Running, s.Done(), s.Runs)
	}
	want := live.Best{Project: "wine", Sweep: "wide", Objective: acc, HasValue: true, Value: 0.9, Job: 5}
	if len(s.Bests) != 1 || s.Bests[0] != want {
		t.Errorf("bests %+v, want the seeded %+v", s.Bests, want)
	}
	var b bytes.Buffer
	l := live.NewLines(&b)
	l.SeedBests(seed)
	l.Observe(pruned)
	if strings.Contains(b.String(), "best") {
		t.Errorf("lines print a best for a pruned run:\n%s", b.String())
	}
}

// TestTallyTPEBudget: a tpe sweep seeded from the queue (2 of 5 trials
// done, best 0.5) shows from the start; its done count follows the ended
// runs (a requeued failure taken back) and its best the better value.
func TestTallyTPEBudget(t *testing.T) {
	ta := live.NewTally(t0, []string{"h1"})
	ta.SeedBests([]db.SweepProgress{{Project: "wine", SweepID: 2, Sweep: "tpe", Objective: cvMse, Budget: 5,
		Counts: map[db.OrderState]int{db.StateSucceeded: 1, db.StateFailed: 1}, Total: 2,
		Best: &db.BestOutcome{Value: 0.5, JobID: 7}}})
	want := live.Best{Project: "wine", Sweep: "tpe", Objective: cvMse, HasValue: true, Value: 0.5, Job: 7, Budget: 5, Done: 2}
	if s := ta.Snapshot(); len(s.Bests) != 1 || s.Bests[0] != want {
		t.Fatalf("bests before any event %+v, want %+v", s.Bests, want)
	}
	ok := jobEvent(dispatch.OrderSucceeded, 3, "tpe", cvMse, 10)
	ok.Job, ok.Value = 30, ptr(0.25)
	for _, e := range []dispatch.Event{
		jobEvent(dispatch.OrderFailed, 1, "tpe", cvMse, 1),
		jobEvent(dispatch.OrderRequeued, 1, "tpe", cvMse, 2),
		jobEvent(dispatch.OrderPruned, 2, "tpe", cvMse, 3),
		ok,
	} {
		ta.Observe(e)
	}
	want.Value, want.Job, want.Done = 0.25, 30, 4
	if s := ta.Snapshot(); len(s.Bests) != 1 || s.Bests[0] != want {
		t.Errorf("bests %+v, want %+v", s.Bests, want)
	}
}
