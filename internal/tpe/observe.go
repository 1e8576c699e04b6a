package tpe

import (
	"cmp"
	"math"
	"slices"
)

// obs is one trial as the estimator ranks it: by step (lower first: a
// complete trial is -Inf, a pruned one -step, a running one +Inf), then by
// value (signed so lower is better), as Optuna's _get_observation_pairs.
type obs struct {
	number int
	params []float64
	state  State
	step   float64
	value  float64
}

// observations keeps the trials the estimator learns from, in trial-number
// order (Optuna's chronological order, which the weight ramp depends on).
func (s *Sampler) observations(number int, trials []Trial) []obs {
	sign := 1.0
	if s.opts.Maximize {
		sign = -1
	}
	var out []obs
	for _, t := range trials {
		if t.Number == number || !s.fits(t.Params) {
			continue
		}
		o := obs{number: t.Number, params: t.Params, state: t.State}
		switch t.State {
		case Complete:
			if math.IsNaN(t.Value) {
				continue // Optuna records a NaN objective as a failed trial
			}
			o.step, o.value = math.Inf(-1), sign*t.Value
		case Pruned:
			switch {
			case t.Step < 0:
				o.step, o.value = 1, 0 // reported nothing: after every pruned trial that did
			case math.IsNaN(t.Value):
				o.step, o.value = -float64(t.Step), math.Inf(1)
			default:
				o.step, o.value = -float64(t.Step), sign*t.Value
			}
		case Running:
			if !s.opts.ConstantLiar {
				continue
			}
			o.step, o.value = math.Inf(1), math.Inf(1)
		default:
			continue
		}
		out = append(out, o)
	}
	slices.SortStableFunc(out, func(a, b obs) int { return cmp.Compare(a.number, b.number) })
	return out
}

// fits reports whether params is a point of the space: one value per
// dimension, inside its bounds, a valid choice index for a categorical.
func (s *Sampler) fits(params []float64) bool {
	if len(params) != len(s.space) {
		return false
	}
	for i, d := range s.space {
		v := params[i]
		if math.IsNaN(v) {
			return false
		}
		if d.Kind == Categorical {
			if v != math.Trunc(v) || v < 0 || int(v) >= d.Choices {
				return false
			}
			continue
		}
		if v < d.Low || v > d.High {
			return false
		}
	}
	return true
}

// split ranks the observations and returns the best nBelow and the rest,
// each in trial-number order (Optuna's _split_observation_pairs).
func split(all []obs, nBelow int) (below, above []obs) {
	idx := make([]int, len(all))
	for i := range idx {
		idx[i] = i
	}
	// a stable sort, with the index as the last key (cheaper than SortStable)
	slices.SortFunc(idx, func(i, j int) int {
		if c := cmp.Compare(all[i].step, all[j].step); c != 0 {
			return c
		}
		if c := cmp.Compare(all[i].value, all[j].value); c != 0 {
			return c
		}
		return i - j
	})
	nBelow = min(nBelow, len(idx))
	lo, hi := slices.Clone(idx[:nBelow]), slices.Clone(idx[nBelow:])
	slices.Sort(lo)
	slices.Sort(hi)
	for _, i := range lo {
		below = append(below, all[i])
	}
	for _, i := range hi {
		above = append(above, all[i])
	}
	return below, above
}
