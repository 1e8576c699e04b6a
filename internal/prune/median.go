package prune

import (
	"math"

	"github.com/mljob/mljob/internal/objective"
)

// Point is one reported point of a curve.
type Point struct{ Step, Value float64 }

// LastPoint is the point Optuna judges after a report: the largest step
// the curve holds (trial.last_step), with the first value reported at it
// (Optuna ignores a second report of a step). ok is false for an empty
// curve.
func LastPoint(curve []Point) (p Point, ok bool) {
	for i, q := range curve {
		if i == 0 || q.Step > p.Step {
			p = q
		}
	}
	return p, len(curve) > 0
}

// Median is Optuna's MedianPruner.prune (percentile 50, interval_steps 1,
// n_min_trials 1) for curve (the run's points so far, in the order
// reported), against the curves of the study's COMPLETED runs (succeeded;
// not pruned, not failed) as step -> value maps.
//
// As Optuna does: it decides nothing while no run has completed or fewer
// than StartupRuns have, nor at a step below WarmupSteps; the step judged
// is the curve's largest (LastPoint), the value judged the run's best over
// all its steps (the first value of a step reported twice; NaNs skipped,
// and a run with only NaNs is pruned), and the cutoff numpy's
// nanpercentile(50) of the completed runs' values at exactly that step
// (runs without it are ignored; none left, no decision). Worse than the
// cutoff prunes; a tie does not.
func (r Rule) Median(goal objective.Goal, curve []Point, completed []map[float64]float64) Decision {
	d := Decision{Rung: -1, Value: math.NaN(), Cutoff: math.NaN()}
	last, ok := LastPoint(curve)
	if !ok {
		return d
	}
	d.Step = last.Step
	if len(completed) == 0 || len(completed) < r.StartupRuns || last.Step < r.WarmupSteps {
		return d
	}
	d.Value = bestOf(goal, curve)
	if math.IsNaN(d.Value) {
		d.Prune = true
		return d
	}
	var vals []float64
	for _, c := range completed {
		if v, ok := c[last.Step]; ok && !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	d.Of = len(vals)
	if len(vals) == 0 {
		return d
	}
	d.Cutoff = median(vals)
	d.Prune = better(goal, d.Cutoff, d.Value)
	return d
}

// bestOf is numpy's nanmin (nanmax when maximizing) over the first value
// of each step of curve: NaN when every value is NaN.
func bestOf(goal objective.Goal, curve []Point) float64 {
	best := math.NaN()
	seen := make(map[float64]bool, len(curve))
	for _, p := range curve {
		if seen[p.Step] {
			continue
		}
		seen[p.Step] = true
		if !math.IsNaN(p.Value) && (math.IsNaN(best) || better(goal, p.Value, best)) {
			best = p.Value
		}
	}
	return best
}

// median is numpy's percentile(vals, 50) by its default "linear" method,
// computed as numpy computes it so that the cutoff is the same float: the
// virtual index (n−1)·0.5, its neighbours a and b, and numpy's _lerp,
// b − (b−a)·(1−t) where t ≥ 0.5. So an infinity among the values can make
// the median NaN, as it does in numpy (and then nothing is pruned). vals
// holds no NaN.
func median(vals []float64) float64 {
	s := sortedCopy(vals)
	n := len(s)
	vi := float64(n-1) * 0.5
	prev := math.Floor(vi)
	lo, hi := int(prev), int(prev)+1
	if vi >= float64(n-1) {
		// numpy takes the last value for both and sets the index to -1,
		// which makes the weight vi+1.
		lo, hi, prev = n-1, n-1, -1
	}
	a, b, t := s[lo], s[hi], vi-prev
	diff := b - a
	if t >= 0.5 {
		return b - diff*(1-t)
	}
	return a + diff*t
}
