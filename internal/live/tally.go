package live

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
)

// Host states as the view and the plain lines name them.
const (
	HostConnecting = "connecting"
	HostUp         = "up"
	HostBusy       = "busy"
	HostDown       = "down"
	HostRefused    = "refused"
)

// Failure is one attempt that ended failed, for the summary.
type Failure struct {
	Order, Job int64
	Attempt    int
	Host       string
	Reason     string
}

// Cancelled reports whether the attempt failed because it was cancelled
// (mljob cancel), not because of its script or its host.
func (f Failure) Cancelled() bool { return strings.HasPrefix(f.Reason, "cancelled") }

// HostSnapshot is what is known of one host.
type HostSnapshot struct {
	Name    string
	State   string
	Running int // runs of this dispatch in flight there
	Load    float64
	HasLoad bool // a probe has reported Load
	LastErr string
	// Slurm is set once a HostQueue event has reported the entry's
	// counts; SlurmPending and SlurmRunning are its last poll's.
	Slurm                      bool
	SlurmPending, SlurmRunning int
}

// Snapshot is a copy of a Tally's state at one moment.
type Snapshot struct {
	Start              time.Time
	Succeeded, Failed  int
	Cancelled          int // of Failed
	Pruned             int // stopped by their pruner: apart from Failed
	Requeued, Detached int
	Running, Queued    int
	Hosts              []HostSnapshot
	Failures           []Failure
	// RunningSince holds when each run in flight was claimed, and
	// SlotTime how long the Timed runs that ended (succeeded, failed or pruned)
	// held their slots, claim to end: what ETA estimates from. A slot's
	// first run (it uploads, its imports are cold) counts apart, in
	// ColdTime and Cold.
	RunningSince []time.Time
	SlotTime     time.Duration
	Timed        int
	ColdTime     time.Duration
	Cold         int
	// Runs are the runs in flight that reported progress, by order; Bests
	// the best run of each group (sweep, or project outside sweeps, and
	// objective) this dispatch ran a job of, counting the queue's runs
	// before it (SeedBests), in the order first seen.
	Runs  []RunSnapshot
	Bests []Best
	// CPUSeconds and GPUSeconds are what the runs that ended cost, as far
	// as their costs are known (Costed of them).
	CPUSeconds, GPUSeconds float64
	Costed                 int
}

// Done is the number of attempts that ended: succeeded, failed or pruned.
func (s Snapshot) Done() int { return s.Succeeded + s.Failed + s.Pruned }

// Total is every order this view knows of: ended, in flight or queued.
func (s Snapshot) Total() int { return s.Done() + s.Running + s.Queued }

// Rate is the finished attempts per minute since Start, as of now.
func (s Snapshot) Rate(now time.Time) float64 {
	el := now.Sub(s.Start)
	if el <= 0 {
		return 0
	}
	return float64(s.Done()) / el.Minutes()
}

// ETA estimates how long the orders in flight and queued will take; ok is
// false until a run has ended, and while orders wait with none in flight.
//
// Each run is taken to hold its slot for the mean slot time (claim to end)
// of the runs that ended; a slot's first run (it uploads, its imports are
// cold) is left out of the mean once later runs have ended. A run in
// flight has the mean less its age left (at least nothing); the queued
// orders go to the slots in use as the dispatcher hands them out, each to
// the slot that frees first, and the ETA is when the last slot is done.
// A rate of finished runs since the start, as it was, counted the connect
// time and the first wave before anything ended and forgot the runs half
// done: on a sweep of few waves it said three times the time left.
func (s Snapshot) ETA(now time.Time) (eta time.Duration, ok bool) {
	if s.Timed+s.Cold == 0 {
		return 0, false
	}
	n := len(s.RunningSince)
	if n == 0 {
		return 0, s.Queued == 0
	}
	mean := s.ColdTime / time.Duration(max(s.Cold, 1))
	if s.Timed > 0 {
		mean = s.SlotTime / time.Duration(s.Timed)
	}
	left := make([]time.Duration, n)
	for i, since := range s.RunningSince {
		left[i] = max(mean-now.Sub(since), 0)
	}
	slices.Sort(left)
	// Every slot frees within a mean of the first, so equal runs go to
	// them in turn, the first free first: slot i gets Queued/n runs, and
	// one more for the first Queued%n slots.
	for i, l := range left {
		k := s.Queued / n
		if i < s.Queued%n {
			k++
		}
		eta = max(eta, l+time.Duration(k)*mean)
	}
	return eta, true
}

// Tally keeps the counts, host states and failures of one dispatch from
// its events. Its methods are safe for concurrent use and never block on
// anything but its own short lock.
type Tally struct {
	mu       sync.Mutex // guards the fields below
	snap     Snapshot
	hostIdx  map[string]int
	inFlight map[int64]flight // this dispatch's runs, by order
	used     map[string]bool  // host and slot of every claim so far
	runs     runBook          // the progress of runs in flight
	bests    *bestBook
}

// flight is a run in flight: its host, when it was claimed, and whether
// it is its slot's first run in this dispatch.
type flight struct {
	host  string
	since time.Time
	cold  bool
}

// NewTally returns a Tally that lists hosts in the given order (hosts seen
// later in events are added at the end) and measures the rate from start.
func NewTally(start time.Time, hosts []string) *Tally {
	t := &Tally{hostIdx: map[string]int{}, inFlight: map[int64]flight{}, used: map[string]bool{},
		runs: runBook{}, bests: newBestBook()}
	t.snap.Start = start
	for _, h := range hosts {
		t.host(h)
	}
	return t
}

