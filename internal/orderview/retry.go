package orderview

import (
	"strings"

	"github.com/mljob/mljob/internal/db"
)

// RetryChoice is what retry's flags pick: --failed, --pruned, and whether
// ids or a project were named.
type RetryChoice struct {
	Failed, Pruned bool
	Named          bool // job or order ids, or --project
}

// States are the states of the orders retry queues again: failed or
// cancelled ones, with --failed only failed ones; pruned ones only with
// --pruned (alone, without names: only those).
func (c RetryChoice) States() []db.OrderState {
	switch {
	case c.Failed && c.Pruned:
		return []db.OrderState{db.StateFailed, db.StatePruned}
	case c.Failed:
		return []db.OrderState{db.StateFailed}
	case c.Pruned && !c.Named:
		return []db.OrderState{db.StatePruned}
	case c.Pruned:
		return []db.OrderState{db.StateFailed, db.StateCancelled, db.StatePruned}
	}
	return []db.OrderState{db.StateFailed, db.StateCancelled}
}

// Unmatched is why a named order was not queued again, for WriteUnmatched.
func (c RetryChoice) Unmatched() string {
	switch {
	case c.Failed && c.Pruned:
		return "nothing to retry (no such id, or not failed or pruned)"
	case c.Failed:
		return "nothing to retry (no such id, or not failed)"
	case c.Pruned && !c.Named:
		return "nothing to retry (no such id, or not pruned)"
	}
	return "nothing to retry (no such id, not failed or cancelled, or its run is still being stopped)"
}

// Nothing is the error's text when no order was queued again: "nothing to
// retry: no named order is failed or cancelled".
func (c RetryChoice) Nothing() string {
	states := c.States()
	words := make([]string, len(states))
	for i, s := range states {
		words[i] = string(s)
	}
	return "nothing to retry: no named order is " + strings.Join(words, " or ")
}
