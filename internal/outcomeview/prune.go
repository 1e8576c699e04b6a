package outcomeview

import (
	"fmt"
	"math"
	"strconv"

	"github.com/mljob/mljob/internal/db"
)

// Verdict is why a pruner stopped an attempt, as show prints it: the rule
// in submit --pruner's form, the series and the point judged, the rung it
// failed (null for a rule without rungs: median), the value it had to
// reach (null when none) and its rank among the values compared.
type Verdict struct {
	Rule   string   `json:"rule"`
	Series string   `json:"series"`
	Rung   *int     `json:"rung"`
	Step   float64  `json:"step"`
	Value  *float64 `json:"value"` // null when the point judged was NaN
	Cutoff *float64 `json:"cutoff"`
	Rank   *int     `json:"rank"`
	Of     *int     `json:"of"`
}

// NewVerdict is r as show prints it.
func NewVerdict(r db.PruneRecord) *Verdict {
	v := &Verdict{Rule: r.Rule.String(), Series: r.Series, Step: r.Step,
		Value: finite(r.Value), Cutoff: finite(r.Cutoff)}
	if r.Rung >= 0 {
		v.Rung = &r.Rung
	}
	if r.Rank > 0 {
		v.Rank = &r.Rank
	}
	if r.Of > 0 {
		v.Of = &r.Of
	}
	return v
}

// finite is &v, or nil for NaN (none, or not a number).
func finite(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

// Text is the verdict in words, name being the objective judged: "at step
// 9 (rung 2) of series fold0: valLoss 0.53 ranked 5 of 7, the cutoff was
// 0.41 (asha:minStep=1,reduction=3,minEarlyStoppingRate=0)".
func (v *Verdict) Text(name string) string {
	s := "at step " + strconv.FormatFloat(v.Step, 'g', -1, 64)
	if v.Rung != nil {
		s += " (rung " + strconv.Itoa(*v.Rung) + ")"
	}
	if v.Series != "" {
		s += " of series " + v.Series
	}
	value := "NaN"
	if v.Value != nil {
		value = FormatNumber(v.Value, FormatTable)
	}
	s += ": " + name + " " + value
	switch {
	case v.Rank != nil && v.Of != nil:
		s += fmt.Sprintf(" ranked %d of %d", *v.Rank, *v.Of)
	case v.Of != nil:
		s += fmt.Sprintf(" against %d runs", *v.Of)
	}
	if v.Cutoff != nil {
		s += ", the cutoff was " + FormatNumber(v.Cutoff, FormatTable)
	}
	return s + " (" + v.Rule + ")"
}

// verdictKeys are the CSV columns of a verdict, after the attempts'.
var verdictKeys = []string{"prunedRule", "prunedSeries", "prunedRung", "prunedStep", "prunedValue",
	"prunedCutoff", "prunedRank", "prunedOf"}

// csvCells are v's CSV cells, in verdictKeys' order; empty ones for nil.
func (v *Verdict) csvCells() []string {
	if v == nil {
		return make([]string, len(verdictKeys))
	}
	num := func(f *float64) string { return FormatNumber(f, FormatCSV) }
	n := func(i *int) string {
		if i == nil {
			return ""
		}
		return strconv.Itoa(*i)
	}
	return []string{v.Rule, v.Series, n(v.Rung), strconv.FormatFloat(v.Step, 'g', -1, 64), num(v.Value),
		num(v.Cutoff), n(v.Rank), n(v.Of)}
}
