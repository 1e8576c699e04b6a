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
// (done, failed, running, queued, rate, ETA) and one line per host (state,
// runs in flight, load, last error; a Slurm entry shows Slurm's pending and
// running counts instead of runs and load). Events only update a Tally;
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

	snapMu sync.Mutex // guards snap, the copy the decorators draw from
	snap   Snapshot

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
		))
	}
	go v.sync(opts.Refresh)
	return v
}

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
	v.snapMu.Lock()
	v.snap = s
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
	return fmt.Sprintf("%d/%d  succeeded %d  failed %d  running %d  queued %d  %.1f/min  %s",
		s.Done(), s.Total(), s.Succeeded, s.Failed, s.Running, s.Queued, s.Rate(now), eta)
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

// clip keeps s within width cells: a wrapped line would break the redraw.
func clip(s string, width int) string {
	if width <= 0 || runewidth.StringWidth(s) <= width {
		return s
	}
	return runewidth.Truncate(s, width, "…")
}
