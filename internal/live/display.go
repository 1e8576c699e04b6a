package live

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
)

// countQueuedEvery is how often the view asks how many orders wait: often
// enough for the bar, rarely enough not to load the queue.
const countQueuedEvery = 500 * time.Millisecond

// DisplayOptions says how a dispatch is shown.
type DisplayOptions struct {
	// View draws the live view (on a terminal); otherwise one plain line
	// per state change.
	View bool
	// Verbose is dispatch -v: the dispatcher's detail lines (Log) replace
	// the plain lines, and the timeline follows the summary.
	Verbose bool
	// Hosts are the host entries, in the view's order.
	Hosts []string
	// ProcessStart is when the process began (the timeline counts from
	// it); Start is when the dispatch began (the rate and the wall time).
	ProcessStart, Start time.Time
	// Queued, with View, is asked every half second how many orders wait,
	// for the bar; an error leaves the count stale (dispatch reports its
	// own). Off a terminal nothing would read the count, so it is not
	// asked.
	Queued func(context.Context) (int, error)
	// Bests are the queue's best runs before the dispatch, per sweep (and
	// per project's jobs outside sweeps) and objective, as
	// db.SweepProgresses reads them: the best so far that the view, the
	// plain lines and the summary show counts them too.
	Bests []db.SweepProgress
}

// Display is everything a dispatch shows on standard error: the live view
// or the plain lines while it runs, then the summary (and, with Verbose,
// the timeline). Warnings and log lines go through Warn, so that on a
// terminal they print above the view.
type Display struct {
	w        io.Writer
	opts     DisplayOptions
	view     *View // nil off a terminal
	tally    *Tally
	lines    *Lines
	timeline *Timeline

	stopCount chan struct{} // closed by Stop: ends the count goroutine
	countDone chan struct{} // closed when the count goroutine has returned
	stopOnce  sync.Once
}

// NewDisplay starts showing a dispatch on w; ctx bounds the count of
// waiting orders. Stop (or Finish) ends it.
func NewDisplay(ctx context.Context, w io.Writer, opts DisplayOptions) *Display {
	d := &Display{
		w: w, opts: opts,
		tally:     NewTally(opts.Start, opts.Hosts),
		lines:     NewLines(w),
		timeline:  NewTimeline(opts.ProcessStart, opts.Start),
		stopCount: make(chan struct{}),
		countDone: make(chan struct{}),
	}
	d.tally.SeedBests(opts.Bests)
	d.lines.SeedBests(opts.Bests)
	if !opts.View {
		close(d.countDone)
		return d
	}
	d.view = NewView(w, ViewOptions{Hosts: opts.Hosts, Start: opts.Start})
	d.view.SeedBests(opts.Bests)
	if opts.Queued == nil {
		close(d.countDone)
		return d
	}
	go d.countQueued(ctx)
	return d
}

// Warn is where warnings go: above the view on a terminal, else w.
func (d *Display) Warn() io.Writer {
	if d.view != nil {
		return d.view
	}
	return d.w
}

// Log is where the dispatcher's detail lines go: Warn with Verbose, else
// nil (none).
func (d *Display) Log() io.Writer {
	if d.opts.Verbose {
		return d.Warn()
	}
	return nil
}

// Observe applies one event of the dispatcher. Off a terminal it prints
// the event's plain line, unless Verbose, whose log lines say the same in
// more detail; a Slurm entry's counts, which the dispatcher does not log,
// keep their line.
func (d *Display) Observe(e dispatch.Event) {
	if d.opts.Verbose {
		d.timeline.Observe(e)
	}
	if d.view != nil {
		d.view.Observe(e)
		return
	}
	d.tally.Observe(e)
	if !d.opts.Verbose || e.Kind == dispatch.HostQueue {
		d.lines.Observe(e)
	}
}

// Snapshot is the state the display has been told of.
func (d *Display) Snapshot() Snapshot {
	if d.view != nil {
		return d.view.Snapshot()
	}
	return d.tally.Snapshot()
}

// Stop stops the count of waiting orders and the view, leaving the
// terminal clean; it is idempotent, for a deferred call on an early return.
func (d *Display) Stop() {
	d.stopOnce.Do(func() {
		close(d.stopCount)
		<-d.countDone
		if d.view != nil {
			d.view.Stop()
		}
	})
}

// Finish stops the display, then writes the summary of sum (the counts come
// from the dispatcher, as they include adopted runs; the failures from the
// events) and, with Verbose, the timeline, both ending now.
func (d *Display) Finish(sum dispatch.Summary) error {
	d.Stop()
	end := time.Now()
	snap := d.Snapshot()
	if err := WriteSummary(d.w, Summary{
		Wall: end.Sub(d.opts.Start), Succeeded: sum.Succeeded, Failed: sum.Failed, Cancelled: snap.Cancelled, Pruned: sum.Pruned,
		Requeued: sum.Requeued, Detached: sum.Detached, Adopted: sum.Adopted, Failures: snap.Failures,
		Unsaved: sum.Unsaved, Bests: snap.Bests,
		CPUSeconds: snap.CPUSeconds, GPUSeconds: snap.GPUSeconds, Costed: snap.Costed,
	}); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	if d.opts.Verbose {
		if err := d.timeline.Write(d.w, end); err != nil {
			return fmt.Errorf("write timeline: %w", err)
		}
	}
	return nil
}

// countQueued tells the view how many orders wait until Stop, then closes
// countDone.
func (d *Display) countQueued(ctx context.Context) {
	defer close(d.countDone)
	t := time.NewTicker(countQueuedEvery)
	defer t.Stop()
	for {
		if n, err := d.opts.Queued(ctx); err == nil {
			d.view.SetQueued(n)
		}
		select {
		case <-d.stopCount:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// UseView reports whether dispatch draws the live view: only on a terminal
// (tty: standard error is one), and not with plain (--plain), in CI or on
// a dumb terminal. getenv reads the environment.
func UseView(tty, plain bool, getenv func(string) string) bool {
	if plain || !tty || getenv("TERM") == "dumb" {
		return false
	}
	ci := getenv("CI")
	return ci == "" || ci == "false" || ci == "0"
}

// WatchInterrupt prints on warn, when ctx ends (Ctrl-C), that the dispatch
// is stopping, after calling stopSignals (when set), which restores
// default signal handling so that a second Ctrl-C ends the process at
// once. The returned func stops the watch and waits for it.
func WatchInterrupt(ctx context.Context, warn io.Writer, stopSignals func()) func() {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			if stopSignals != nil {
				stopSignals()
			}
			fmt.Fprintln(warn, "Stopping: no new work will start; saving state (Ctrl-C again to quit at once).")
		case <-stop:
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}
