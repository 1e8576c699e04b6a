package dispatch

import (
	"time"

	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/run"
)

// EventKind names what an Event reports.
type EventKind int

// The kinds of Event. Host events name Host; order events name Host, Slot,
// Order, Job and Attempt.
const (
	// HostUp: the host answered (after a connect, or again after being
	// down); Load is set when a probe said so.
	HostUp EventKind = iota + 1
	// HostDown: the host stopped answering; Reason says why. It is retried.
	HostDown
	// HostRefused: the host is unusable for this dispatch (host key or
	// auth); Reason says why.
	HostRefused
	// HostProbed: a boredom probe answered; Load is the host's load.
	HostProbed
	// HostBusy: a probe found the load at or over MaxLoad.
	HostBusy
	// OrderClaimed: an order was taken from the queue for a slot.
	OrderClaimed
	// OrderStarted: its run started; PID is the run's process.
	OrderStarted
	// OrderSucceeded: the outcome was recorded as a success.
	OrderSucceeded
	// OrderFailed: the outcome was recorded as a failure; Reason says why.
	OrderFailed
	// OrderReleased: the attempt was lost to infrastructure before its
	// run started and the order went back to the queue; Reason says why.
	OrderReleased
	// OrderRequeued: a failed order went back to the queue (--retry-failed).
	// It follows the attempt's OrderFailed.
	OrderRequeued
	// OrderAbandoned: the run's host stayed unreachable; the order went
	// back to the queue and the run is looked at when the host answers.
	OrderAbandoned
	// OrderDetached: the dispatch stopped and left the run going on its host.
	OrderDetached
	// HostQueue: a Slurm entry's runs in flight, as its last poll saw them:
	// Pending wait in Slurm's queue, Running are on a node.
	HostQueue
	// OrderEnded: its run is over on its host; the outcome is being read
	// and saved (OrderSucceeded or OrderFailed follows), and the slot is
	// free for the next order meanwhile.
	OrderEnded
	// OrderProgress: progress lines of its run were saved; Step, Series
	// and Metrics are the last one's. It comes at most once per save (about
	// a second) per run, and only when lines were taken since the last.
	OrderProgress
	// OrderPruned: the outcome was recorded pruned: its pruner stopped the
	// run early; Reason is the verdict, Value the objective's value it
	// was judged on (nil when not a number), Step and Series the point's.
	OrderPruned
)

var kindNames = map[EventKind]string{
	HostUp: "host-up", HostDown: "host-down", HostRefused: "host-refused", HostProbed: "host-probed",
	HostBusy: "host-busy", OrderClaimed: "claimed", OrderStarted: "started", OrderSucceeded: "succeeded",
	OrderFailed: "failed", OrderReleased: "released", OrderRequeued: "requeued", OrderAbandoned: "abandoned",
	OrderDetached: "detached", HostQueue: "host-queue", OrderEnded: "ended", OrderProgress: "progress",
	OrderPruned: "pruned",
}

// String is the kind's stable name, e.g. "host-up" or "succeeded".
func (k EventKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "unknown"
}

// Event is one state change the dispatcher reports to Options.Observe.
// It is a value: an observer may keep it (Value and Metrics are made for
// each event and never changed after).
type Event struct {
	Time    time.Time // UTC, from Options.Now
	Kind    EventKind
	Host    string
	Slot    string
	Order   int64
	Job     int64
	Attempt int
	PID     int
	// Load and MaxLoad are the probed load and the host's threshold.
	Load, MaxLoad float64
	// Duration is how long a finished run took.
	Duration time.Duration
	// Reason is a failure's, a requeue's or a host problem's text, on one line.
	Reason string
	// Task names a run handed to Slurm ("12345_7"), on OrderStarted.
	Task string
	// Pending and Running are HostQueue's counts.
	Pending, Running int
	// Project, Sweep (the sweep's name; "" for a job outside one) and
	// Objective are the job's, on OrderClaimed, OrderProgress,
	// OrderSucceeded and OrderFailed of the runs this dispatcher claimed or
	// adopted: enough to group runs by sweep and rank them by their
	// objective without reading the queue. Objective is zero where the
	// job is not known.
	Project, Sweep string
	Objective      objective.Objective
	// Value is the outcome's value of Objective, as the queue records it
	// (objective.Value), on OrderSucceeded and OrderFailed: nil when the
	// Outcome line has none, or it is not a number.
	Value *float64
	// Cost is what the attempt cost, on OrderSucceeded, OrderFailed and
	// OrderPruned: nil when its run dir held none.
	Cost *run.Cost
	// Step, Series and Metrics are OrderProgress's: the last progress line
	// saved, its step, its series ("" for none) and its values by name
	// (pyexec.ProgressLine).
	Step    float64
	Series  string
	Metrics []pyexec.Metric
}

// observe hands e to Options.Observe. Calls come from the scheduler and
// from the workers; obsMu makes them one at a time, in the order they
// happened, so an observer needs no lock of its own against the dispatcher.
func (d *dispatcher) observe(e Event) {
	if d.opts.Observe == nil {
		return
	}
	d.obsMu.Lock()
	defer d.obsMu.Unlock()
	e.Time = d.opts.Now().UTC()
	d.opts.Observe(e)
}
