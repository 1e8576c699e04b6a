package db

import (
	"context"

	"time"
)

// OrderStates are the states of an order in lifecycle order, the order in
// which status counts them.
var OrderStates = []OrderState{StateUnassigned, StateAssigned, StateRunning,
	StateSucceeded, StateFailed, StateCancelled, StatePruned}

// ProjectCounts is how many orders of one project are in each state.
type ProjectCounts struct {
	Project string
	Counts  map[OrderState]int // every state of OrderStates, 0 included
	Total   int
}

// QueueStatus is what mljob status shows of the queue: how many orders each
// project has in each state, the orders assigned or running, and what the
// last dispatcher knew of each host.
type QueueStatus struct {
	Projects []ProjectCounts // by project name
	Active   []Order         // by id, as ActiveOrders
	// HostStatus is each recorded host's status ("up", "down",
	// "refused", "unknown"), by name, as Hosts.
	HostStatus map[string]string
	// Sweeps is how far each sweep (and each project's jobs outside
	// sweeps) has got, with its best outcome, as SweepProgresses.
	Sweeps []SweepProgress
}

// Status reads the queue's QueueStatus. Its reads are separate
// statements, as status always made them: an order that changes state in
// between may show in a count and not among the active ones.
func (db *DB) Status(ctx context.Context) (QueueStatus, error) {
	counts, err := db.StateCounts(ctx)
	if err != nil {
		return QueueStatus{}, err
	}
	active, err := db.ActiveOrders(ctx)
	if err != nil {
		return QueueStatus{}, err
	}
	hosts, err := db.Hosts(ctx)
	if err != nil {
		return QueueStatus{}, err
	}
	sweeps, err := db.SweepProgresses(ctx)
	if err != nil {
		return QueueStatus{}, err
	}
	st := QueueStatus{Active: active, HostStatus: make(map[string]string, len(hosts)), Sweeps: sweeps}
	for _, h := range hosts {
		st.HostStatus[h.Name] = h.Status
	}
	// StateCounts is sorted by project: a project's counts are adjacent.
	for _, c := range counts {
		if n := len(st.Projects); n == 0 || st.Projects[n-1].Project != c.Project {
			p := ProjectCounts{Project: c.Project, Counts: make(map[OrderState]int, len(OrderStates))}
			for _, s := range OrderStates {
				p.Counts[s] = 0
			}
			st.Projects = append(st.Projects, p)
		}
		p := &st.Projects[len(st.Projects)-1]
		p.Counts[c.State] += c.Count
		p.Total += c.Count
	}
	return st, nil
}

// Since is when the order's current attempt began: its start, or, before
// it started, its claim. It is zero for an order never claimed.
func (o Order) Since() time.Time {
	if o.StartedAt.IsZero() {
		return o.AssignedAt
	}
	return o.StartedAt
}
