package dispatch

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/pyexec"
)

// KillTimeout bounds connecting to a host and killing there, so that an
// unreachable host cannot hang a cancel; the dispatchers kill later.
const KillTimeout = 20 * time.Second

// What Cancel did with each order (CancelResult.Action).
const (
	ActionCancelled   = "cancelled"    // it was waiting: nothing ran
	ActionKilled      = "killed"       // its run was stopped just now
	ActionKillPending = "kill pending" // a dispatcher will stop its run
)

// CancelOptions are Cancel's ways to reach the hosts.
type CancelOptions struct {
	// Entries, a hosts file's entries, give the env values the queue does
	// not keep (see OpenHostWith).
	Entries []hosts.Host
	// OpenHost connects to a host by name; nil for OpenHostWith over
	// Entries. Tests set it.
	OpenHost func(ctx context.Context, store *db.DB, name string) (engine.Engine, error)
}

// CancelResult is what became of one order Cancel cancelled.
type CancelResult struct {
	Order  db.Order // as it was before the cancel: its state and host
	Action string   // ActionCancelled, ActionKilled or ActionKillPending
	Why    string   // why the kill is pending
}

// Cancelled is what Cancel did.
type Cancelled struct {
	// Orders are the orders cancelled, in db.CancelOrders' order; none
	// when sel named no order that was waiting, assigned or running.
	Orders []CancelResult
	// Missing are the ids sel names that matched no such order
	// (db.Selection.Missing).
	Missing []int64
	// Warnings change no result (a run killed whose attempt could not be
	// marked so); they are kept for the caller to show, in the order they
	// came, after what it says of the selection.
	Warnings []error
}

// Cancel cancels the orders sel names that have not finished
// (db.CancelOrders), then kills the runs of those that were assigned or
// running, one connection per host, all hosts at once. The orders are
// cancelled before any kill: from there on a failure only delays the
// kill, to the next dispatcher that reaches the host. The kills outlive an
// end of ctx by no more than KillTimeout.
func Cancel(ctx context.Context, store *db.DB, sel db.Selection, opts CancelOptions) (Cancelled, error) {
	orders, err := store.CancelOrders(ctx, sel)
	if err != nil {
		return Cancelled{}, err
	}
	if opts.OpenHost == nil {
		opts.OpenHost = func(ctx context.Context, store *db.DB, name string) (engine.Engine, error) {
			return OpenHostWith(ctx, store, name, opts.Entries)
		}
	}
	c := &canceller{store: store, open: opts.OpenHost, res: make([]CancelResult, len(orders))}
	byHost := map[string][]int{}
	for i, o := range orders {
		c.res[i] = CancelResult{Order: o, Action: ActionCancelled}
		if o.State == db.StateAssigned || o.State == db.StateRunning {
			byHost[o.Host] = append(byHost[o.Host], i)
		}
	}
	killCtx, cancel := context.WithTimeout(ctx, KillTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for host, idx := range byHost {
		wg.Go(func() { c.killOnHost(killCtx, host, idx) })
	}
	wg.Wait()
	return Cancelled{Orders: c.res, Missing: sel.Missing(orders), Warnings: c.warnings}, nil
}

// canceller is one Cancel's state. Each res entry is written by the one
// goroutine of its host.
type canceller struct {
	store *db.DB
	open  func(ctx context.Context, store *db.DB, name string) (engine.Engine, error)
	res   []CancelResult

	mu       sync.Mutex // guards warnings
	warnings []error
}

func (c *canceller) warn(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warnings = append(c.warnings, err)
}

// killOnHost kills the runs of res[idx] on host, one connection for all.
func (c *canceller) killOnHost(ctx context.Context, host string, idx []int) {
	pending := func(why string) {
		for _, i := range idx {
			c.res[i].Action, c.res[i].Why = ActionKillPending, why
		}
	}
	if host == "" {
		pending("no host recorded for its attempt")
		return
	}
	h, err := c.open(ctx, c.store, host)
	if err != nil {
		pending("cannot reach the host now: " + err.Error())
		return
	}
	defer h.Close()
	var wg sync.WaitGroup
	for _, i := range idx {
		wg.Go(func() { c.kill(ctx, h, &c.res[i]) })
	}
	wg.Wait()
}

// kill stops r's run on h, with KillGrace: whoever waits on the run, or
// the next dispatcher that adopts it, reads what it left and records it.
func (c *canceller) kill(ctx context.Context, h engine.Engine, r *CancelResult) {
	o := r.Order
	err := h.Kill(ctx, pyexec.RunID(c.store.QueueID(), o.ID, o.Attempt), KillGrace)
	switch {
	case err == nil:
		r.Action = ActionKilled
		if err := c.store.MarkKilled(ctx, o.ID, o.Attempt); err != nil {
			c.warn(err)
		}
	case errors.Is(err, engine.ErrNotStarted):
		// Claimed but not started yet: the dispatcher starting it finds
		// the order cancelled.
		r.Action, r.Why = ActionKillPending, "its run has not started yet"
	default:
		r.Action, r.Why = ActionKillPending, err.Error()
	}
}
