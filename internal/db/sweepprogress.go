package db

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/mljob/mljob/internal/objective"
)

// SweepProgress is how far one group of jobs has got: a sweep's jobs, or
// a project's jobs outside any sweep, of one objective (a project's loose
// jobs may have several: each is a group of its own, so that no best is
// ranked against another objective's).
type SweepProgress struct {
	Project string
	// SweepID and Sweep name the sweep; 0 and "" for a project's jobs
	// outside any sweep.
	SweepID   int64
	Sweep     string
	Objective objective.Objective
	// Counts holds the group's orders in each state of OrderStates, 0
	// included; Total is their sum.
	Counts map[OrderState]int
	Total  int
	// Budget is a tpe sweep's trials in all (its study's budget), 0 for
	// other groups: Total counts only the trials made so far.
	Budget int
	// Best is the group's best outcome by Objective, nil before one has a
	// value.
	Best *BestOutcome
	// CPUSeconds and GPUSeconds are what every attempt of the group cost
	// (costs: failed, pruned and cancelled ones included); 0 before any.
	CPUSeconds, GPUSeconds float64
}

// BestOutcome is the outcome that leads a group: its value of the group's
// objective and whose it is.
type BestOutcome struct {
	Value   float64
	JobID   int64
	OrderID int64
	Attempt int
}

// Done is the group's orders that ended: succeeded, failed, cancelled or
// pruned.
func (p SweepProgress) Done() int {
	return p.Counts[StateSucceeded] + p.Counts[StateFailed] + p.Counts[StateCancelled] + p.Counts[StatePruned]
}

// Running is the group's orders claimed by a dispatcher: assigned or
// running.
func (p SweepProgress) Running() int { return p.Counts[StateAssigned] + p.Counts[StateRunning] }

// Queued is the group's orders waiting for a claim.
func (p SweepProgress) Queued() int { return p.Counts[StateUnassigned] }

// groupKey names a SweepProgress group.
type groupKey struct {
	project string
	sweepID int64
	obj     objective.Objective
}

// SweepProgresses returns every group's progress, by project, then sweep
// (oldest first, a project's jobs outside any sweep last), then objective
// name and goal.
//
// A group's best is its succeeded outcome with the best value of the
// objective, by the jobs' goal (BestRuns); the first queued of equals. An
// outcome without a value (not reported, or NaN), a failed one, a pruned
// one and a superseded one (another attempt's counts for its order) never
// lead: a failed run's number is not a result.
func (db *DB) SweepProgresses(ctx context.Context) ([]SweepProgress, error) {
	out, err := sweepCounts(ctx, db.sql)
	if err != nil {
		return nil, fmt.Errorf("sweep progress: %w", err)
	}
	if out, err = addBudgets(ctx, db.sql, out); err != nil {
		return nil, fmt.Errorf("sweep progress: %w", err)
	}
	idx := make(map[groupKey]int, len(out))
	for i, p := range out {
		idx[groupKey{p.Project, p.SweepID, p.Objective}] = i
	}
	err = db.sweepBests(ctx, func(k groupKey, b BestOutcome) {
		// A group has outcomes only if it has orders; a row the counts
		// did not see (written in between) waits for the next read.
		if i, ok := idx[k]; ok {
			out[i].Best = &b
		}
	})
	if err != nil {
		return nil, fmt.Errorf("sweep progress: %w", err)
	}
	err = sweepCosts(ctx, db.sql, func(k groupKey, cpu, gpu float64) {
		if i, ok := idx[k]; ok {
			out[i].CPUSeconds, out[i].GPUSeconds = cpu, gpu
		}
	})
	if err != nil {
		return nil, fmt.Errorf("sweep progress: %w", err)
	}
	return out, nil
}

