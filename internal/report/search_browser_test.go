package report

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/replicate"
	"github.com/mljob/mljob/internal/testutil"
)

// historyState is what ECharts drew in a history chart: the runs' points
// and the best-so-far line, as [n, value] pairs.
type historyState struct {
	Runs [][2]float64 `json:"runs"`
	Best [][2]float64 `json:"best"`
	Step string       `json:"step"`
}

// historyJS reads a history chart's two series from ECharts' model.
const historyJS = `(function (id) {
  var chart = echarts.getInstanceByDom(document.getElementById(id)), out = {runs: [], best: [], step: ''};
  chart.getModel().getSeries().forEach(function (s) {
    var d = s.getData();
    for (var i = 0; i < d.count(); i++) {
      var pair = [d.get('x', i), d.get('y', i)];
      if (s.subType === 'scatter') out.runs.push(pair); else out.best.push(pair);
    }
    if (s.subType === 'line') out.step = String(s.get('step'));
  });
  return out;
})(%q)`

// importanceState is the importance table's rows and the bar chart's
// categories (bottom to top) and values.
type importanceState struct {
	Rows   [][]string `json:"rows"`
	Labels []string   `json:"labels"`
	Shares []float64  `json:"shares"`
}

const importanceJS = `(function (id) {
  var rows = Array.from(document.querySelectorAll('#' + id + '-table tbody tr')).map(function (tr) {
    return Array.from(tr.cells).map(function (td) { return td.textContent.trim(); });
  });
  var opt = echarts.getInstanceByDom(document.getElementById(id)).getOption();
  return {rows: rows, labels: opt.yAxis[0].data, shares: opt.series[0].data};
})(%q)`

// costState is what ECharts drew in a cost chart: [cost, value] pairs,
// and the unit the container names.
type costState struct {
	Unit   string       `json:"unit"`
	Points [][2]float64 `json:"points"`
}

const costJS = `(function (id) {
  var el = document.getElementById(id), out = {unit: el.dataset.unit, points: []};
  var d = echarts.getInstanceByDom(el).getModel().getSeries()[0].getData();
  for (var i = 0; i < d.count(); i++) out.points.push([d.get('x', i), d.get('y', i)]);
  return out;
})(%q)`

// checkCosts checks that a cost chart drew each run once at its cost.
func checkCosts(t *testing.T, got costState, unit string, runs []searchRun, cost func(searchRun) float64) {
	t.Helper()
	if got.Unit != unit {
		t.Errorf("cost chart's unit %q, want %q", got.Unit, unit)
	}
	var want [][2]float64
	for _, r := range runs {
		want = append(want, [2]float64{cost(r), r.score})
	}
	if len(got.Points) != len(want) {
		t.Fatalf("cost chart drew %d points, want %d", len(got.Points), len(want))
	}
	for _, w := range want {
		found := false
		for _, p := range got.Points {
			found = found || math.Abs(p[0]-w[0]) < 1e-9 && math.Abs(p[1]-w[1]) < 1e-9
		}
		if !found {
			t.Errorf("cost chart lacks the run at %v (drew %v)", w, got.Points)
		}
	}
}

// replicateState is a replicate group's table rows, the ranking note,
// and the chart's dots and mean markers as [category, value].
type replicateState struct {
	Holds string       `json:"holds"`
	Rows  [][]string   `json:"rows"`
	Dots  [][2]float64 `json:"dots"`
	Means [][2]float64 `json:"means"`
}

const replicateJS = `(function (id) {
  var rows = Array.from(document.querySelectorAll('#' + id + '-table tbody tr')).map(function (tr) {
    return Array.from(tr.cells).map(function (td) { return td.textContent.trim(); });
  });
  var out = {holds: document.getElementById(id + '-holds').textContent, rows: rows, dots: [], means: []};
  echarts.getInstanceByDom(document.getElementById(id)).getModel().getSeries().forEach(function (s) {
    if (s.subType !== 'scatter') return;
    var d = s.getData();
    for (var i = 0; i < d.count(); i++) (s.name === 'mean' ? out.means : out.dots).push([d.get('x', i), d.get('y', i)]);
  });
  return out;
})(%q)`