// host returns the index of name's entry, adding it; t.mu is held.
func (t *Tally) host(name string) *HostSnapshot {
	i, ok := t.hostIdx[name]
	if !ok {
		i = len(t.snap.Hosts)
		t.hostIdx[name] = i
		t.snap.Hosts = append(t.snap.Hosts, HostSnapshot{Name: name, State: HostConnecting})
	}
	return &t.snap.Hosts[i]
}

// SetQueued records how many orders wait in the queue.
func (t *Tally) SetQueued(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.snap.Queued = n
}

// SeedBests takes the best runs the queue held before the dispatch
// (db.SweepProgresses), which the groups' bests start from.
func (t *Tally) SeedBests(ps []db.SweepProgress) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bests.seedFrom(ps)
}

// Observe applies one event.
func (t *Tally) Observe(e dispatch.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.Host == "" {
		return
	}
	h := t.host(e.Host)
	t.runs.observe(e)
	t.bests.observe(e)
	switch e.Kind {
	case dispatch.HostUp:
		h.State, h.LastErr = HostUp, ""
		if e.Load != 0 {
			h.Load, h.HasLoad = e.Load, true
		}
	case dispatch.HostProbed:
		h.Load, h.HasLoad = e.Load, true
		if e.MaxLoad <= 0 || e.Load < e.MaxLoad {
			h.State = HostUp
		}
	case dispatch.HostBusy:
		h.State, h.Load, h.HasLoad = HostBusy, e.Load, true
	case dispatch.HostDown:
		h.State, h.LastErr = HostDown, e.Reason
	case dispatch.HostRefused:
		h.State, h.LastErr = HostRefused, e.Reason
	case dispatch.HostQueue:
		h.Slurm, h.SlurmPending, h.SlurmRunning = true, e.Pending, e.Running
	case dispatch.OrderClaimed:
		slot := e.Host + "\x00" + e.Slot
		t.inFlight[e.Order] = flight{host: e.Host, since: e.Time, cold: !t.used[slot]}
		t.used[slot] = true
		// The queue count lags by up to a poll: move the claim across now.
		t.snap.Queued = max(t.snap.Queued-1, 0)
	case dispatch.OrderSucceeded:
		t.timed(e)
		t.end(e)
		t.cost(e)
		t.snap.Succeeded++
	case dispatch.OrderFailed:
		t.timed(e)
		t.end(e)
		t.cost(e)
		t.snap.Failed++
		f := Failure{Order: e.Order, Job: e.Job, Attempt: e.Attempt, Host: e.Host, Reason: e.Reason}
		if f.Cancelled() {
			t.snap.Cancelled++
		}
		t.snap.Failures = append(t.snap.Failures, f)
		h.LastErr = e.Reason
	case dispatch.OrderPruned:
		// Its pruner stopped it: counted apart, never a failure. Its slot
		// time counts: in a pruned sweep short runs are what to expect.
		t.timed(e)
		t.end(e)
		t.cost(e)
		t.snap.Pruned++
	case dispatch.OrderRequeued:
		// It follows the attempt's OrderFailed: the order is not failed after all.
		i := slices.IndexFunc(t.snap.Failures, func(f Failure) bool { return f.Order == e.Order && f.Attempt == e.Attempt })
		if i >= 0 {
			if t.snap.Failures[i].Cancelled() {
				t.snap.Cancelled--
			}
			t.snap.Failures = slices.Delete(t.snap.Failures, i, i+1)
			t.snap.Failed--
		}
		t.snap.Requeued++
		t.snap.Queued++
	case dispatch.OrderReleased, dispatch.OrderAbandoned:
		t.end(e)
		t.snap.Requeued++
		t.snap.Queued++
		h.LastErr = e.Reason
	case dispatch.OrderDetached:
		t.end(e)
		t.snap.Detached++
	}
	t.recount()
}

// timed adds a run that ended to the slot time; t.mu is held. Runs this
// dispatch did not claim (adopted ones) and events without a time are left
// out: their claim-to-end time is not known.
func (t *Tally) timed(e dispatch.Event) {
	f, ok := t.inFlight[e.Order]
	if !ok || f.since.IsZero() || e.Time.Before(f.since) {
		return
	}
	if f.cold {
		t.snap.ColdTime += e.Time.Sub(f.since)
		t.snap.Cold++
		return
	}
	t.snap.SlotTime += e.Time.Sub(f.since)
	t.snap.Timed++
}

// end forgets an attempt in flight; t.mu is held.
func (t *Tally) end(e dispatch.Event) {
	delete(t.inFlight, e.Order)
}

// recount derives the per-host and total runs in flight; t.mu is held.
func (t *Tally) recount() {
	for i := range t.snap.Hosts {
		t.snap.Hosts[i].Running = 0
	}
	t.snap.RunningSince = t.snap.RunningSince[:0]
	for _, f := range t.inFlight {
		t.snap.Hosts[t.hostIdx[f.host]].Running++
		t.snap.RunningSince = append(t.snap.RunningSince, f.since)
	}
	t.snap.Running = len(t.inFlight)
}

// Snapshot returns a copy of the state.
func (t *Tally) Snapshot() Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.snap
	s.Hosts = slices.Clone(s.Hosts)
	s.Failures = slices.Clone(s.Failures)
	s.RunningSince = slices.Clone(s.RunningSince)
	s.Runs = t.runs.snapshot()
	s.Bests = t.bests.snapshot()
	return s
}

// cost adds what an ended run cost to the totals.
func (t *Tally) cost(e dispatch.Event) {
	if e.Cost == nil {
		return
	}
	t.snap.CPUSeconds += e.Cost.CPUSeconds()
	t.snap.GPUSeconds += e.Cost.GPUSeconds()
	t.snap.Costed++
}
