package prune

import (
	"fmt"
	"math"

	"github.com/mljob/mljob/internal/objective"
)

// RungValue is a value a run recorded at a rung.
type RungValue struct {
	Rung  int
	Value float64
}

// Decision is the verdict on one reported point.
type Decision struct {
	Prune bool
	// Rung is, for asha, the rung judged last (where pruned, or the last
	// passed), -1 when the step reached no new rung; for median, -1.
	Rung int
	// Step is the step judged.
	Step float64
	// Value is the run's value judged: for asha the reported value, for
	// median the run's best so far.
	Value float64
	// Cutoff is the value Value had to reach to survive: for asha the
	// competing value at Optuna's promotable index in goal order, for
	// median the median. NaN when there is none (no rung judged, a NaN
	// value, no completed run with a value at Step).
	Cutoff float64
	// Rank is, for asha, the 1-based rank of Value among the values at
	// Rung, its own included, in goal order; a tie shares the better rank
	// (1 + how many are strictly better). Median: 0.
	Rank int
	// Of is how many values Rank is among (asha), or how many completed
	// runs had a value other than NaN at Step (median: what the median is
	// of).
	Of int
	// Records are, for asha, the rungs this report completed, in order, to
	// be stored: the one it was pruned at included, as Optuna stores it
	// before judging, except where the value is NaN (Optuna prunes a NaN
	// before storing it).
	Records []RungValue
}

// ASHA is Optuna's SuccessiveHalvingPruner.prune for one reported point of
// a run: next is the first rung the run has not recorded yet; step and
// value are the point judged, which is the run's largest step so far and
// the first value reported at it (LastPoint: Optuna judges
// trial.last_step, and keeps the first value of a step reported twice);
// competing(rung) returns the values the OTHER runs of the study recorded
// at that rung so far (any state: running, pruned, done, failed), read at
// decision time.
//
// It loops over rungs as Optuna does: one report may pass several rungs,
// each judged with the same value (the value at step, not at the rung's
// step). A step below the next rung's decides nothing, not even a NaN
// value; a NaN value at a rung's step prunes. The run's own value is one of
// the competing values; the first η−1 runs at a rung survive only by being
// the best so far.
func (r Rule) ASHA(goal objective.Goal, next int, step, value float64, competing func(rung int) ([]float64, error)) (Decision, error) {
	r = r.WithDefaults()
	d := Decision{Rung: -1, Step: step, Value: value, Cutoff: math.NaN()}
	if math.IsNaN(step) || math.IsInf(step, 0) {
		return d, fmt.Errorf("asha: step %v is not a finite number", step)
	}
	if next < 0 {
		return d, fmt.Errorf("asha: next rung %d is below 0", next)
	}
	for rung := next; step >= r.RungStep(rung); rung++ {
		d.Rung, d.Cutoff, d.Rank, d.Of = rung, math.NaN(), 0, 0
		if math.IsNaN(value) {
			d.Prune = true
			return d, nil
		}
		d.Records = append(d.Records, RungValue{Rung: rung, Value: value})
		others, err := competing(rung)
		if err != nil {
			return d, fmt.Errorf("asha: rung %d: %w", rung, err)
		}
		vals := append(append(make([]float64, 0, len(others)+1), others...), value)
		d.Cutoff, d.Rank, d.Of = promotion(goal, value, vals, r.Reduction)
		if !survives(goal, value, d.Cutoff) {
			d.Prune = true
			return d, nil
		}
	}
	return d, nil
}

// promotion is Optuna's _is_trial_promotable_to_next_rung: the cutoff is
// the value at index len/η−1 (0 for the first η−1 values) of the values
// sorted best first; with it, value's rank among vals and their number.
func promotion(goal objective.Goal, value float64, vals []float64, reduction int) (cutoff float64, rank, of int) {
	idx := len(vals)/reduction - 1
	if idx < 0 {
		idx = 0
	}
	s := sortedCopy(vals)
	if goal == objective.Maximize {
		cutoff = s[len(s)-1-idx]
	} else {
		cutoff = s[idx]
	}
	rank = 1
	for _, v := range vals {
		if better(goal, v, value) {
			rank++
		}
	}
	return cutoff, rank, len(vals)
}

// survives is Optuna's comparison: value <= cutoff when minimizing, value
// >= cutoff when maximizing; a tie survives.
func survives(goal objective.Goal, value, cutoff float64) bool {
	if goal == objective.Maximize {
		return value >= cutoff
	}
	return value <= cutoff
}

// better reports whether a is strictly better than b under goal.
func better(goal objective.Goal, a, b float64) bool {
	if goal == objective.Maximize {
		return a > b
	}
	return a < b
}
