package prune

import (
	"fmt"
	"math"
	"strconv"
)

// Verdict is a decision that pruned a run, in words: what the dispatcher
// records as the run's error and what show prints. name is the objective
// judged, series the series ("" for the run's unnamed one). For example
// "at step 9 (rung 2) of series fold0: valLoss 0.53 ranked 5 of 7, the
// cutoff was 0.41 (asha:minStep=1,reduction=3,minEarlyStoppingRate=0)".
func Verdict(r Rule, name, series string, d Decision) string {
	s := "at step " + number(d.Step)
	if d.Rung >= 0 {
		s += " (rung " + strconv.Itoa(d.Rung) + ")"
	}
	if series != "" {
		s += " of series " + series
	}
	switch {
	case math.IsNaN(d.Value):
		s += ": " + name + " is not a number"
	case d.Rank > 0:
		s += fmt.Sprintf(": %s %s ranked %d of %d, the cutoff was %s", name, number(d.Value), d.Rank, d.Of, number(d.Cutoff))
	default:
		s += fmt.Sprintf(": best %s %s is worse than the median %s of %d finished runs", name, number(d.Value), number(d.Cutoff), d.Of)
	}
	return s + " (" + r.String() + ")"
}

// number is v with at most 6 significant digits.
func number(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
