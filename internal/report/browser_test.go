package report

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mljob/mljob/internal/testdep"
	"github.com/mljob/mljob/internal/testutil"
)

// chromiumPath finds Debian's chromium. Without it the test fails in CI
// (CI=true), where scripts/install-deps.sh installs it, and skips elsewhere.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	testdep.SkipShort(tb, "Chromium")
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testdep.Missing(tb, "chromium not found: install it with scripts/install-deps.sh (apt-get install chromium)")
	return ""
}

// browserErrors collects what the page reports as going wrong: console
// errors, uncaught exceptions and failed loads.
type browserErrors struct {
	mu   sync.Mutex // guards list
	list []string
}

func (b *browserErrors) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.list = append(b.list, s)
}

func (b *browserErrors) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.list)
}

// chartState is what the page says of one chart container.
type chartState struct {
	ID      string  `json:"id"`
	Kind    string  `json:"kind"` // "canvas", "svg" or ""
	Width   float64 `json:"width"`
	Height  float64 `json:"height"`
	Painted int     `json:"painted"` // canvas pixels that are not transparent
}

const chartsJS = `Array.from(document.querySelectorAll('.chart')).map(function (el) {
  var c = el.querySelector('canvas, svg');
  var r = c ? c.getBoundingClientRect() : {width: 0, height: 0};
  var painted = 0;
  if (c && c.tagName === 'CANVAS' && c.width > 0 && c.height > 0) {
    var px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (var i = 3; i < px.length; i += 4) if (px[i] !== 0) painted++;
  }
  return {id: el.id, kind: c ? c.tagName.toLowerCase() : '', width: r.width, height: r.height, painted: painted};
})`

const tableJS = `Array.from(document.querySelectorAll('table.top')).map(function (t) {
  return {id: t.id, rows: Array.from(t.querySelectorAll('tbody tr')).map(function (tr) {
    return Array.from(tr.cells).map(function (td) { return td.textContent.trim(); });
  })};
})`

// curveState is what the SVG of a learning-curve chart holds: its line
// paths by stroke colour, and the data-metric the page names.
type curveState struct {
	Metric   string         `json:"metric"`
	ByStroke map[string]int `json:"byStroke"`
}

// curvesJS counts the unfilled paths (lines) of a curve chart's SVG by
// their stroke colour.
const curvesJS = `(function (id) {
  var el = document.getElementById(id), by = {};
  el.querySelectorAll('svg path').forEach(function (p) {
    var fill = p.getAttribute('fill'), stroke = p.getAttribute('stroke');
    if (stroke && (fill === 'none' || fill === null) && p.getAttribute('d').split('L').length > 3) by[stroke] = (by[stroke] || 0) + 1;
  });
  return {metric: el.dataset.metric, byStroke: by};
})(%q)`

// prunedState is what a curve chart drew of pruned runs: each series
// named as pruned with its line type and last step, and the SVG's dotted
// lines (paths with a dash array).
type prunedState struct {
	Series []struct {
		Name string  `json:"name"`
		Type string  `json:"type"`
		Last float64 `json:"last"`
	} `json:"series"`
	Dotted int    `json:"dotted"`
	Stats  string `json:"stats"`
}

// prunedJS reads a curve chart's pruned series from ECharts' model, counts
// the dotted lines of its SVG, and reads the page's pruned count.
const prunedJS = `(function (id) {
  var el = document.getElementById(id), out = {series: [], dotted: 0};
  echarts.getInstanceByDom(el).getOption().series.forEach(function (s) {
    if (/\(pruned\)$/.test(s.name)) out.series.push({name: s.name, type: s.lineStyle.type, last: s.data[s.data.length - 1][0]});
  });
  el.querySelectorAll('svg path').forEach(function (p) {
    if (p.getAttribute('stroke-dasharray') && p.getAttribute('d').split('L').length > 2) out.dotted++;
  });
  var li = document.querySelector('#stats li.pruned');
  out.stats = li ? li.textContent : '';
  return out;
})(%q)`

