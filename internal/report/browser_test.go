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

const tableJS = `Array.from(document.querySelectorAll('#top tbody tr')).map(function (tr) {
  return Array.from(tr.cells).map(function (td) { return td.textContent.trim(); });
})`

// TestReportInBrowser opens a report of a seeded sweep in headless
// Chromium: no console error, every chart drawn, the top table right, and
// a screenshot (also written to $MLJOB_SCREENSHOT_DIR when set).
func TestReportInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	store := testutil.MustOpenDB(t)
	MustSeed(t, store, seedRuns)

	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := generate(ctx, store, f, Options{Project: "wine_data", Now: reportTime}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

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
	defer cancelAlloc()
	var chromeLog bytes.Buffer
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(format string, args ...any) {
		fmt.Fprintf(&chromeLog, format+"\n", args...)
	}))
	defer cancelBrowser()
	t.Cleanup(func() {
		if t.Failed() && chromeLog.Len() > 0 {
			t.Logf("chromedp:\n%s", chromeLog.String())
		}
	})

	var errs browserErrors
	// Listen, unlike Events, hands over each event before the reply to any
	// later command: once the last action returns, every error the page
	// reported while loading and drawing has been seen.
	err = chromedp.Listen(browserCtx, func(ev any) {
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

	run := func(name string, a func() error) {
		t.Helper()
		if err := a(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	run("open the page", func() error {
		return chromedp.Do(browserCtx, chromedp.Navigate("file://"+page), chromedp.WaitVisible("#top"))
	})
	// ECharts paints on animation frames: wait (by polling on frames, up to
	// a deadline) until every chart container holds a sized canvas.
	run("wait for the charts", func() error {
		_, err := chromedp.Run(browserCtx, chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll('.chart')).every(function (el) {
			var c = el.querySelector('canvas'); return c && c.width > 0; })`, chromedp.WithPollingTimeout(30*time.Second)))
		return err
	})
	var charts []chartState
	var rows [][]string
	var pwned bool
	var shot []byte
	run("read the charts", func() (err error) {
		charts, err = chromedp.Run(browserCtx, chromedp.Evaluate[[]chartState](chartsJS))
		return err
	})
	run("read the top table", func() (err error) {
		rows, err = chromedp.Run(browserCtx, chromedp.Evaluate[[][]string](tableJS))
		return err
	})
	run("check for injected script", func() (err error) {
		pwned, err = chromedp.Run(browserCtx, chromedp.Evaluate[bool](`window.pwned === 1`))
		return err
	})
	run("screenshot", func() (err error) {
		shot, err = chromedp.Run(browserCtx, chromedp.FullScreenshot(100))
		return err
	})

	t.Run("no console errors", func(t *testing.T) {
		// Every event sent before the last reply has been handled: the
		// browser sends them in order on one connection.
		if e := errs.all(); len(e) > 0 {
			t.Errorf("the page reported %d error(s):\n%s", len(e), strings.Join(e, "\n"))
		}
		if pwned {
			t.Error("a job field ran as a script")
		}
	})
	t.Run("charts drawn", func(t *testing.T) {
		want := []string{"param-0", "param-1", "param-2", "param-3", "parallel", "hosts"}
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
	})
	t.Run("top table", func(t *testing.T) {
		// Columns: #, job, learningRate, notes, optimizer, dropout, loss, metric, host, duration.
		var jobs []string
		for _, r := range rows {
			if len(r) != 10 {
				t.Fatalf("row %q has %d cells, want 10", r, len(r))
			}
			jobs = append(jobs, r[1])
		}
		if want := []string{"3", "2", "7", "1", "4", "5"}; !slices.Equal(jobs, want) {
			t.Errorf("top jobs %v, want %v", jobs, want)
		}
		if want := []string{"1", "3", "0.01", hostile, "adam", "0.1", "0.1502", "-0.1391", "lab-ws", "1m3s"}; !slices.Equal(rows[0], want) {
			t.Errorf("best row %q, want %q", rows[0], want)
		}
		if last := rows[len(rows)-1]; last[6] != "NaN" || last[7] != "NaN" {
			t.Errorf("NaN run's loss and metric shown as %q, %q", last[6], last[7])
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
