package outcomeview

import (
	"math"
	"strconv"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/prune"
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

	rec db.PruneRecord // what it was made of, for Text
}

// NewVerdict is r as show prints it.
func NewVerdict(r db.PruneRecord) *Verdict {
	v := &Verdict{Rule: r.Rule.String(), Series: r.Series, Step: r.Step,
		Value: finite(r.Value), Cutoff: finite(r.Cutoff), rec: r}
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

// Text is the verdict in words (prune.Verdict), name being the objective
// judged.
func (v *Verdict) Text(name string) string {
	return prune.Verdict(v.rec.Rule, v.rec.Rule.Judged(name), v.rec.Series, prune.Decision{Prune: true, Rung: v.rec.Rung, Step: v.rec.Step,
		Value: v.rec.Value, Cutoff: v.rec.Cutoff, Rank: v.rec.Rank, Of: v.rec.Of})
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