// sweepCosts sums each group's attempts' costs.
func sweepCosts(ctx context.Context, q *sql.DB, fn func(groupKey, float64, float64)) error {
	rows, err := q.QueryContext(ctx, `
		SELECT j.project, j.sweep_id, j.objective, j.goal,
			SUM(c.user_seconds + c.sys_seconds), SUM(c.gpus * c.wall_seconds)
		FROM costs c
		JOIN orders o ON o.id = c.order_id
		JOIN jobs j ON j.id = o.job_id
		GROUP BY j.project, j.sweep_id, j.objective, j.goal`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k groupKey
		var sweepID sql.NullInt64
		var cpu, gpu float64
		if err := rows.Scan(&k.project, &sweepID, &k.obj.Name, &k.obj.Goal, &cpu, &gpu); err != nil {
			return err
		}
		k.sweepID = sweepID.Int64
		fn(k, cpu, gpu)
	}
	return rows.Err()
}

// sweepCounts reads each group's orders by state.
func sweepCounts(ctx context.Context, q *sql.DB) ([]SweepProgress, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT j.project, j.sweep_id, COALESCE(s.name, ''), j.objective, j.goal, o.state, COUNT(*)
		FROM orders o
		JOIN jobs j ON j.id = o.job_id
		LEFT JOIN sweeps s ON s.id = j.sweep_id
		GROUP BY j.project, j.sweep_id, j.objective, j.goal, o.state
		ORDER BY j.project, j.sweep_id IS NULL, j.sweep_id, j.objective, j.goal`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SweepProgress
	for rows.Next() {
		var p SweepProgress
		var sweepID sql.NullInt64
		var state OrderState
		var n int
		if err := rows.Scan(&p.Project, &sweepID, &p.Sweep, &p.Objective.Name, &p.Objective.Goal, &state, &n); err != nil {
			return nil, err
		}
		p.SweepID = sweepID.Int64
		// Rows come sorted by group: a group's states are adjacent.
		if last := len(out) - 1; last < 0 || !sameGroup(out[last], p) {
			p.Counts = make(map[OrderState]int, len(OrderStates))
			for _, s := range OrderStates {
				p.Counts[s] = 0
			}
			out = append(out, p)
		}
		g := &out[len(out)-1]
		g.Counts[state] += n
		g.Total += n
	}
	return out, rows.Err()
}

func sameGroup(a, b SweepProgress) bool {
	return a.Project == b.Project && a.SweepID == b.SweepID && a.Objective == b.Objective
}

// sweepBests calls fn with each group's best outcome: BestRuns, the rule
// outcomes --best and BestJob rank by.
func (db *DB) sweepBests(ctx context.Context, fn func(groupKey, BestOutcome)) error {
	return db.EachOutcome(ctx, BestRuns(0), func(r *OutcomeRow) error {
		fn(groupKey{r.Project, r.SweepID, r.Objective}, BestOutcome{Value: *r.ObjectiveValue, JobID: r.JobID, OrderID: r.OrderID, Attempt: r.Attempt})
		return nil
	})
}

// addBudgets sets each tpe sweep's budget, and adds the ones that have no
// trial yet (registered, not yet dispatched) with zero counts, in the
// groups' order.
func addBudgets(ctx context.Context, q *sql.DB, out []SweepProgress) ([]SweepProgress, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT st.sweep_id, sw.name, st.project, st.objective, st.goal, st.budget
		FROM studies st JOIN sweeps sw ON sw.id = st.sweep_id ORDER BY st.sweep_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	added := false
	for rows.Next() {
		var p SweepProgress
		if err := rows.Scan(&p.SweepID, &p.Sweep, &p.Project, &p.Objective.Name, &p.Objective.Goal, &p.Budget); err != nil {
			return nil, err
		}
		found := false
		for i := range out {
			if sameGroup(out[i], p) {
				out[i].Budget, found = p.Budget, true
			}
		}
		if !found {
			p.Counts = make(map[OrderState]int, len(OrderStates))
			for _, s := range OrderStates {
				p.Counts[s] = 0
			}
			out, added = append(out, p), true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if added {
		slices.SortStableFunc(out, func(a, b SweepProgress) int {
			return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(b2i(a.SweepID == 0), b2i(b.SweepID == 0)),
				cmp.Compare(a.SweepID, b.SweepID))
		})
	}
	return out, nil
}

// b2i is 1 for true, so that false sorts first.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
