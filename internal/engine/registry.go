package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/run"
)

// Options are what the dispatcher tells an engine it opens.
type Options struct {
	// Poll is how often a batch engine looks at its runs in flight.
	Poll time.Duration
	// ShellStart starts each run through a shell session of its own
	// instead of through a resident agent on the host, where an engine
	// has one.
	ShellStart bool
	// ColdStart starts every script in a new interpreter.
	ColdStart bool
	// Warn, when set, gets problems that end no run (one line each).
	Warn func(string)
	// OnQueue, when set, gets a batch engine's news of its scheduler's
	// queue, from the engine's goroutine; it must return quickly.
	OnQueue func(QueueNews)
	// Leases, when set, says what each probe asks of the host's leases
	// (engines that hold leases ask; others ignore it). It is called from
	// the prober's goroutine and must return quickly.
	Leases func() *run.LeaseQuery
}

// QueueNews is what a batch engine learnt of its runs in one look at its
// scheduler: the runs whose task state changed, and how many of its runs
// in flight wait and how many run.
type QueueNews struct {
	Changed          []TaskState
	Pending, Running int
}

// TaskState is a run's task state in a batch scheduler, in its words; ""
// when the scheduler no longer lists it.
type TaskState struct {
	RunID string
	State string
}

// Driver is an engine kind: how to open a hosts entry of that kind, and
// the facts about the kind the dispatcher plans by.
type Driver struct {
	// Open connects to the entry's host and returns its engine. Errors
	// matching ErrRefused say the host will not be trusted; others that
	// it did not answer.
	Open func(ctx context.Context, h hosts.Host, o Options) (Engine, error)
	// Scheduler, when set, names the batch scheduler the engine hands runs
	// to, for messages ("Slurm"): the host's load then says nothing of
	// where runs go (its slots fill once the first probe answered), a
	// run's time limit counts from when its task began (the second started
	// call), and the task's id is recorded.
	Scheduler string
	// Warnings, when set, lists what a dispatch over h should say before
	// it starts.
	Warnings func(h hosts.Host, o Options) []string
}

var (
	mu      sync.RWMutex
	drivers = map[hosts.Kind]Driver{}
)

// Register makes a kind of hosts entry runnable. It panics when the kind
// is registered twice or Open is nil: a programming error.
func Register(kind hosts.Kind, d Driver) {
	mu.Lock()
	defer mu.Unlock()
	if d.Open == nil {
		panic("engine: Register " + string(kind) + " without Open")
	}
	if _, dup := drivers[kind]; dup {
		panic("engine: Register " + string(kind) + " twice")
	}
	drivers[kind] = d
}

// Lookup returns the driver of kind.
func Lookup(kind hosts.Kind) (Driver, error) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := drivers[kind]
	if !ok {
		return Driver{}, fmt.Errorf("no engine for hosts of kind %q (known: %v)", kind, kinds())
	}
	return d, nil
}

// Open opens the engine of the entry h, by its kind.
func Open(ctx context.Context, h hosts.Host, o Options) (Engine, error) {
	d, err := Lookup(h.Kind)
	if err != nil {
		return nil, err
	}
	return d.Open(ctx, h, o)
}

// SchedulerOf is the Scheduler of h's kind: "" for an engine that runs
// runs on its host itself.
func SchedulerOf(h hosts.Host) string {
	d, err := Lookup(h.Kind)
	if err != nil {
		return ""
	}
	return d.Scheduler
}

func kinds() []string {
	var ks []string
	for k := range drivers {
		ks = append(ks, string(k))
	}
	sort.Strings(ks)
	return ks
}