// extremesJS reads, from ECharts' own model, the colour it drew the
// highest and the lowest point of a parameter chart's scatter with.
const extremesJS = `(function (id) {
  var series = echarts.getInstanceByDom(document.getElementById(id)).getModel().getSeries();
  var data = series.find(function (s) { return s.subType === 'scatter'; }).getData();
  var hi = 0, lo = 0;
  for (var i = 0; i < data.count(); i++) {
    if (data.get('y', i) > data.get('y', hi)) hi = i;
    if (data.get('y', i) < data.get('y', lo)) lo = i;
  }
  return [data.getItemVisual(hi, 'style').fill, data.getItemVisual(lo, 'style').fill];
})(%q)`

// hoverJS scrolls a curve chart into view and returns the viewport
// position of the middle point of its first (best) run's line.
const hoverJS = `(function (id) {
  var el = document.getElementById(id);
  el.scrollIntoView({block: 'center'});
  var chart = echarts.getInstanceByDom(el), s = chart.getOption().series[0];
  var px = chart.convertToPixel({seriesIndex: 0}, s.data[Math.floor(s.data.length / 2)]);
  var r = el.getBoundingClientRect();
  return [r.left + px[0], r.top + px[1]];
})(%q)`

// tooltipJS is the text of a curve chart's visible tooltip, "" for none.
const tooltipJS = `(function (id) {
  var tip = document.getElementById(id).parentNode.querySelector('.curve-tip');
  return tip && tip.style.display === 'block' ? tip.textContent : '';
})(%q)`

// browser is a headless Chromium with the errors its pages reported.
type browser struct {
	ctx  context.Context
	errs *browserErrors
}

