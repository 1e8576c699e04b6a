package report

import (
	"math"
	"sort"
	"strconv"
)

// Param is one varying job field.
type Param struct {
	Path    string `json:"name"`
	Numeric bool   `json:"numeric"` // every run has it, as a number, and none is a sentinel
	Log     bool   `json:"log"`     // numeric, positive, spanning two decades or more
	// Sentinel is a number that stands for a setting rather than a size,
	// such as nn.py's pcaComponents: -1 (no PCA): the field's one negative
	// integer when every other value is zero or more. A field with a
	// sentinel is drawn as categories, so that -1 never sits on a numeric
	// axis as if it were a size.
	Sentinel string `json:"sentinel,omitempty"`
	// Categories are the distinct values of a non-numeric field among the
	// charted runs, in order (numbers by value, then text).
	Categories []string `json:"categories,omitempty"`
	// Boxes holds, per category, the objective's min, Q1, median, Q3 and max.
	Boxes [][5]float64 `json:"boxes,omitempty"`
}

// describeParams says of each path whether it is numeric, whether a log
// axis suits it and whether a value is a sentinel; categories come later,
// from the charted runs.
func describeParams(paths []string, runs []run) []Param {
	params := make([]Param, len(paths))
	for i, p := range paths {
		params[i] = Param{Path: p, Numeric: true}
		var values []float64
		for _, x := range runs {
			f, isNum := x.fields[p].number()
			if !isNum {
				params[i].Numeric = false
				break
			}
			values = append(values, f)
		}
		if !params[i].Numeric {
			continue
		}
		if s, ok := sentinel(values); ok {
			params[i].Numeric, params[i].Sentinel = false, strconv.FormatFloat(s, 'g', -1, 64)
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, f := range values {
			lo, hi = min(lo, f), max(hi, f)
		}
		params[i].Log = lo > 0 && hi/lo >= 100
	}
	return params
}

// sentinel finds the value of a numeric field that is not in range of the
// rest: its only negative value, an integer, when the field has other
// values and all of them are zero or more (-1 for "off", "all" or
// "none").
func sentinel(values []float64) (float64, bool) {
	var neg []float64
	others := 0
	for _, f := range values {
		if f >= 0 {
			others++
		} else if len(neg) == 0 || neg[0] != f {
			neg = append(neg, f)
		}
	}
	if len(neg) != 1 || others == 0 || neg[0] != math.Trunc(neg[0]) {
		return 0, false
	}
	return neg[0], true
}

// sortCategories puts numeric-looking values first, by value, then the
// rest alphabetically, so "16, 32, 128" do not sort as text.
func sortCategories(cats []string) {
	sort.Slice(cats, func(i, j int) bool {
		fi, ei := strconv.ParseFloat(cats[i], 64)
		fj, ej := strconv.ParseFloat(cats[j], 64)
		switch {
		case ei == nil && ej == nil:
			return fi < fj
		case ei == nil:
			return true
		case ej == nil:
			return false
		}
		return cats[i] < cats[j]
	})
}
