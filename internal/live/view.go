package live

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-runewidth"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
)

// Defaults for ViewOptions.
const (
	DefaultRefresh = 150 * time.Millisecond
	barWidth       = 30
)

// ViewOptions configure a View.
type ViewOptions struct {
	// Hosts are listed in this order, one line each.
	Hosts []string
	// Start is when the dispatch began, for the rate; zero = now.
	Start time.Time
	// Refresh is how often the view is redrawn; 0 = DefaultRefresh.
	Refresh time.Duration
	// ForceTTY draws even when w is not a terminal (tests).
	ForceTTY bool
	// Now is the clock for the rate and ETA; nil = time.Now.
	Now func() time.Time
}

// View draws a dispatch on a terminal, redrawn in place: an overall bar
// (done, failed, running, queued, rate, ETA), one line per host (state,
// runs in flight, load, last error; a Slurm entry shows Slurm's pending and
// running counts instead of runs and load), then the best run so far of
// each sweep the dispatch runs jobs of, and the latest progress of each run
// that reports some ("job 12 fold2 step 37 valLoss 0.41"). Events only
// update a Tally;
// mpb draws from its own goroutine, reading a snapshot, so Observe never
// waits on the terminal.
type View struct {
	tally *Tally
	now   func() time.Time
	p     *mpb.Progress
	bars  []*mpb.Bar

	mu      sync.Mutex // guards stopped and out
	stopped bool
	out     io.Writer

	snapMu sync.Mutex // guards snap and extra, the copies the decorators draw from
	snap   Snapshot
	extra  []string // the lines below the hosts (extraLines)

	quit chan struct{} // closed by Stop: ends the sync goroutine
	done chan struct{} // closed when the sync goroutine has returned
}

// NewView starts drawing on w.
func NewView(w io.Writer, opts ViewOptions) *View {
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	v := &View{
		tally: NewTally(opts.Start, opts.Hosts),
		now:   opts.Now,
		out:   w,
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	v.snap = v.tally.Snapshot()
	v.p = mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(opts.Refresh), mpb.ContainerOptional(mpb.ForceTTY(), opts.ForceTTY), mpb.ContainerOptional(mpb.WithAutoRefresh(), opts.ForceTTY))
	// Created with total 0, the bar never completes on its own: the
	// total grows as orders are submitted, and Stop ends it.
	v.bars = append(v.bars, v.p.New(0,
		mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding("-").Rbound("]"),
		mpb.BarWidth(barWidth),
		mpb.BarOptional(v.extraRows(), len(opts.Hosts) == 0),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return "dispatch " })),
		mpb.AppendDecorators(decor.Any(func(s decor.Statistics) string {
			// mpb draws the bar at its width whatever is left: leave room for
			// it, or the line wraps and the redraw no longer erases it.
			return clip(" "+v.overall(), s.AvailableWidth-barWidth-2)
		})),
	))
	for i := range opts.Hosts {
		v.bars = append(v.bars, v.p.New(0, mpb.NopStyle(),
			mpb.PrependDecorators(decor.Any(func(s decor.Statistics) string {
				return clip(v.hostLine(i), s.AvailableWidth)
			})),
			mpb.BarOptional(v.extraRows(), i == len(opts.Hosts)-1),
		))
	}
	go v.sync(opts.Refresh)
	return v
}

// SeedBests takes the best runs the queue held before the dispatch
// (db.SweepProgresses), which the groups' bests start from.
func (v *View) SeedBests(ps []db.SweepProgress) { v.tally.SeedBests(ps) }

// Observe applies one event; it never blocks on drawing.
func (v *View) Observe(e dispatch.Event) { v.tally.Observe(e) }

// SetQueued records how many orders wait in the queue.
func (v *View) SetQueued(n int) { v.tally.SetQueued(n) }

// Snapshot returns the state the view has been told of.
func (v *View) Snapshot() Snapshot { return v.tally.Snapshot() }

// Write prints p above the view (log lines, warnings); after Stop it goes
// straight to the output.
func (v *View) Write(p []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stopped {
		return v.out.Write(p)
	}
	return v.p.Write(p)
}

// Stop draws the last frame and leaves the cursor on the line below it,
// so that what is printed next follows the view. It is idempotent.
func (v *View) Stop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.stopped {
		return
	}
	v.stopped = true
	close(v.quit)
	<-v.done
	v.copySnapshot()
	for _, b := range v.bars {
		b.Abort(false) // keep the last frame on the screen
	}
	v.p.Wait()
}

