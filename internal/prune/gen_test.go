package prune

import (
	"math"
	"math/rand"
	"strconv"

	"github.com/mljob/mljob/internal/objective"
)

// genScenario makes a study of n runs under rule and goal: each run a
// curve of 1 to 40 integer steps (from 0 or 1, mostly one apart, some
// jumps that pass several rungs at once, a few steps reported twice),
// values on a coarse grid so that runs tie, a few NaNs and infinities;
// each run ends complete or failed (or not at all), and the runs' events
// are interleaved as 1 to 7 runs at a time would send them.
func genScenario(rng *rand.Rand, rule Rule, goal objective.Goal, n int) scenario {
	runs := make([][]event, n)
	for r := range runs {
		runs[r] = genRun(rng, r)
	}
	sc := scenario{Rule: rule.WithDefaults(), Goal: goal}
	slots := 1 + rng.Intn(7)
	var active []int
	nextRun := 0
	for nextRun < n || len(active) > 0 {
		for len(active) < slots && nextRun < n {
			active = append(active, nextRun)
			nextRun++
		}
		i := rng.Intn(len(active))
		r := active[i]
		sc.Events = append(sc.Events, runs[r][0])
		if runs[r] = runs[r][1:]; len(runs[r]) == 0 {
			active = append(active[:i], active[i+1:]...)
		}
	}
	return sc
}

// genRun is run r's events in order.
func genRun(rng *rand.Rand, r int) []event {
	length := 1 + rng.Intn(40)
	step := rng.Intn(2)
	level := 1 + rng.Float64()    // where the curve starts
	slope := rng.Float64() * 0.05 // how fast it falls
	flat := rng.Intn(6) == 0      // a constant curve: ties with itself and others
	var evs []event
	repeat := false
	for i := 0; i < length; i++ {
		v := level - slope*float64(i) + rng.NormFloat64()*0.05
		if flat {
			v = level
		}
		if repeat {
			// A second report of a step, far from the first: Optuna keeps
			// the first, and a rule that took this one would differ.
			v += float64(1-2*rng.Intn(2)) * 0.5
		}
		v = math.Round(v*10) / 10 // a grid of 0.1: ties between runs
		switch x := rng.Float64(); {
		case x < 0.02:
			v = math.NaN()
		case x < 0.025:
			v = math.Inf(1 - 2*rng.Intn(2))
		}
		evs = append(evs, event{Kind: "report", Run: r, Step: step, Value: strconv.FormatFloat(v, 'g', -1, 64)})
		repeat = false
		switch x := rng.Float64(); {
		case x < 0.05: // the same step again
			repeat = true
		case x < 0.12:
			step += 2 + rng.Intn(12)
		default:
			step++
		}
	}
	switch x := rng.Float64(); {
	case x < 0.8:
		evs = append(evs, event{Kind: "complete", Run: r})
	case x < 0.95:
		evs = append(evs, event{Kind: "fail", Run: r})
	}
	return evs
}
