package outcomeview

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/jobfields"
	"github.com/mljob/mljob/internal/objective"
)

// ObjectiveOf is the objective r's job ranks by: the job's, or
// objective.Default for a row that has none (a row made by hand; the
// database gives every job one).
func ObjectiveOf(r *db.OutcomeRow) objective.Objective {
	if r.Objective == (objective.Objective{}) {
		return objective.Default
	}
	return r.Objective
}

// ObjectiveValue is r's value of its objective as mljob shows it: the
// value the dispatcher stored, else NaN or an infinity when the Outcome
// line holds one there (the stored value is nil for NaN, as for "not
// reported", so the line tells them apart, by Fill's rule), else nil.
func ObjectiveValue(r *db.OutcomeRow) *float64 {
	if r.ObjectiveValue != nil || len(r.JSON) == 0 {
		return r.ObjectiveValue
	}
	o := ObjectiveOf(r)
	// Fill has read loss and metric already; this spares a second lookup
	// for the default objective.
	switch o.Name {
	case "loss":
		return nonFiniteOnly(r.Loss)
	case "metric":
		return nonFiniteOnly(r.Metric)
	}
	path, err := jobfields.ParsePath(o.Name)
	if err != nil || !json.Valid(r.JSON) {
		return nil
	}
	raw, ok := LookupJSON(r.JSON, path)
	if !ok {
		return nil
	}
	return nonFinite(raw)
}

func nonFiniteOnly(f *float64) *float64 {
	if f == nil || isFinite(*f) {
		return nil
	}
	return f
}

// ObjectiveCount is one objective among the rows shown and how many of
// them rank by it.
type ObjectiveCount struct {
	Objective objective.Objective
	Runs      int
}

// ObjectiveCounts are the objectives of the rows shown, in the order they
// first appear (the database groups rows by objective when it ranks by
// one).
type ObjectiveCounts []ObjectiveCount

// add counts o and returns its index.
func (c *ObjectiveCounts) add(o objective.Objective) int {
	for i := range *c {
		if (*c)[i].Objective == o {
			(*c)[i].Runs++
			return i
		}
	}
	*c = append(*c, ObjectiveCount{Objective: o, Runs: 1})
	return len(*c) - 1
}

// RankingNote is the line outcomes writes on stderr about what the rows
// are ranked by, sorted by sort (an OutcomeFilter.Sort). Rows of two or
// more objectives always get one, in every format, since comparing their
// values would mean nothing: "2 objectives among these rows (cvMse:min 8
// runs, loss:min 1 run): ranked within each, never across." Rows of one
// objective get one in the table only ("Ranked by cvMse, lower is
// better."); none gets "".
func RankingNote(objs ObjectiveCounts, sort, format string) string {
	switch {
	case len(objs) == 0:
		return ""
	case len(objs) > 1:
		parts := make([]string, len(objs))
		for i, oc := range objs {
			parts[i] = oc.Objective.String() + " " + runs(oc.Runs)
		}
		how := "compare runs within one objective, never across."
		if sort == "objective" || sort == "-objective" {
			how = "ranked within each, never across."
		}
		return fmt.Sprintf("%d objectives among these rows (%s): %s", len(objs), strings.Join(parts, ", "), how)
	case format != FormatTable:
		return ""
	}
	o := objs[0].Objective
	switch sort {
	case "objective":
		return fmt.Sprintf("Ranked by %s, %s.", o.Name, o.Better())
	case "-objective":
		return fmt.Sprintf("Ranked by %s, worst first (%s).", o.Name, o.Better())
	case "":
		return fmt.Sprintf("The objective is %s, %s.", o.Name, o.Better())
	}
	return fmt.Sprintf("Sorted by %s; the objective is %s, %s.", sort, o.Name, o.Better())
}

func runs(n int) string {
	if n == 1 {
		return "1 run"
	}
	return strconv.Itoa(n) + " runs"
}
