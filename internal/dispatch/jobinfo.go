package dispatch

import (
	"strconv"
	"sync"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/objective"
)

// jobInfo is what an order's events say of its job: its project, its
// sweep's name ("" outside one) and its objective, so that an observer can
// group runs by sweep and rank them without reading the queue.
type jobInfo struct {
	project   string
	sweep     string
	objective objective.Objective
}

// set copies the job's facts into e.
func (j jobInfo) set(e *Event) {
	e.Project, e.Sweep, e.Objective = j.project, j.sweep, j.objective
}

// jobInfos holds the jobInfo of each attempt in flight, so that the events
// of its run (progress saved, outcome recorded) carry it, and the sweep
// names read so far. Its methods are safe for concurrent use.
type jobInfos struct {
	mu     sync.Mutex // guards runs, sweeps and pruned
	runs   map[attemptKey]jobInfo
	sweeps map[int64]string
	pruned map[attemptKey]prunedRun // attempts this dispatcher pruned, until recorded
}

// info returns j's jobInfo, reading its sweep's name once per dispatch.
func (d *dispatcher) info(j db.Job) jobInfo {
	info := jobInfo{project: j.Project, objective: j.Objective}
	if j.SweepID == 0 {
		return info
	}
	d.jobs.mu.Lock()
	name, ok := d.jobs.sweeps[j.SweepID]
	d.jobs.mu.Unlock()
	if !ok {
		id := strconv.FormatInt(j.SweepID, 10)
		sw, err := d.db.Sweep(d.saveCtx, id)
		if err != nil {
			// Its events still group apart from other sweeps' under its id.
			d.logf("job %d: read sweep %s: %v", j.ID, id, err)
			return jobInfo{project: j.Project, sweep: id, objective: j.Objective}
		}
		name = sw.Name
		d.jobs.mu.Lock()
		if d.jobs.sweeps == nil {
			d.jobs.sweeps = map[int64]string{}
		}
		d.jobs.sweeps[j.SweepID] = name
		d.jobs.mu.Unlock()
	}
	info.sweep = name
	return info
}

// track holds c's jobInfo for its attempt's events until the returned func
// is called, when the attempt's goroutine is done with it.
func (d *dispatcher) track(c *db.Claim) (forget func()) {
	k := keyOf(c.Order)
	info := d.info(c.Job)
	d.jobs.mu.Lock()
	if d.jobs.runs == nil {
		d.jobs.runs = map[attemptKey]jobInfo{}
	}
	d.jobs.runs[k] = info
	d.jobs.mu.Unlock()
	return func() {
		d.jobs.mu.Lock()
		delete(d.jobs.runs, k)
		d.jobs.mu.Unlock()
	}
}

// tracked returns the jobInfo track holds for o's attempt; the zero value
// (no objective) when none.
func (d *dispatcher) tracked(o db.Order) jobInfo {
	d.jobs.mu.Lock()
	defer d.jobs.mu.Unlock()
	return d.jobs.runs[keyOf(o)]
}