// mustSearchPage seeds the synthetic search into a queue and writes its
// report to dir/name with opts; it returns the page and the queue.
// prep, when not nil, runs on the seeded queue (given the runs' job ids)
// before the page is made, and may set opts.
func mustSearchPage(t *testing.T, ctx context.Context, dir, name string, runs []searchRun, order []int, opts Options,
	prep func(store *db.DB, ids []int64, opts *Options)) (string, *db.DB) {
	t.Helper()
	store := testutil.MustOpenDB(t)
	ids := mustSeedSearch(t, store, runs, order)
	if prep != nil {
		prep(store, ids, &opts)
	}
	page := filepath.Join(dir, name)
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	opts.Project, opts.Now = searchProject, reportTime
	if err := generate(ctx, store, f, opts); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return page, store
}

// TestSearchReportInBrowser opens the report of a synthetic search in
// headless Chromium, where one parameter (driver) drives the score and
// two (noise, kind) do not: the cost chart draws each run at its
// CPU-seconds (GPU-seconds on a second page where runs held GPUs), the
// history chart draws every run in the order
// they ended with a best-so-far step line that never gets worse, and the
// importance table and bars rank driver first.
func TestSearchReportInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	runs := searchRuns(30)
	order := shuffled(len(runs), 3)
	page, _ := mustSearchPage(t, ctx, dir, "search.html", runs, order, Options{}, nil)
	b := startBrowser(t, ctx, chromium, dir)
	st := b.open(t, page)
	hist := evaluate[historyState](t, b, fmt.Sprintf(historyJS, "g0-history"))
	imp := evaluate[importanceState](t, b, fmt.Sprintf(importanceJS, "g0-importance"))
	cpuCost := evaluate[costState](t, b, fmt.Sprintf(costJS, "g0-cost"))

	// A second search where half the runs held a GPU: cost is GPU-seconds.
	gpuRuns := searchRuns(12)
	for i := range gpuRuns {
		gpuRuns[i].gpus = i % 2
	}
	gpuPage, _ := mustSearchPage(t, ctx, dir, "gpu.html", gpuRuns, shuffled(len(gpuRuns), 4), Options{}, nil)
	b.open(t, gpuPage)
	gpuCost := evaluate[costState](t, b, fmt.Sprintf(costJS, "g0-cost"))

	// A third search with a replicate group of its three best runs, four
	// new seeds each: by mean, the second beats the first.
	repRuns := searchRuns(12)
	best := make([]int, len(repRuns))
	for i := range best {
		best[i] = i
	}
	slices.SortFunc(best, func(a, b int) int { return cmp.Compare(repRuns[a].score, repRuns[b].score) })
	extra := [][]float64{{10, 11, 12, 13}, {1, 2, 3, 4}, {20, 21, 22, 23}}
	var wantRep []replicate.GroupView
	repPage, _ := mustSearchPage(t, ctx, dir, "replicates.html", repRuns, shuffled(len(repRuns), 5), Options{},
		func(store *db.DB, ids []int64, opts *Options) {
			sources := []int64{ids[best[0]], ids[best[1]], ids[best[2]]}
			wantRep = mustSeedReplicates(t, store, sources, extra)
			opts.Replicates = wantRep
		})
	rep := b.open(t, repPage)
	repState := evaluate[replicateState](t, b, fmt.Sprintf(replicateJS, "rep-0"))

	if e := b.errs.all(); len(e) > 0 {
		t.Errorf("the page reported %d error(s):\n%s", len(e), strings.Join(e, "\n"))
	}
	checkCharts(t, st.charts, []string{"g0-history", "g0-importance", "g0-cost", "g0-param-0", "g0-param-1", "g0-param-2",
		"g0-parallel", "hosts"})

	t.Run("history", func(t *testing.T) {
		if len(hist.Runs) != len(runs) || len(hist.Best) != len(runs) {
			t.Fatalf("history drew %d runs and %d best-so-far points, want %d each", len(hist.Runs), len(hist.Best), len(runs))
		}
		best := math.Inf(1)
		for k, p := range hist.Runs {
			// The k-th to end is the run order[k] says.
			if p[0] != float64(k+1) || math.Abs(p[1]-runs[order[k]].score) > 1e-9 {
				t.Errorf("history point %d = %v, want [%d %g]", k, p, k+1, runs[order[k]].score)
			}
			best = min(best, runs[order[k]].score)
			if math.Abs(hist.Best[k][1]-best) > 1e-9 {
				t.Errorf("best so far at %d = %g, want %g", k+1, hist.Best[k][1], best)
			}
		}
		if hist.Step != "end" {
			t.Errorf("best-so-far line drawn with step %q, want end", hist.Step)
		}
	})
	t.Run("cost", func(t *testing.T) {
		checkCosts(t, cpuCost, "CPU-seconds", runs, func(r searchRun) float64 { return r.cpu })
		checkCosts(t, gpuCost, "GPU-seconds", gpuRuns, func(r searchRun) float64 { return float64(r.gpus) * r.wall })
	})
	t.Run("replicates", func(t *testing.T) {
		checkCharts(t, rep.charts[len(rep.charts)-2:], []string{"rep-0", "hosts"})
		if len(wantRep) != 1 || wantRep[0].Holds {
			t.Fatalf("seeded replicate groups %+v, want one whose ranking does not hold", wantRep)
		}
		if repState.Holds != "the ranking does not hold" {
			t.Errorf("the page says %q, want: the ranking does not hold", repState.Holds)
		}
		if len(repState.Rows) != 3 {
			t.Fatalf("replicate table %q, want 3 configurations", repState.Rows)
		}
		// Columns: rank, job, mean ± SD, n, values, by mean, missing.
		for k, c := range wantRep[0].Configs {
			row := repState.Rows[k]
			wantMean := floatValue(*c.Mean).Text + " ± " + floatValue(*c.SD).Text
			if row[0] != strconv.Itoa(k+1) || row[1] != strconv.FormatInt(c.JobID, 10) || row[2] != wantMean || row[3] != "5" {
				t.Errorf("row %d = %q, want rank %d, job %d, %s, n 5", k, row, k+1, c.JobID, wantMean)
			}
		}
		if got := []string{repState.Rows[0][5], repState.Rows[1][5], repState.Rows[2][5]}; !slices.Equal(got, []string{"2", "1", "3"}) {
			t.Errorf("ranks by mean %q, want 2 1 3", got)
		}
		// Five dots per configuration (the source and four replicates) at
		// their values, and a mean marker each.
		for k, c := range wantRep[0].Configs {
			var got []float64
			for _, d := range repState.Dots {
				if d[0] == float64(k) {
					got = append(got, d[1])
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(c.Values))
			if !slices.Equal(got, want) {
				t.Errorf("configuration %d: dots at %v, want %v", k+1, got, want)
			}
			if len(repState.Means) != 3 || math.Abs(repState.Means[k][1]-*c.Mean) > 1e-9 {
				t.Errorf("mean markers %v, want configuration %d's at %g", repState.Means, k+1, *c.Mean)
			}
		}
	})
	t.Run("importance", func(t *testing.T) {
		if len(imp.Rows) != 3 || imp.Rows[0][1] != "driver" {
			t.Fatalf("importance table %q, want driver first of 3", imp.Rows)
		}
		// The bars run bottom to top: driver's is the top one, the longest.
		if n := len(imp.Labels); n != 3 || imp.Labels[n-1] != "driver" || imp.Shares[n-1] <= imp.Shares[0] || imp.Shares[n-1] <= imp.Shares[1] {
			t.Errorf("importance bars %q %v, want driver on top and longest", imp.Labels, imp.Shares)
		}
		var sum float64
		for _, s := range imp.Shares {
			sum += s
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("shares sum to %g, want 1", sum)
		}
	})
}