// sync copies the tally for the decorators and moves the bar, until Stop.
func (v *View) sync(every time.Duration) {
	defer close(v.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		v.copySnapshot()
		select {
		case <-v.quit:
			return
		case <-t.C:
		}
	}
}

func (v *View) copySnapshot() {
	s := v.tally.Snapshot()
	extra := extraLines(s)
	v.snapMu.Lock()
	v.snap, v.extra = s, extra
	v.snapMu.Unlock()
	v.bars[0].SetTotal(int64(s.Total()), false)
	v.bars[0].SetCurrent(int64(s.Done()))
}

func (v *View) current() Snapshot {
	v.snapMu.Lock()
	defer v.snapMu.Unlock()
	return v.snap
}

// overall is the text after the bar.
func (v *View) overall() string {
	s := v.current()
	now := v.now()
	eta := "ETA --"
	if d, ok := s.ETA(now); ok {
		eta = "ETA " + d.Round(time.Second).String()
	}
	pruned := ""
	if s.Pruned > 0 {
		// Only when some were: a dispatch without a pruner reads as before.
		pruned = fmt.Sprintf("  pruned %d", s.Pruned)
	}
	return fmt.Sprintf("%d/%d  succeeded %d  failed %d%s  running %d  queued %d  %.1f/min  %s",
		s.Done(), s.Total(), s.Succeeded, s.Failed, pruned, s.Running, s.Queued, s.Rate(now), eta)
}

// hostLine is host i's line.
func (v *View) hostLine(i int) string {
	s := v.current()
	if i >= len(s.Hosts) {
		return ""
	}
	return formatHost(s.Hosts[i])
}

// formatHost is a host's line: name, state, runs in flight and load, or
// for a Slurm entry Slurm's own counts, then the last error.
func formatHost(h HostSnapshot) string {
	var line string
	if h.Slurm {
		// Its runs wait in Slurm's queue or run on nodes; the login
		// node's load says nothing of them, so none is shown.
		line = fmt.Sprintf("  %-14s %-10s slurm: %d pending · %d running", h.Name, h.State, h.SlurmPending, h.SlurmRunning)
	} else {
		load := "load -"
		if h.HasLoad {
			load = fmt.Sprintf("load %.2f", h.Load)
		}
		line = fmt.Sprintf("  %-14s %-10s %3d running  %-10s", h.Name, h.State, h.Running, load)
	}
	if h.LastErr != "" {
		line += "  last error: " + h.LastErr
	}
	return strings.TrimRight(line, " ")
}

// The most lines below the hosts: a group's best, then a run's progress.
const (
	maxBestLines = 4
	maxRunLines  = 12
)

// extraRows draws the lines below the hosts, extraLines, as rows under the
// last bar: mpb counts a row per filler, and one that writes nothing is no
// row, so a fixed set of fillers draws as many lines as there are, up to
// their number, and the redraw erases exactly what it drew.
func (v *View) extraRows() mpb.BarOption {
	fillers := make([]mpb.BarFiller, maxBestLines+maxRunLines)
	for i := range fillers {
		fillers[i] = mpb.BarFillerFunc(func(w io.Writer, s decor.Statistics) error {
			v.snapMu.Lock()
			line := ""
			if i < len(v.extra) {
				line = v.extra[i]
			}
			v.snapMu.Unlock()
			if line == "" {
				return nil
			}
			_, err := io.WriteString(w, clip(line, s.AvailableWidth)+"\n")
			return err
		})
	}
	return mpb.BarBtmExtender(fillers...)
}

// extraLines are the lines below the hosts: each group's best run so far
// (at most maxBestLines), then each run's latest progress (at most
// maxRunLines), the last of either saying how many more there are.
func extraLines(s Snapshot) []string {
	var lines []string
	for i, b := range s.Bests {
		if i == maxBestLines-1 && len(s.Bests) > maxBestLines {
			lines = append(lines, fmt.Sprintf("  … and %d more", len(s.Bests)-i))
			break
		}
		lines = append(lines, "  "+FormatBest(b))
	}
	for i, r := range s.Runs {
		if i == maxRunLines-1 && len(s.Runs) > maxRunLines {
			lines = append(lines, fmt.Sprintf("  … and %d more running", len(s.Runs)-i))
			break
		}
		lines = append(lines, "  "+formatRun(r))
	}
	return lines
}

// clip keeps s within width cells: a wrapped line would break the redraw.
func clip(s string, width int) string {
	if width <= 0 || runewidth.StringWidth(s) <= width {
		return s
	}
	return runewidth.Truncate(s, width, "…")
}
