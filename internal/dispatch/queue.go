package dispatch

import (
	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/pyexec"
)

// queueNews records the task states a batch engine's look at its
// scheduler saw changing, in one transaction, and tells the observer the
// entry's counts. It runs on the engine's goroutine, not on the scheduler:
// it touches no hostState.
func (d *dispatcher) queueNews(hs *hostState, n engine.QueueNews) {
	var changes []db.SlurmStateChange
	for _, c := range n.Changed {
		order, attempt, ok := pyexec.ParseRunID(d.queue, c.RunID)
		if ok && c.State != "" {
			changes = append(changes, db.SlurmStateChange{OrderID: order, Attempt: attempt, State: c.State})
		}
	}
	if err := d.db.SetSlurmStates(d.saveCtx, changes); err != nil {
		d.warnf("%s: record %s states: %v", hs.cfg.Name, hs.scheduler, err)
	}
	d.observe(Event{Kind: HostQueue, Host: hs.cfg.Name, Pending: n.Pending, Running: n.Running})
}
