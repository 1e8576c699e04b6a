package live

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/dispatch"
)

// Timeline keeps where a dispatch's wall time went, from its events: when
// the hosts came up, when the first run started and the last one ended, and
// how busy the slots were in between. dispatch -v prints it at the end.
type Timeline struct {
	mu         sync.Mutex
	start      time.Time // the process's start
	opened     time.Time // the queue opened and checked
	firstUp    time.Time
	lastUp     time.Time
	firstStart time.Time
	lastEnd    time.Time
	running    map[[2]int64]runSpan // by order and attempt: where and since when
	slots      map[string]bool      // host/slot pairs that ran something
	inRuns     time.Duration        // the sum of the runs' spans
	gaps       time.Duration        // the sum of the waits between a slot's runs
	freed      map[string]time.Time
	runs       int
}

type runSpan struct {
	slot  string
	since time.Time
}

// NewTimeline starts a timeline for a process that started at start and
// had its queue open and checked at opened.
func NewTimeline(start, opened time.Time) *Timeline {
	return &Timeline{start: start, opened: opened, running: map[[2]int64]runSpan{},
		slots: map[string]bool{}, freed: map[string]time.Time{}}
}

// Observe takes one dispatch event.
func (t *Timeline) Observe(e dispatch.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e.Kind {
	case dispatch.HostUp:
		if t.firstUp.IsZero() {
			t.firstUp = e.Time
		}
		t.lastUp = e.Time
	case dispatch.OrderStarted:
		slot := e.Host + "/" + e.Slot
		if t.firstStart.IsZero() {
			t.firstStart = e.Time
		}
		if at, ok := t.freed[slot]; ok {
			t.gaps += e.Time.Sub(at)
			delete(t.freed, slot)
		}
		t.slots[slot] = true
		t.running[[2]int64{e.Order, int64(e.Attempt)}] = runSpan{slot: slot, since: e.Time}
	case dispatch.OrderEnded, dispatch.OrderSucceeded, dispatch.OrderFailed, dispatch.OrderPruned,
		dispatch.OrderAbandoned, dispatch.OrderDetached:
		key := [2]int64{e.Order, int64(e.Attempt)}
		span, ok := t.running[key]
		if !ok {
			return // ended before (its outcome saved now), or adopted: its start was not seen here
		}
		delete(t.running, key)
		t.inRuns += e.Time.Sub(span.since)
		t.runs++
		t.lastEnd = e.Time
		t.freed[span.slot] = e.Time
	}
}

// Write prints the timeline as two lines, with end as the time the
// dispatch finished.
func (t *Timeline) Write(w io.Writer, end time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := func(x time.Time) string {
		if x.IsZero() {
			return "never"
		}
		return fmt.Sprintf("%.3f s", x.Sub(t.start).Seconds())
	}
	ew := &errWriter{w: w}
	ew.printf("Timeline: queue open and checked at %s; hosts up %s–%s; first run started at %s; last run ended at %s; done at %s.\n",
		at(t.opened), at(t.firstUp), at(t.lastUp), at(t.firstStart), at(t.lastEnd), at(end))
	if t.runs > 0 && len(t.slots) > 0 && t.lastEnd.After(t.firstStart) {
		span := t.lastEnd.Sub(t.firstStart)
		capacity := time.Duration(len(t.slots)) * span
		ew.printf("Slots: %d runs on %d slots; from the first start to the last end the slots were in a run %.0f %% of the time (a run took %.3f s on average; a slot waited %.3f s on average between its runs).\n",
			t.runs, len(t.slots), 100*t.inRuns.Seconds()/capacity.Seconds(),
			t.inRuns.Seconds()/float64(t.runs), t.gaps.Seconds()/float64(max(1, t.runs-len(t.slots))))
	}
	return ew.err
}
