package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/testutil"
)

var reportTime = time.Date(2025, 3, 15, 8, 30, 0, 0, time.UTC)

// mustStore seeds a queue with runs.
func mustStore(tb testing.TB, runs []seedRun) *db.DB {
	tb.Helper()
	store := testutil.MustOpenDB(tb)
	MustSeed(tb, store, runs)
	return store
}

// mustRows seeds a queue with runs and reads back a project's outcomes.
func mustRows(tb testing.TB, project string, runs []seedRun) []db.OutcomeRow {
	tb.Helper()
	rows, err := mustStore(tb, runs).Outcomes(context.Background(), db.OutcomeFilter{Project: project})
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}

// mustBuild reads a project's outcomes and curves from store and builds
// its report, as mljob report does.
func mustBuild(tb testing.TB, store *db.DB, opts Options) *Report {
	tb.Helper()
	ctx := context.Background()
	rows, err := store.Outcomes(ctx, db.OutcomeFilter{Project: opts.Project})
	if err != nil {
		tb.Fatal(err)
	}
	if opts.Curves, err = ReadCurves(ctx, store, rows); err != nil {
		tb.Fatal(err)
	}
	if opts.Now.IsZero() {
		opts.Now = reportTime
	}
	r, err := Build(rows, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func topJobs(g Group) []int64 {
	var ids []int64
	for _, t := range g.Top {
		ids = append(ids, t.JobID)
	}
	return ids
}

func TestBuildTopOrder(t *testing.T) {
	rows := mustRows(t, "wine_data", seedRuns)
	tests := []struct {
		name string
		opts Options
		want []int64
	}{
		{"default is the objective, best first, NaN last", Options{}, []int64{2, 3, 8, 7, 4, 1, 5}},
		{"objective", Options{Sort: "objective"}, []int64{2, 3, 8, 7, 4, 1, 5}},
		{"worst first, NaN still last", Options{Sort: "-objective"}, []int64{1, 4, 7, 8, 3, 2, 5}},
		{"loss", Options{Sort: "loss"}, []int64{3, 2, 7, 1, 4, 8, 5}},
		{"highest metric first", Options{Sort: "-metric"}, []int64{2, 3, 8, 7, 4, 1, 5}},
		{"top 2", Options{Top: 2}, []int64{2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Project, tt.opts.Now = "wine_data", reportTime
			r, err := Build(rows, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Groups) != 1 {
				t.Fatalf("%d groups, want 1", len(r.Groups))
			}
			if got := topJobs(r.Groups[0]); !slices.Equal(got, tt.want) {
				t.Errorf("top jobs = %v, want %v", got, tt.want)
			}
			for i, run := range r.Groups[0].Top {
				if run.Rank != i+1 {
					t.Errorf("row %d has rank %d", i, run.Rank)
				}
			}
		})
	}
}

func TestBuildUnknownSort(t *testing.T) {
	_, err := Build(nil, Options{Sort: "accuracy"})
	if !errors.Is(err, ErrUnknownSort) {
		t.Fatalf("err = %v, want ErrUnknownSort", err)
	}
}

func TestBuildContents(t *testing.T) {
	r := mustBuild(t, mustStore(t, seedRuns), Options{Project: "wine_data"})
	g := r.Groups[0]
	t.Run("counts", func(t *testing.T) {
		if r.Runs != 8 || r.Jobs != 8 || r.Succeeded != 7 || r.Failed != 1 {
			t.Errorf("runs/jobs/succeeded/failed = %d/%d/%d/%d, want 8/8/7/1", r.Runs, r.Jobs, r.Succeeded, r.Failed)
		}
		if want := []string{"cloud-vm-1", "gpu-box", "lab-ws"}; !slices.Equal(r.Hosts, want) {
			t.Errorf("hosts = %v, want %v", r.Hosts, want)
		}
		if g.Objective != (objective.Objective{Name: "cvMse", Goal: objective.Minimize}) || g.Runs != 8 || g.Succeeded != 7 {
			t.Errorf("group %s: %d runs, %d succeeded", g.Objective, g.Runs, g.Succeeded)
		}
	})
	t.Run("varying params, baseline aside, sentinel as categories", func(t *testing.T) {
		want := []Param{
			{Path: "learningRate", Numeric: true, Log: true},
			{Path: "notes"},
			{Path: "optimizer"},
			{Path: "pcaComponents", Sentinel: "-1"},
			{Path: "hiddenLayers.0.dropout", Numeric: true},
		}
		if len(g.Params) != len(want) {
			t.Fatalf("params = %+v, want %+v", g.Params, want)
		}
		for i, w := range want {
			p := g.Params[i]
			if p.Path != w.Path || p.Numeric != w.Numeric || p.Log != w.Log || p.Sentinel != w.Sentinel {
				t.Errorf("param %d = %s numeric=%v log=%v sentinel=%q, want %s numeric=%v log=%v sentinel=%q",
					i, p.Path, p.Numeric, p.Log, p.Sentinel, w.Path, w.Numeric, w.Log, w.Sentinel)
			}
		}
		if got := g.Params[3].Categories; !slices.Equal(got, []string{"-1", "0.9", "5"}) {
			t.Errorf("pcaComponents categories = %v", got)
		}
		if got := g.Top[0].Params; !slices.Equal(got, []string{"0.003", "plain", "adam", "0.9", "0.3"}) {
			t.Errorf("best run's params = %q", got)
		}
	})
	t.Run("objective first, with its spread; loss and metric beside it", func(t *testing.T) {
		best := g.Top[0]
		if best.JobID != 2 || best.Objective.Text != "24000" || best.Spread != "1080.12" || best.Loss.Text != "0.1875" {
			t.Errorf("best row = %+v", best)
		}
		if !g.ShowLoss || !g.ShowMetric || g.SpreadFrom != "cvMseStd" {
			t.Errorf("show loss %v metric %v, spread from %q", g.ShowLoss, g.ShowMetric, g.SpreadFrom)
		}
	})
	t.Run("baseline", func(t *testing.T) {
		if b := g.Baseline; b == nil || b.JobID != 8 || b.Value != 26000 || b.Label != "baseline.py, job 8" {
			t.Errorf("baseline = %+v", b)
		}
		if row := g.Top[2]; row.JobID != 8 || !row.Baseline {
			t.Errorf("third row = %+v, want the baseline, job 8", row)
		}
		for _, p := range g.chart.Points {
			if p.JobID == 8 {
				t.Error("the baseline is charted as a point")
			}
		}
	})
	t.Run("NaN is text in the table and off the charts", func(t *testing.T) {
		last := g.Top[len(g.Top)-1]
		if last.JobID != 5 || last.Objective.Text != "NaN" || last.Loss.Text != "NaN" || last.Objective.Finite {
			t.Errorf("last row = %+v, want job 5 with NaN cvMse and loss", last)
		}
		if g.OffChart != 1 || len(g.chart.Points) != 5 {
			t.Errorf("off chart %d, points %d; want 1 and 5", g.OffChart, len(g.chart.Points))
		}
	})
	t.Run("colours follow the objective's goal, not the metric's sign", func(t *testing.T) {
		c := r.Chart.Groups[0]
		if c.HigherIsBetter || c.Better != "lower is better" || c.Objective != "cvMse" {
			t.Errorf("chart %q: higherIsBetter %v, %q", c.Objective, c.HigherIsBetter, c.Better)
		}
	})
	t.Run("failures", func(t *testing.T) {
		if len(r.Failures) != 1 {
			t.Fatalf("failures = %+v", r.Failures)
		}
		f := r.Failures[0]
		if f.JobID != 6 || f.Host != "lab-ws" || f.Exit != "exit 1" || f.LogsCommand != "mljob logs 6 --attempt 1 --stderr" {
			t.Errorf("failure = %+v", f)
		}
		if !strings.Contains(f.Error, "CUDA out of memory") || !strings.Contains(f.Stderr, "Traceback") {
			t.Errorf("failure error %q, stderr %q", f.Error, f.Stderr)
		}
	})
	t.Run("run time per host", func(t *testing.T) {
		got := map[string]HostTimes{}
		for _, h := range r.Chart.HostTimes {
			got[h.Host] = h
		}
		lab := got["lab-ws"]
		if len(lab.Seconds) != 2 || lab.Failed != 1 || lab.Box[0] != 58.7 || lab.Box[4] != 63 {
			t.Errorf("lab-ws = %+v", lab)
		}
		if gpu := got["gpu-box"]; len(gpu.Seconds) != 3 || gpu.Box[2] != 39.2 {
			t.Errorf("gpu-box = %+v", gpu)
		}
	})
}

// TestBuildCurves: wine_data's progress lines carry valLoss, not the
// objective cvMse: the curves are valLoss, the mean over the three folds,
// the five best runs by cvMse ranked and the diverged one faint.
func TestBuildCurves(t *testing.T) {
	r := mustBuild(t, mustStore(t, seedRuns), Options{Project: "wine_data"})
	g := r.Groups[0]
	if g.Curves == nil || g.Curves.Metric != "valLoss" || g.Curves.IsObjective || g.Curves.Runs != 6 || g.Curves.MaxSeries != 3 {
		t.Fatalf("curves = %+v", g.Curves)
	}
	cs := r.Chart.Groups[0].Curves
	var jobs []int64
	var ranks []int
	for _, c := range cs.Runs {
		jobs, ranks = append(jobs, c.JobID), append(ranks, c.Rank)
	}
	if !slices.Equal(jobs, []int64{2, 3, 7, 4, 1, 5}) || !slices.Equal(ranks, []int{1, 2, 3, 4, 5, 0}) {
		t.Errorf("curves of jobs %v ranked %v", jobs, ranks)
	}
	best := cs.Runs[0]
	if !strings.Contains(best.Config, "learningRate=0.003") || !strings.Contains(best.Config, "pcaComponents=0.9") {
		t.Errorf("best curve's config %q", best.Config)
	}
	// Folds 1, 2 and 3 reach steps 40, 38 and 36: step 1 is their mean,
	// step 40 fold 1's alone.
	decay := math.Exp(-1 * 0.003 * 8)
	if first, want := best.Points[0], (23000+25500+23500)*(1+4*decay)/3; first[0] != 1 || math.Abs(first[1]-want) > 0.5 {
		t.Errorf("step 1 = %v, want [1 %v]", first, want)
	}
	if last, want := best.Points[len(best.Points)-1], 23000*(1+4*math.Exp(-40*0.003*8)); last[0] != 40 || math.Abs(last[1]-want) > 0.05 {
		t.Errorf("last point = %v, want [40 %v]", last, want)
	}
	if best.Series != 3 || len(best.Points) != 40 {
		t.Errorf("best curve: %d series, %d points; want 3 and 40", best.Series, len(best.Points))
	}
}

// TestBuildObjectives: a project with two objectives gets a section
// each, the maximised one ranked highest first, and no chart of one holds
// the other's runs.
func TestBuildObjectives(t *testing.T) {
	r := mustBuild(t, mustStore(t, irisRuns), Options{Project: "iris"})
	if len(r.Groups) != 2 {
		t.Fatalf("%d groups, want 2", len(r.Groups))
	}
	acc, loss := r.Groups[0], r.Groups[1]
	if acc.Objective.String() != "accuracy:max" || loss.Objective.String() != "loss:min" || acc.ID != "g0" || loss.ID != "g1" {
		t.Errorf("groups %s (%s), %s (%s)", acc.Objective, acc.ID, loss.Objective, loss.ID)
	}
	if got := topJobs(acc); !slices.Equal(got, []int64{2, 3, 1}) {
		t.Errorf("accuracy ranks jobs %v, want 2, 3, 1", got)
	}
	if got := topJobs(loss); !slices.Equal(got, []int64{4}) {
		t.Errorf("loss ranks jobs %v, want 4", got)
	}
	c := r.Chart.Groups[0]
	if !c.HigherIsBetter || c.Better != "higher is better" || len(c.Points) != 3 {
		t.Errorf("accuracy chart: higherIsBetter %v %q, %d points", c.HigherIsBetter, c.Better, len(c.Points))
	}
	if acc.Curves == nil || !acc.Curves.IsObjective || acc.Curves.Metric != "accuracy" || len(c.Curves.Runs) != 3 {
		t.Errorf("accuracy curves %+v", acc.Curves)
	}
	if lc := r.Chart.Groups[1].Curves; lc == nil || lc.Metric != "loss" || len(lc.Runs) != 1 || lc.Runs[0].JobID != 4 {
		t.Errorf("loss curves %+v", lc)
	}
	if !acc.ShowLoss || acc.ShowMetric || loss.ShowLoss {
		t.Errorf("accuracy shows loss %v and metric %v (no run reports one), loss shows loss %v (its objective)",
			acc.ShowLoss, acc.ShowMetric, loss.ShowLoss)
	}
}

// TestBuildOldOutcomes: rows from before objectives (Objective zero) rank
// by loss, lower is better.
func TestBuildOldOutcomes(t *testing.T) {
	one, two := 0.5, 0.25
	rows := []db.OutcomeRow{
		{Outcome: db.Outcome{JobID: 1, OrderID: 1, Attempt: 1, Succeeded: true, Loss: &one}, Spec: []byte(`{"x":1}`)},
		{Outcome: db.Outcome{JobID: 2, OrderID: 2, Attempt: 1, Succeeded: true, Loss: &two}, Spec: []byte(`{"x":2}`)},
	}
	r, err := Build(rows, Options{Project: "p", Now: reportTime})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Groups) != 1 || r.Groups[0].Objective != objective.Default || !slices.Equal(topJobs(r.Groups[0]), []int64{2, 1}) {
		t.Errorf("groups %+v", r.Groups)
	}
}

// TestReadCurvesBounded: a run that printed 3,000 steps is drawn with at
// most maxCurvePoints, its first and last among them (TestThinCurve
// checks the lowest and highest).
func TestReadCurvesBounded(t *testing.T) {
	long := seedRun{project: "long", objective: "valLoss:min", lr: 0.01, opt: "adam", host: "h", seconds: 1, loss: "1",
		folds: []float64{1}, epochs: 3_000}
	store := mustStore(t, []seedRun{long})
	r := mustBuild(t, store, Options{Project: "long"})
	cs := r.Chart.Groups[0].Curves
	if cs == nil || len(cs.Runs) != 1 || !cs.IsObjective {
		t.Fatalf("curves %+v", cs)
	}
	pts := cs.Runs[0].Points
	if len(pts) > maxCurvePoints || len(pts) < maxCurvePoints-2 {
		t.Errorf("%d points on the page, want about %d", len(pts), maxCurvePoints)
	}
	if pts[0][0] != 1 || pts[len(pts)-1][0] != 3_000 {
		t.Errorf("first and last steps %v, %v; want 1 and 3000", pts[0][0], pts[len(pts)-1][0])
	}
}

func TestThinCurve(t *testing.T) {
	var pts [][2]float64
	for i := range 1000 {
		pts = append(pts, [2]float64{float64(i), math.Sin(float64(i))})
	}
	pts[333][1], pts[777][1] = -5, 5 // lowest and highest, off the grid
	got := thinCurve(pts, 100)
	if len(got) > 100 || len(got) < 98 {
		t.Errorf("%d points, want at most 100", len(got))
	}
	steps := map[float64]bool{}
	for i, p := range got {
		steps[p[0]] = true
		if i > 0 && p[0] <= got[i-1][0] {
			t.Fatalf("points out of order at %d: %v", i, got)
		}
	}
	for _, s := range []float64{0, 999, 333, 777} {
		if !steps[s] {
			t.Errorf("step %v (first, last, lowest or highest) not kept", s)
		}
	}
	if short := pts[:10]; len(thinCurve(short, 100)) != 10 {
		t.Error("a short curve was thinned")
	}
}

func TestMeanCurve(t *testing.T) {
	pts := []db.MetricPoint{
		{Series: "fold1", Step: 1, Value: 10}, {Series: "fold1", Step: 2, Value: 8}, {Series: "fold1", Step: 3, Value: 6},
		{Series: "fold2", Step: 1, Value: 20}, {Series: "fold2", Step: 2, Value: 12},
	}
	c := meanCurve(pts)
	if want := [][2]float64{{1, 15}, {2, 10}, {3, 6}}; c.series != 2 || !reflect.DeepEqual(c.points, want) {
		t.Errorf("mean curve %+v, want 2 series and %v", c, want)
	}
}

func TestPickMetric(t *testing.T) {
	cvMse := objective.Objective{Name: "cvMse", Goal: objective.Minimize}
	tests := []struct {
		names []string
		want  string
	}{
		{[]string{"loss", "valLoss", "cvMse"}, "cvMse"},
		{[]string{"loss", "lr", "valLoss"}, "valLoss"},
		{[]string{"loss", "val_loss"}, "val_loss"},
		{[]string{"loss", "validationMse", "lr"}, "validationMse"},
		{[]string{"lr", "loss"}, "loss"},
		{[]string{"lr", "grad"}, "grad"},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := pickMetric(cvMse, tt.names); got != tt.want {
			t.Errorf("pickMetric(%v) = %q, want %q", tt.names, got, tt.want)
		}
	}
}

func TestSentinel(t *testing.T) {
	tests := []struct {
		values []float64
		want   float64
		ok     bool
	}{
		{[]float64{-1, 0.9, 5, -1}, -1, true},
		{[]float64{-1, 0}, -1, true},
		{[]float64{0.1, 0.9}, 0, false},
		{[]float64{-1, -2, 3}, 0, false},  // two negatives: a range, not a sentinel
		{[]float64{-0.5, 1, 2}, 0, false}, // not an integer
		{[]float64{-1, -1}, 0, false},     // nothing else
		{[]float64{-3, -1, 2}, 0, false},
	}
	for _, tt := range tests {
		got, ok := sentinel(tt.values)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("sentinel(%v) = %v, %v; want %v, %v", tt.values, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		name, js, objective string
		want                float64 // NaN: none
		from                string
	}{
		{"reported std", `{"cvMse": 5, "cvMseStd": 1.5, "foldMse": [1, 9]}`, "cvMse", 1.5, "cvMseStd"},
		{"fold list", `{"cvMse": 5, "foldMse": [4, 6]}`, "cvMse", 1, "the standard deviation of foldMse"},
		{"Folds suffix", `{"acc": 0.5, "accFolds": [0.4, 0.6, 0.5]}`, "acc", math.Sqrt(0.02 / 3), "the standard deviation of accFolds"},
		{"nested", `{"val": {"mse": 2, "mseStd": 0.25}}`, "val.mse", 0.25, "mseStd"},
		{"one fold is no spread", `{"cvMse": 5, "foldMse": [5]}`, "cvMse", math.NaN(), ""},
		{"NaN in a fold", `{"cvMse": 5, "foldMse": [5, "NaN"]}`, "cvMse", math.NaN(), ""},
		{"none", `{"loss": 1}`, "loss", math.NaN(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, from := spreadOf([]byte(tt.js), tt.objective)
			switch {
			case math.IsNaN(tt.want) && got != nil:
				t.Errorf("spread %v from %q, want none", *got, from)
			case !math.IsNaN(tt.want) && (got == nil || math.Abs(*got-tt.want) > 1e-12 || from != tt.from):
				t.Errorf("spread %v from %q, want %v from %q", got, from, tt.want, tt.from)
			}
		})
	}
}

func TestIsBaseline(t *testing.T) {
	tests := []struct {
		spec, outcome string
		want          bool
	}{
		{`{"scriptName": "baseline.py"}`, `{"loss": 1}`, true},
		{`{"scriptName": "refs/baseline.py"}`, `{}`, true},
		{`{"scriptName": "nn.py"}`, `{"baseline": true}`, true},
		{`{"scriptName": "nn.py"}`, `{"baseline": false}`, false},
		{`{"scriptName": "nn.py"}`, `{"baseline": "yes"}`, false},
		{`{"scriptName": "my_baseline.py"}`, `{}`, false},
	}
	for _, tt := range tests {
		if got := isBaseline([]byte(tt.spec), outcomeFields([]byte(tt.outcome))); got != tt.want {
			t.Errorf("isBaseline(%s, %s) = %v, want %v", tt.spec, tt.outcome, got, tt.want)
		}
	}
}

func TestValueOf(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name   string
		col    *float64
		raw    string
		text   string
		finite bool
	}{
		{"column", f(0.25), `0.25`, "0.25", true},
		{"NaN column (SQLite NULL) with the JSON string", nil, `"NaN"`, "NaN", false},
		{"NaN in the column", f(math.NaN()), ``, "NaN", false},
		{"Infinity string", nil, `"Infinity"`, "+Inf", false},
		{"minus Infinity string", nil, `"-Infinity"`, "-Inf", false},
		{"Python's spellings", nil, `" nan "`, "NaN", false},
		{"Go's spelling", nil, `"+Inf"`, "+Inf", false},
		{"out of range", nil, `"1e999"`, "1e999", false},
		{"not a number", nil, `"n/a"`, "n/a", false},
		{"numeric string", nil, `"0.5"`, "0.5", true},
		{"not reported", nil, ``, "—", false},
		{"null", nil, `null`, "—", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := valueOf(tt.col, json.RawMessage(tt.raw))
			if v.Text != tt.text || v.Finite != tt.finite {
				t.Errorf("valueOf = %+v, want text %q finite %v", v, tt.text, tt.finite)
			}
		})
	}
}

