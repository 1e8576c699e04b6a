package engines

import (
	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/slurm"
)

// QueueCount is how many of a host entry's runs its batch scheduler
// (Slurm) has yet to start and is running: what a HostQueue event says,
// read from the queue instead of a poll.
type QueueCount struct {
	Pending, Running int
}

// QueueCounts counts the active orders handed to Slurm per host entry, by
// their task's state as last seen, as the live view counts them
// (slurm.Pending, slurm.Running). A task in neither class (over, its
// outcome not yet recorded) is not counted; hosts with nothing counted are
// left out.
func QueueCounts(active []db.Order) map[string]QueueCount {
	counts := map[string]QueueCount{}
	for _, o := range active {
		if o.Slurm == nil {
			continue
		}
		c := counts[o.Host]
		switch {
		case slurm.Running(o.Slurm.State):
			c.Running++
		case slurm.Pending(o.Slurm.State):
			c.Pending++
		default:
			continue
		}
		counts[o.Host] = c
	}
	return counts
}
