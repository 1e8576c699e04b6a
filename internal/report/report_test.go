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
	"github.com/mljob/mljob/internal/testutil"
)

var reportTime = time.Date(2025, 3, 15, 8, 30, 0, 0, time.UTC)

// mustRows seeds a queue with runs and reads back wine_data's outcomes.
func mustRows(tb testing.TB, runs []seedRun) []db.OutcomeRow {
	tb.Helper()
	store := testutil.MustOpenDB(tb)
	MustSeed(tb, store, runs)
	rows, err := store.Outcomes(context.Background(), db.OutcomeFilter{Project: "wine_data"})
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}

func topJobs(r *Report) []int64 {
	var ids []int64
	for _, t := range r.Top {
		ids = append(ids, t.JobID)
	}
	return ids
}

func TestBuildTopOrder(t *testing.T) {
	rows := mustRows(t, seedRuns)
	tests := []struct {
		name string
		opts Options
		want []int64
	}{
		{"default is loss ascending", Options{}, []int64{3, 2, 7, 1, 4, 5}},
		{"loss", Options{Sort: "loss"}, []int64{3, 2, 7, 1, 4, 5}},
		{"highest loss first, NaN still last", Options{Sort: "-loss"}, []int64{4, 1, 7, 2, 3, 5}},
		{"highest metric first", Options{Sort: "-metric"}, []int64{3, 2, 7, 1, 4, 5}},
		{"lowest metric first", Options{Sort: "metric"}, []int64{4, 1, 7, 2, 3, 5}},
		{"top 2", Options{Top: 2}, []int64{3, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Project, tt.opts.Now = "wine_data", reportTime
			r, err := Build(rows, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := topJobs(r); !slices.Equal(got, tt.want) {
				t.Errorf("top jobs = %v, want %v", got, tt.want)
			}
			for i, run := range r.Top {
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
	r, err := Build(mustRows(t, seedRuns), Options{Project: "wine_data", Now: reportTime})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("counts", func(t *testing.T) {
		if r.Runs != 7 || r.Jobs != 7 || r.Succeeded != 6 || r.Failed != 1 {
			t.Errorf("runs/jobs/succeeded/failed = %d/%d/%d/%d, want 7/7/6/1", r.Runs, r.Jobs, r.Succeeded, r.Failed)
		}
		if want := []string{"cloud-vm-1", "gpu-box", "lab-ws"}; !slices.Equal(r.Hosts, want) {
			t.Errorf("hosts = %v, want %v", r.Hosts, want)
		}
	})
	t.Run("varying params", func(t *testing.T) {
		want := []Param{
			{Path: "learningRate", Numeric: true, Log: true},
			{Path: "notes"},
			{Path: "optimizer"},
			{Path: "hiddenLayers.0.dropout", Numeric: true},
		}
		if len(r.Params) != len(want) {
			t.Fatalf("params = %+v, want %+v", r.Params, want)
		}
		for i, w := range want {
			p := r.Params[i]
			if p.Path != w.Path || p.Numeric != w.Numeric || p.Log != w.Log {
				t.Errorf("param %d = %s numeric=%v log=%v, want %s numeric=%v log=%v",
					i, p.Path, p.Numeric, p.Log, w.Path, w.Numeric, w.Log)
			}
		}
		if got := r.Params[2].Categories; !slices.Equal(got, []string{"adam", "sgd"}) {
			t.Errorf("optimizer categories = %v", got)
		}
		if got := r.Top[0].Params; !slices.Equal(got, []string{"0.01", hostile, "adam", "0.1"}) {
			t.Errorf("best run's params = %q", got)
		}
	})
	t.Run("NaN is text in the table and off the charts", func(t *testing.T) {
		last := r.Top[len(r.Top)-1]
		if last.JobID != 5 || last.Loss.Text != "NaN" || last.Metric.Text != "NaN" || last.Metric.Finite {
			t.Errorf("last row = %+v, want job 5 with NaN loss and metric", last)
		}
		if r.OffChart != 1 || len(r.Chart.Points) != 5 {
			t.Errorf("off chart %d, points %d; want 1 and 5", r.OffChart, len(r.Chart.Points))
		}
		for _, p := range r.Chart.Points {
			if p.JobID == 5 || math.IsNaN(p.Value) {
				t.Errorf("point %+v is charted", p)
			}
		}
	})
	t.Run("charted value is the metric with its scoring", func(t *testing.T) {
		if r.ValueName != "metric" || r.ValueLabel != "metric (neg_mean_squared_error)" {
			t.Errorf("value %q label %q", r.ValueName, r.ValueLabel)
		}
		if !r.Chart.HigherIsBetter {
			t.Error("a neg_* scoring should be higher-is-better")
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

// TestBuildLossFallback: with no finite metric anywhere the charts plot
// the loss, and say so.
func TestBuildLossFallback(t *testing.T) {
	runs := []seedRun{
		{lr: 0.01, opt: "adam", dropout: 0.1, note: "a", host: "h", seconds: 1, loss: "0.5", metric: "NaN"},
		{lr: 0.02, opt: "adam", dropout: 0.1, note: "a", host: "h", seconds: 1, loss: "0.4", metric: "NaN"},
	}
	r, err := Build(mustRows(t, runs), Options{Project: "wine_data", Now: reportTime})
	if err != nil {
		t.Fatal(err)
	}
	if r.ValueName != "loss" || len(r.Chart.Points) != 2 || r.Chart.HigherIsBetter {
		t.Errorf("value %q, %d points, higherIsBetter %v; want loss, 2, false", r.ValueName, len(r.Chart.Points), r.Chart.HigherIsBetter)
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
	r, err := Build(mustRows(t, seedRuns), Options{Project: "wine_data <&>", Now: reportTime})
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
		if !slices.Contains(got.Params[1].Categories, hostile) || len(got.Points) != 5 {
			t.Errorf("data block params %+v, %d points", got.Params, len(got.Points))
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
			`<code>mljob logs 6 --attempt 1 --stderr</code>`,
			`<th>hiddenLayers.0.dropout</th>`,
			`Generated 2025-03-15 08:30 UTC`,
			`1 run with a NaN, infinite or missing metric is left off the charts`,
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

// generate reads the outcomes of opts.Project from store and writes their
// report to w, as mljob report does.
func generate(ctx context.Context, store *db.DB, w io.Writer, opts Options) error {
	rows, err := store.Outcomes(ctx, db.OutcomeFilter{Project: opts.Project})
	if err != nil {
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
	if n := strings.Count(buf.String(), `<tr>`); n != 6+1+2 { // top rows, failure row, two header rows
		t.Errorf("page has %d <tr>, want 9", n)
	}
}