// startBrowser starts headless Chromium for the test; it ends with it.
func startBrowser(t *testing.T, ctx context.Context, chromium, dir string) browser {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // root in CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Without these Chromium phones home at start, and on a machine
		// with no network its refused connections are noise at best.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(filepath.Join(dir, "chromium-profile")),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc)
	var chromeLog bytes.Buffer
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(format string, args ...any) {
		fmt.Fprintf(&chromeLog, format+"\n", args...)
	}))
	t.Cleanup(cancelBrowser)
	t.Cleanup(func() {
		if t.Failed() && chromeLog.Len() > 0 {
			t.Logf("chromedp:\n%s", chromeLog.String())
		}
	})
	errs := &browserErrors{}
	// Listen, unlike Events, hands over each event before the reply to any
	// later command: once the last action returns, every error the page
	// reported while loading and drawing has been seen.
	err := chromedp.Listen(browserCtx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, fmt.Sprintf("%s%s", a.Value, a.Description))
				}
				errs.add("console." + string(ev.Type) + ": " + strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			errs.add(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				errs.add("log: " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browser{ctx: browserCtx, errs: errs}
}

// pageState is what a test reads of an opened report.
type pageState struct {
	charts []chartState
	tables []topTable
	pwned  bool
}

// topTable is a top-configurations table's cells.
type topTable struct {
	ID   string     `json:"id"`
	Rows [][]string `json:"rows"`
}

// open loads a report page and waits until every chart is drawn.
func (b browser) open(t *testing.T, page string) pageState {
	t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate("file://"+page)); err != nil {
		t.Fatalf("open %s: %v", filepath.Base(page), err)
	}
	// ECharts paints on animation frames: wait (by polling on frames, up to
	// a deadline) until every chart container holds a sized canvas or svg.
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll('.chart')).every(function (el) {
		var c = el.querySelector('canvas, svg'); return c && c.getBoundingClientRect().width > 0; })`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("wait for the charts of %s: %v", filepath.Base(page), err)
	}
	return pageState{
		charts: evaluate[[]chartState](t, b, chartsJS),
		tables: evaluate[[]topTable](t, b, tableJS),
		pwned:  evaluate[bool](t, b, `window.pwned === 1`),
	}
}

// evaluate runs js in the open page and returns its value.
func evaluate[T any](t *testing.T, b browser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %.60s…: %v", js, err)
	}
	return v
}

// mustPage writes the report of a seeded project to dir/name.
func mustPage(t *testing.T, ctx context.Context, dir, name, project string, runs []seedRun) string {
	t.Helper()
	store := testutil.MustOpenDB(t)
	MustSeed(t, store, runs)
	page := filepath.Join(dir, name)
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := generate(ctx, store, f, Options{Project: project, Now: reportTime}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return page
}

func checkCharts(t *testing.T, charts []chartState, want []string) {
	t.Helper()
	var ids []string
	for _, c := range charts {
		ids = append(ids, c.ID)
		if c.Kind != "canvas" && c.Kind != "svg" || c.Width <= 0 || c.Height <= 0 {
			t.Errorf("chart %s: %s %gx%g, want a canvas or svg of nonzero size", c.ID, c.Kind, c.Width, c.Height)
		}
		if c.Kind == "canvas" && c.Painted == 0 {
			t.Errorf("chart %s: canvas is blank", c.ID)
		}
	}
	if !slices.Equal(ids, want) {
		t.Errorf("chart containers %v, want %v", ids, want)
	}
}

// TestReportInBrowser opens two reports in headless Chromium: wine_data
// (cvMse, lower is better, with a baseline and learning curves from CV
// folds) and iris (two objectives, accuracy maximised). No console error,
// every chart drawn, the curves drawn and named on hover, the tables
// ranked and the points coloured by each objective's goal, and a
// screenshot of wine_data (also written to $MLJOB_SCREENSHOT_DIR when set).
func TestReportInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	winePage := mustPage(t, ctx, dir, "wine.html", "wine_data", append(slices.Clone(seedRuns), prunedRuns...))
	irisPage := mustPage(t, ctx, dir, "iris.html", "iris", irisRuns)
	b := startBrowser(t, ctx, chromium, dir)

	wine := b.open(t, winePage)
	curves := evaluate[curveState](t, b, fmt.Sprintf(curvesJS, "g0-curves"))
	pruned := evaluate[prunedState](t, b, fmt.Sprintf(prunedJS, "g0-curves"))
	wineColours := evaluate[[]string](t, b, fmt.Sprintf(extremesJS, "g0-param-0"))
	at := evaluate[[]float64](t, b, fmt.Sprintf(hoverJS, "g0-curves"))
	err := chromedp.Do(b.ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, at[0], at[1]),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(tooltipJS, "g0-curves")+".indexOf('job') >= 0", chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Errorf("hover the best curve at %v: %v", at, err)
	}
	tip := evaluate[string](t, b, fmt.Sprintf(tooltipJS, "g0-curves"))
	if err := chromedp.Do(b.ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 0, 0)); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}

	iris := b.open(t, irisPage)
	irisColours := evaluate[[]string](t, b, fmt.Sprintf(extremesJS, "g0-param-0"))
	irisCurves := evaluate[curveState](t, b, fmt.Sprintf(curvesJS, "g0-curves"))

	t.Run("no console errors", func(t *testing.T) {
		// Every event sent before the last reply has been handled: the
		// browser sends them in order on one connection.
		if e := b.errs.all(); len(e) > 0 {
			t.Errorf("the pages reported %d error(s):\n%s", len(e), strings.Join(e, "\n"))
		}
		if wine.pwned || iris.pwned {
			t.Error("a job field ran as a script")
		}
	})
	t.Run("charts drawn", func(t *testing.T) {
		checkCharts(t, wine.charts, []string{"g0-curves", "g0-history", "g0-importance", "g0-param-0", "g0-param-1", "g0-param-2", "g0-param-3",
			"g0-param-4", "g0-parallel", "hosts"})
		// iris's loss section has one run: a curve, nothing to compare.
		checkCharts(t, iris.charts, []string{"g0-curves", "g0-history", "g0-importance", "g0-param-0", "g0-param-1", "g0-parallel", "g1-curves", "hosts"})
	})
	t.Run("learning curves", func(t *testing.T) {
		// Six runs with curves: the five best by cvMse in their colours,
		// the diverged one faint.
		if curves.Metric != "valLoss" {
			t.Errorf("curve chart draws %q, want valLoss", curves.Metric)
		}
		for _, c := range []string{"#2f6fde", "#d92d20", "#12b76a", "#7a5af8", "#f79009"} {
			if curves.ByStroke[c] != 1 {
				t.Errorf("%d lines in %s, want 1 (lines by stroke: %v)", curves.ByStroke[c], c, curves.ByStroke)
			}
		}
		// The diverged one and pruned job 10 (pruned job 9's three points
		// are too few for curvesJS: see "pruned runs").
		if curves.ByStroke["#98a2b3"] != 2 {
			t.Errorf("%d faint lines, want 2 (lines by stroke: %v)", curves.ByStroke["#98a2b3"], curves.ByStroke)
		}
		if irisCurves.Metric != "accuracy" || irisCurves.ByStroke["#2f6fde"] != 1 || irisCurves.ByStroke["#12b76a"] != 1 {
			t.Errorf("iris curves %+v, want accuracy, three runs in colour", irisCurves)
		}
	})
	t.Run("pruned runs", func(t *testing.T) {
		// Jobs 9 and 10, stopped at steps 3 and 9: dotted, ending there,
		// counted apart in the page's stats.
		if len(pruned.Series) != 2 || pruned.Series[0].Name != "job 9 (pruned)" || pruned.Series[0].Last != 3 ||
			pruned.Series[1].Name != "job 10 (pruned)" || pruned.Series[1].Last != 9 {
			t.Errorf("pruned series %+v, want jobs 9 and 10 ending at steps 3 and 9", pruned.Series)
		}
		for _, s := range pruned.Series {
			if s.Type != "dotted" {
				t.Errorf("%s drawn %q, want dotted", s.Name, s.Type)
			}
		}
		if pruned.Dotted != 2 {
			t.Errorf("%d dotted lines in the SVG, want 2", pruned.Dotted)
		}
		if pruned.Stats != "2pruned" {
			t.Errorf("the page's pruned count reads %q, want 2pruned", pruned.Stats)
		}
	})
	t.Run("hover names the run and its config", func(t *testing.T) {
		for _, want := range []string{"job 2 · order 2", "#1 by cvMse", "learningRate=0.003", "optimizer=adam", "mean of 3 series"} {
			if !strings.Contains(tip, want) {
				t.Errorf("tooltip %q lacks %q", tip, want)
			}
		}
	})
	t.Run("colours follow the goal", func(t *testing.T) {
		// cvMse is minimised: its lowest point is the good colour; accuracy
		// is maximised: its highest is.
		if !slices.Equal(wineColours, []string{"#e8a33d", "#2f6fde"}) {
			t.Errorf("wine_data's highest and lowest cvMse drawn %v, want [bad good]", wineColours)
		}
		if !slices.Equal(irisColours, []string{"#2f6fde", "#e8a33d"}) {
			t.Errorf("iris's highest and lowest accuracy drawn %v, want [good bad]", irisColours)
		}
	})
	t.Run("top tables", func(t *testing.T) {
		if len(wine.tables) != 1 || wine.tables[0].ID != "g0-top" {
			t.Fatalf("wine_data tables %+v", wine.tables)
		}
		rows := wine.tables[0].Rows
		// Columns: #, job, cvMse, learningRate, notes, optimizer, pcaComponents, dropout, loss, metric, host, duration.
		var jobs []string
		for _, r := range rows {
			if len(r) != 12 {
				t.Fatalf("row %q has %d cells, want 12", r, len(r))
			}
			jobs = append(jobs, r[1])
		}
		if want := []string{"2", "3", "8 baseline", "7", "4", "1", "5"}; !slices.Equal(jobs, want) {
			t.Errorf("top jobs %q, want %q", jobs, want)
		}
		if want := []string{"1", "2", "24000 ± 1080.12", "0.003", "plain", "adam", "0.9", "0.3", "0.1875", "-24000", "gpu-box", "39.20s"}; !slices.Equal(rows[0], want) {
			t.Errorf("best row %q, want %q", rows[0], want)
		}
		if last := rows[len(rows)-1]; last[2] != "NaN" || last[8] != "NaN" {
			t.Errorf("NaN run's cvMse and loss shown as %q, %q", last[2], last[8])
		}
		if len(iris.tables) != 2 || iris.tables[0].Rows[0][1] != "2" || iris.tables[0].Rows[0][2] != "0.97" || len(iris.tables[1].Rows) != 1 {
			t.Errorf("iris tables %+v, want accuracy's best (job 2, 0.97) first and loss's one run", iris.tables)
		}
	})
	t.Run("screenshot", func(t *testing.T) {
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("screenshot is not a PNG: %v", err)
		}
		if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 900 {
			t.Errorf("screenshot is %dx%d, want the whole page at 1280 wide", b.Dx(), b.Dy())
		}
		dirs := []string{t.TempDir()}
		if d := os.Getenv("MLJOB_SCREENSHOT_DIR"); d != "" {
			dirs = append(dirs, d)
		}
		for _, d := range dirs {
			if err := os.WriteFile(filepath.Join(d, "report.png"), shot, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("screenshot: %s", filepath.Join(dirs[len(dirs)-1], "report.png"))
	})
}
