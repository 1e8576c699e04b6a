package live

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
)

// progressEvery is how often a run's progress is printed at most: enough
// to follow a long run in a log without a line per save.
const progressEvery = 30 * time.Second

// Lines writes one plain line per state change: an RFC 3339 UTC time, then
// a sentence whose wording is stable, for grep and for logs.
//
//	2026-11-25T21:03:04Z order 12 started on h1 slot 0 (job 7, attempt 1)
//	2026-11-25T21:03:09Z order 12 progress: fold2 step 37 valLoss 0.41 (job 7, attempt 1)
//	2026-11-25T21:03:10Z order 13 pruned on h1 (job 8, attempt 1): pruned at step 9 (rung 2): valLoss 0.53 ranked 5 of 7, …
//	2026-11-25T21:04:10Z best cvMse (lower is better): 24901.3 — job 7 (sweep wine-lr)
//
// Probes that change nothing print nothing, and neither do a Slurm
// entry's polls that find the same counts. A run's progress prints at
// most every progressEvery (the first report at once); a group's best
// prints when a run of this dispatch makes it better. Its methods are
// safe for concurrent use.
type Lines struct {
	mu    sync.Mutex // guards the fields below
	w     io.Writer
	busy  map[string]bool        // hosts last seen over their max_load
	queue map[string]slurmCounts // Slurm entries' counts last printed
	runs  runBook
	shown map[int64]time.Time // when each run's progress was last printed
	bests *bestBook
}

// slurmCounts is a Slurm entry's runs waiting in its queue and on a node.
type slurmCounts struct{ pending, running int }

// NewLines returns a Lines writing to w.
func NewLines(w io.Writer) *Lines {
	return &Lines{w: w, busy: map[string]bool{}, queue: map[string]slurmCounts{},
		runs: runBook{}, shown: map[int64]time.Time{}, bests: newBestBook()}
}

// SeedBests takes the best runs the queue held before the dispatch
// (db.SweepProgresses): a run prints a best line only when it beats them.
func (l *Lines) SeedBests(ps []db.SweepProgress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bests.seedFrom(ps)
}

// Observe writes the line for e, if it has one. A write error is dropped:
// a broken log pipe must not stop the dispatch.
func (l *Lines) Observe(e dispatch.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := e.Time.UTC().Format(time.RFC3339)
	if text := l.text(e); text != "" {
		_, _ = fmt.Fprintf(l.w, "%s %s\n", at, text)
	}
	if b, better := l.bests.observe(e); better {
		_, _ = fmt.Fprintf(l.w, "%s %s\n", at, FormatBest(b))
	}
}

// progressText is the line of a run's progress, or "" when one was
// printed less than progressEvery ago; l.mu is held.
func (l *Lines) progressText(e dispatch.Event, who string) string {
	r := l.runs.observe(e)
	if r == nil {
		return ""
	}
	if last, ok := l.shown[e.Order]; ok && e.Time.Sub(last) < progressEvery {
		return ""
	}
	l.shown[e.Order] = e.Time
	return fmt.Sprintf("order %d progress: %s %s", e.Order, formatStep(r.snapshot(e.Order)), who)
}

// text is the line for e without its time, or "" for none; l.mu is held.
func (l *Lines) text(e dispatch.Event) string {
	who := fmt.Sprintf("(job %d, attempt %d)", e.Job, e.Attempt)
	if e.Kind == dispatch.OrderProgress {
		return l.progressText(e, who)
	}
	l.runs.observe(e)
	if _, running := l.runs[e.Order]; !running {
		delete(l.shown, e.Order) // it ended
	}
	switch e.Kind {
	case dispatch.HostUp:
		delete(l.busy, e.Host)
		if e.Load != 0 {
			return fmt.Sprintf("host %s up (load %.2f)", e.Host, e.Load)
		}
		return fmt.Sprintf("host %s up", e.Host)
	case dispatch.HostProbed:
		if l.busy[e.Host] && (e.MaxLoad <= 0 || e.Load < e.MaxLoad) {
			delete(l.busy, e.Host)
			return fmt.Sprintf("host %s bored again (load %.2f < max_load %.2f)", e.Host, e.Load, e.MaxLoad)
		}
	case dispatch.HostBusy:
		if !l.busy[e.Host] {
			l.busy[e.Host] = true
			return fmt.Sprintf("host %s busy (load %.2f >= max_load %.2f)", e.Host, e.Load, e.MaxLoad)
		}
	case dispatch.HostDown:
		delete(l.busy, e.Host)
		return fmt.Sprintf("host %s down: %s", e.Host, e.Reason)
	case dispatch.HostRefused:
		return fmt.Sprintf("host %s refused: %s", e.Host, e.Reason)
	case dispatch.HostQueue:
		// It comes with every poll: print changes only. An entry not
		// heard of yet counts as empty, so an idle one stays quiet.
		c := slurmCounts{e.Pending, e.Running}
		if l.queue[e.Host] != c {
			l.queue[e.Host] = c
			return fmt.Sprintf("host %s: Slurm %d pending, %d running", e.Host, e.Pending, e.Running)
		}
	case dispatch.OrderClaimed:
		return fmt.Sprintf("order %d claimed for %s slot %s %s", e.Order, e.Host, e.Slot, who)
	case dispatch.OrderStarted:
		if e.Task != "" {
			// Handed to Slurm: its task, not a slot, finds it (squeue, sacct).
			return fmt.Sprintf("order %d started on %s as Slurm task %s %s", e.Order, e.Host, e.Task, who)
		}
		return fmt.Sprintf("order %d started on %s slot %s %s", e.Order, e.Host, e.Slot, who)
	case dispatch.OrderSucceeded:
		return fmt.Sprintf("order %d succeeded on %s in %s %s", e.Order, e.Host, e.Duration.Round(time.Millisecond), who)
	case dispatch.OrderFailed:
		return fmt.Sprintf("order %d failed on %s %s: %s", e.Order, e.Host, who, e.Reason)
	case dispatch.OrderPruned:
		return fmt.Sprintf("order %d pruned on %s %s: %s", e.Order, e.Host, who, e.Reason)
	case dispatch.OrderReleased:
		return fmt.Sprintf("order %d requeued from %s %s: %s", e.Order, e.Host, who, e.Reason)
	case dispatch.OrderRequeued:
		return fmt.Sprintf("order %d requeued after its script failed on %s %s", e.Order, e.Host, who)
	case dispatch.OrderAbandoned:
		return fmt.Sprintf("order %d abandoned on %s %s: %s", e.Order, e.Host, who, e.Reason)
	case dispatch.OrderDetached:
		return fmt.Sprintf("order %d left running on %s %s", e.Order, e.Host, who)
	}
	return ""
}