func TestFiveNumbers(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want [5]float64
	}{
		{"one", []float64{3}, [5]float64{3, 3, 3, 3, 3}},
		{"unsorted five", []float64{5, 1, 4, 2, 3}, [5]float64{1, 2, 3, 4, 5}},
		{"interpolated", []float64{1, 2, 3, 4}, [5]float64{1, 1.75, 2.5, 3.25, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fiveNumbers(tt.in); got != tt.want {
				t.Errorf("fiveNumbers(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSortCategories(t *testing.T) {
	got := []string{"sgd", "128", "16", "adam", "32", "-1"}
	sortCategories(got)
	if want := []string{"-1", "16", "32", "128", "adam", "sgd"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestFlatten: a job's fields are jobfields.Flatten's leaves, each marked
// present, so that null is not absent; a spec that is not a JSON object
// has none. (jobfields tests which paths vary.)
func TestFlatten(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want map[string]leaf
	}{
		{"object", `{"lr":0.10,"layers":[{"d":null}],"o":{}}`,
			map[string]leaf{"lr": {json.Number("0.10"), true}, "layers.0.d": {nil, true}, "o": {"{}", true}}},
		{"array", `[1]`, map[string]leaf{}},
		{"scalar", `1`, map[string]leaf{}},
		{"invalid", `{"a":`, map[string]leaf{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := flatten([]byte(tt.spec)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("flatten(%s) = %v, want %v", tt.spec, got, tt.want)
			}
		})
	}
	if (leaf{}).text() != "—" || (leaf{nil, true}).text() != "null" {
		t.Error("an absent field must show as —, a null one as null")
	}
}

// dataBlock returns the JSON inside the page's report-data script.
func dataBlock(tb testing.TB, page string) string {
	tb.Helper()
	const open = `<script type="application/json" id="report-data">`
	i := strings.Index(page, open)
	if i < 0 {
		tb.Fatal("no report-data block")
	}
	rest := page[i+len(open):]
	j := strings.Index(rest, "</script>")
	if j < 0 {
		tb.Fatal("report-data block not closed")
	}
	return rest[:j]
}

func TestWriteEscapes(t *testing.T) {
	rows := mustRows(t, "wine_data", seedRuns)
	r, err := Build(rows, Options{Project: "wine_data <&>", Now: reportTime})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()

	t.Run("no job string opens or closes a tag", func(t *testing.T) {
		if strings.Contains(page, "window.pwned") && strings.Contains(page, "<script>window.pwned") {
			t.Error("the hostile job field reached the page unescaped")
		}
		if n := strings.Count(strings.ToLower(page), "<script"); n != 3 {
			t.Errorf("page has %d <script tags, want 3 (data, ECharts, report.js)", n)
		}
		if n := strings.Count(strings.ToLower(page), "</script"); n != 3 {
			t.Errorf("page has %d </script, want 3", n)
		}
		if !strings.Contains(page, "&lt;/script&gt;&lt;script&gt;window.pwned=1") {
			t.Error("the hostile field is not shown, escaped, in the table")
		}
		if !strings.Contains(page, "<title>wine_data &lt;&amp;&gt; · mljob report</title>") {
			t.Error("the project name is not escaped in the title")
		}
	})
	t.Run("data block is JSON holding the raw strings", func(t *testing.T) {
		block := dataBlock(t, page)
		if strings.ContainsAny(block, "<>") {
			t.Errorf("data block holds < or >: %.200s", block)
		}
		var got ChartData
		if err := json.Unmarshal([]byte(block), &got); err != nil {
			t.Fatalf("data block: %v", err)
		}
		if len(got.Groups) != 1 {
			t.Fatalf("data block has %d groups, want 1", len(got.Groups))
		}
		g := got.Groups[0]
		if !slices.Contains(g.Params[1].Categories, hostile) || len(g.Points) != 5 {
			t.Errorf("data block params %+v, %d points", g.Params, len(g.Points))
		}
	})
	t.Run("self-contained", func(t *testing.T) {
		// The scripts come last; everything before them is the markup.
		markup := page[:strings.Index(page, `<script type="application/json"`)]
		for _, s := range []string{" src=", " href=", "@import", "url(", "<link"} {
			if strings.Contains(markup, s) {
				t.Errorf("page markup holds %q: it must not load anything", s)
			}
		}
		if !strings.Contains(page, "echarts") || !strings.Contains(page, EChartsVersion) {
			t.Error("ECharts is not inlined")
		}
	})
	t.Run("tables", func(t *testing.T) {
		for _, want := range []string{
			`<td class="num nonfinite">NaN</td>`,
			`<td class="num objective nonfinite">NaN</td>`,
			`<td class="num objective">24000<span class="spread"> ± 1080.12</span></td>`,
			`<th class="num objective">cvMse <span class="dir">lower is better</span></th>`,
			`<h2>Objective <code>cvMse</code> · lower is better</h2>`,
			`<td class="num">8 <span class="tag">baseline</span></td>`,
			`Baseline: baseline.py, job 8, cvMse = 26000, drawn as a dashed line.`,
			`by cvMse, best first`,
			`<code>mljob logs 6 --attempt 1 --stderr</code>`,
			`<th>hiddenLayers.0.dropout</th>`,
			`-1 is a sentinel (a setting, not a size)`,
			`Generated 2025-03-15 08:30 UTC`,
			`1 run with a NaN, infinite or missing cvMse is left off the charts`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
	})
}

// TestWriteEmpty: a project with no outcomes still gives a page that says so.
func TestWriteEmpty(t *testing.T) {
	r, err := Build(nil, Options{Project: "nothing", Now: reportTime})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"No run has succeeded yet.", "No failures.", "No run has reached a host yet."} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(buf.String(), `class="chart`) {
		t.Error("an empty report has chart containers")
	}
}

// TestWriteFile: the page lands at its path, readable by others, with no
// temporary file left beside it; a path in a missing directory leaves
// nothing.
func TestWriteFile(t *testing.T) {
	r, err := Build(nil, Options{Project: "nothing", Now: reportTime})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o644 || info.Size() == 0 {
		t.Errorf("report file: %v, %v; want a non-empty file with mode 0644", info, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only the report", len(entries))
	}
	if err := r.WriteFile(filepath.Join(dir, "no", "report.html")); err == nil {
		t.Error("WriteFile into a missing dir: no error")
	}
}

// formatDuration shows a run time as outcomes does, and none as —.
func TestFormatDuration(t *testing.T) {
	for sec, want := range map[float64]string{12.345: "12.35s", 75.5: "1m16s", -1: "—", math.NaN(): "—"} {
		if got := formatDuration(sec); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", sec, got, want)
		}
	}
}

// generate reads the outcomes and curves of opts.Project from store and
// writes their report to w, as mljob report does.
func generate(ctx context.Context, store *db.DB, w io.Writer, opts Options) error {
	rows, err := store.Outcomes(ctx, db.OutcomeFilter{Project: opts.Project})
	if err != nil {
		return err
	}
	if opts.Curves, err = ReadCurves(ctx, store, rows); err != nil {
		return err
	}
	r, err := Build(rows, opts)
	if err != nil {
		return err
	}
	return r.Write(w)
}

// TestGenerate reports from the queue itself.
func TestGenerate(t *testing.T) {
	store := testutil.MustOpenDB(t)
	MustSeed(t, store, seedRuns)
	var buf bytes.Buffer
	if err := generate(context.Background(), store, &buf, Options{Project: "wine_data", Now: reportTime}); err != nil {
		t.Fatal(err)
	}
	// Top rows (the baseline's is <tr class="baseline">), the failure
	// row, two header rows, and the importance table: a header and one
	// row per varying field (5).
	if n := strings.Count(buf.String(), `<tr>`); n != 6+1+2+1+5 {
		t.Errorf("page has %d <tr>, want 15", n)
	}
	if !strings.Contains(buf.String(), `id="g0-curves" data-metric="valLoss"`) {
		t.Error("page has no learning-curve chart of valLoss")
	}
}

// TestBuildPruned: pruned runs are counted apart from failures (no
// failure card, no place in the top table), in the page's counts and
// their section's; their curves are drawn after the ranked ones, unranked,
// carrying the verdict, each ending at the step it was stopped at.
func TestBuildPruned(t *testing.T) {
	runs := append(slices.Clone(seedRuns), prunedRuns...)
	r := mustBuild(t, mustStore(t, runs), Options{Project: "wine_data"})
	// seedRuns: seven succeeded (the diverged one and the baseline
	// included), one crashed.
	if r.Pruned != 2 || r.Failed != 1 || r.Succeeded != 7 || len(r.Failures) != 1 {
		t.Errorf("pruned %d failed %d succeeded %d failures %d; want 2, 1, 7, 1", r.Pruned, r.Failed, r.Succeeded, len(r.Failures))
	}
	if got, want := r.Counts(), "7 succeeded, 1 failed, 2 pruned"; got != want {
		t.Errorf("Counts = %q, want %q", got, want)
	}
	g := r.Groups[0]
	if g.Pruned != 2 || g.Succeeded != 7 || g.Curves == nil || g.Curves.Pruned != 2 || g.Curves.Runs != 6 {
		t.Fatalf("group pruned %d succeeded %d curves %+v; want 2 pruned, 7 succeeded, 2 pruned curves", g.Pruned, g.Succeeded, g.Curves)
	}
	for _, top := range g.Top {
		if top.JobID >= 9 {
			t.Errorf("pruned job %d in the top table", top.JobID)
		}
	}
	cs := r.Chart.Groups[0].Curves.Runs
	var jobs []int64
	for _, c := range cs {
		jobs = append(jobs, c.JobID)
		if (c.Pruned != "") != (c.JobID >= 9) || c.Pruned != "" && c.Rank != 0 {
			t.Errorf("curve of job %d: pruned %q rank %d", c.JobID, c.Pruned, c.Rank)
		}
	}
	if !slices.Equal(jobs, []int64{2, 3, 7, 4, 1, 5, 9, 10}) {
		t.Errorf("curves of jobs %v, want the ranked six, then the pruned 9 and 10", jobs)
	}
	for i, wantLast := range []float64{3, 9} {
		pts := cs[6+i].Points
		if last := pts[len(pts)-1][0]; last != wantLast || !strings.HasPrefix(cs[6+i].Pruned, "pruned at step") {
			t.Errorf("pruned curve %d ends at step %v (verdict %q), want %v", i, last, cs[6+i].Pruned, wantLast)
		}
	}
	var page bytes.Buffer
	if err := r.Write(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<li class="pruned"><b>2</b>pruned</li>`, `<span class="pruned-count">2 pruned</span>`,
		"The 2 pruned runs are faint dotted lines"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
