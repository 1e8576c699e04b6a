package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/mljob/mljob/internal/jobfields"
	"github.com/mljob/mljob/internal/objective"
)

// baselineScript is the script whose jobs are baselines (see isBaseline).
const baselineScript = "baseline.py"

// Group is one section of the page: the runs of one objective (name and
// goal). Its table ranks, and its charts colour, by that objective only.
type Group struct {
	// ID prefixes the ids of the section's elements: "g0", "g1", ….
	ID        string
	Objective objective.Objective
	Runs      int // outcomes, one per attempt
	Succeeded int
	// Pruned counts the runs their pruner stopped early: neither
	// succeeded nor failed, never ranked; their curves are drawn dashed.
	Pruned int
	// Params are the job fields (dotted paths into the job JSON) whose
	// values differ between the group's runs, baselines aside, top-level
	// fields first.
	Params []Param
	// HiddenParams counts varying fields left off because of maxParams.
	HiddenParams int
	// OffChart counts succeeded runs, baselines aside, whose objective is
	// NaN, infinite or missing: JSON cannot carry them and a chart would
	// lie about them, so they are shown only as text in the table.
	OffChart int
	Top      []Run
	// ShowLoss and ShowMetric say whether the top table has a loss and a
	// metric column: not when the objective is that column, nor when no
	// succeeded run reported it.
	ShowLoss, ShowMetric bool
	// ShowCode and ShowArtifacts say whether the top table has a code
	// column (some run's job has a code record) and an artifacts column
	// (some run brought files home).
	ShowCode, ShowArtifacts bool
	// SpreadFrom names where the ± beside the objective comes from
	// ("cvMseStd", "the standard deviation of foldMse"); "" when no run of
	// the group reports fold scores.
	SpreadFrom string
	// Baseline is the reference line of the charts; nil when the project
	// has no baseline run that reports this objective.
	Baseline *Baseline
	// Curves says what the learning-curve chart draws; nil when no run of
	// the group stored progress lines (or no curves were read).
	Curves *CurveInfo
	// Importance ranks Params by the share of the objective's variance
	// their values explain (see importance); nil with fewer than
	// minHistory charted runs.
	Importance []Importance
	chart      GroupChart
}

// Cost is what g's objective-against-cost chart draws; nil for none.
func (g Group) Cost() *CostChart { return g.chart.Cost }

// History reports whether g's section draws an optimisation history.
func (g Group) History() bool { return len(g.chart.History) > 0 }

// Charted is the number of runs g's charts draw.
func (g Group) Charted() int { return len(g.chart.Points) }

// Baseline is the best baseline run of a project by one objective: a job
// of baseline.py, or one whose Outcome line says "baseline": true.
type Baseline struct {
	JobID int64   `json:"job"`
	Label string  `json:"label"` // "baseline.py, job 8"
	Value float64 `json:"value"`
}

// isBaseline reports whether a run is a reference rather than a
// candidate: its job's scriptName is baseline.py (the baseline shipped
// beside nn.py), or its Outcome line has "baseline": true (any script may
// say so of itself).
func isBaseline(spec []byte, outcome map[string]json.RawMessage) bool {
	var said bool
	if raw, ok := outcome["baseline"]; ok && json.Unmarshal(raw, &said) == nil && said {
		return true
	}
	var script string
	raw := lookupOutcome(spec, "scriptName")
	return raw != nil && json.Unmarshal(raw, &script) == nil && path.Base(script) == baselineScript
}

// groups splits runs by objective, most succeeded runs first, and builds
// each group's section.
func groups(runs []run, sortKey string, top int, curves *CurveSet) []Group {
	byObj := map[objective.Objective][]run{}
	succeeded := map[objective.Objective]int{}
	var order []objective.Objective
	var baselines []run
	for _, x := range runs {
		o := x.row.Objective
		if _, seen := byObj[o]; !seen {
			order = append(order, o)
		}
		byObj[o] = append(byObj[o], x)
		if x.row.Succeeded {
			succeeded[o]++
			if x.baseline {
				baselines = append(baselines, x)
			}
		}
	}
	slices.SortStableFunc(order, func(a, b objective.Objective) int {
		return cmp.Or(cmp.Compare(succeeded[b], succeeded[a]), strings.Compare(a.String(), b.String()))
	})
	out := make([]Group, len(order))
	for i, o := range order {
		out[i] = newGroup(fmt.Sprintf("g%d", i), o, byObj[o], baselines, sortKey, top, curves)
	}
	return out
}

// newGroup builds the section of objective o from its runs; baselines are
// the project's succeeded baseline runs, of any objective.
func newGroup(id string, o objective.Objective, runs, baselines []run, sortKey string, top int, curves *CurveSet) Group {
	g := Group{ID: id, Objective: o, Runs: len(runs)}
	var ok, candidates, okCandidates, pruned []run
	for _, x := range runs {
		if x.row.Pruned {
			g.Pruned++
			if !x.baseline {
				pruned = append(pruned, x)
			}
		}
		if x.row.Succeeded {
			g.Succeeded++
			ok = append(ok, x)
			g.ShowLoss = g.ShowLoss || o.Name != "loss" && x.loss.Text != "—"
			g.ShowMetric = g.ShowMetric || o.Name != "metric" && x.metric.Text != "—"
		}
		if !x.baseline {
			candidates = append(candidates, x)
			if x.row.Succeeded {
				okCandidates = append(okCandidates, x)
			}
		}
		if g.SpreadFrom == "" && x.spread != nil {
			_, g.SpreadFrom = spreadOf(x.row.JSON, o.Name)
		}
	}
	specs := make([]map[string]leaf, len(candidates))
	for i := range candidates {
		specs[i] = candidates[i].fields
	}
	paths := jobfields.Varying(specs)
	if len(paths) > maxParams {
		g.HiddenParams = len(paths) - maxParams
		paths = paths[:maxParams]
	}
	g.Params = describeParams(paths, candidates)
	g.Top = topRuns(ok, g.Params, sortKey, top)
	g.Baseline = baselineOf(o, baselines)
	g.chart = groupChart(&g, okCandidates)
	g.chart.Cost = costs(okCandidates)
	if len(g.chart.Points) >= minHistory {
		g.chart.History = history(o, okCandidates)
		g.Importance = importance(g.Params, g.chart.Points)
		g.chart.Importance = g.Importance
	}
	if curves != nil {
		g.Curves, g.chart.Curves = curves.forGroup(o, g.Params, okCandidates, pruned)
	}
	return g
}

// rankObjective orders runs best first by their objective (all runs of
// a group share it), those without a finite value last, then by job,
// order and attempt.
func rankObjective(runs []run) {
	slices.SortStableFunc(runs, func(a, b run) int {
		return compareValues(a, b, a.obj, b.obj, a.row.Objective.Goal == objective.Maximize)
	})
}

// compareValues orders a before b by va and vb (descending when desc),
// values that are not finite last (as SQL's NULLS LAST), then by job,
// order and attempt so that tables are stable.
func compareValues(a, b run, va, vb Value, desc bool) int {
	switch {
	case va.Finite && !vb.Finite:
		return -1
	case !va.Finite && vb.Finite:
		return 1
	case va.Finite && va.F != vb.F:
		if desc {
			return cmp.Compare(vb.F, va.F)
		}
		return cmp.Compare(va.F, vb.F)
	}
	return cmp.Or(cmp.Compare(a.row.JobID, b.row.JobID), cmp.Compare(a.row.OrderID, b.row.OrderID),
		cmp.Compare(a.row.Attempt, b.row.Attempt))
}

// topRuns sorts the succeeded runs by key and keeps the first n:
// "objective" is best first by the group's goal, "-objective" worst
// first; loss and metric as --sort says.
func topRuns(ok []run, params []Param, key string, n int) []Run {
	sorted := slices.Clone(ok)
	field, desc := strings.CutPrefix(key, "-")
	if field == "objective" {
		rankObjective(sorted)
		if desc {
			// Worst first, runs without a value still last.
			finite := slices.IndexFunc(sorted, func(x run) bool { return !x.obj.Finite })
			if finite < 0 {
				finite = len(sorted)
			}
			slices.Reverse(sorted[:finite])
		}
	} else {
		pick := func(x run) Value { return x.loss }
		if field == "metric" {
			pick = func(x run) Value { return x.metric }
		}
		slices.SortStableFunc(sorted, func(a, b run) int { return compareValues(a, b, pick(a), pick(b), desc) })
	}
	if len(sorted) > n {
		sorted = sorted[:n]
	}
	out := make([]Run, len(sorted))
	for i, x := range sorted {
		vals := make([]string, len(params))
		for j, p := range params {
			vals[j] = x.fields[p.Path].text()
		}
		out[i] = Run{
			Rank: i + 1, JobID: x.row.JobID, OrderID: x.row.OrderID, Attempt: x.row.Attempt, Host: x.row.Host,
			Baseline: x.baseline, Objective: x.obj, Params: vals, Loss: x.loss, Metric: x.metric,
			Duration: formatDuration(x.row.DurationSeconds),
		}
		if x.spread != nil {
			out[i].Spread = floatValue(*x.spread).Text
		}
	}
	return out
}

// baselineOf is the best of the baseline runs by o: each read by o's name
// from its own Outcome line (a baseline submitted with another objective
// still reports the same held-out keys), compared by o's goal. nil when
// none reports a finite value.
func baselineOf(o objective.Objective, baselines []run) *Baseline {
	var best *Baseline
	for _, x := range baselines {
		v := o.Value(x.row.JSON)
		if v == nil || !isFinite(*v) || best != nil && !o.Beats(*v, best.Value) {
			continue
		}
		label := fmt.Sprintf("job %d", x.row.JobID)
		if s := x.fields["scriptName"]; s.present {
			label = s.text() + ", " + label
		}
		best = &Baseline{JobID: x.row.JobID, Label: label, Value: *v}
	}
	return best
}

// spreadOf is the standard deviation over folds of the objective name in
// an Outcome line, and where it came from. The rule, for a name whose last
// part is N (cvMse): the number N+"Std" beside it (cvMseStd), else the
// population standard deviation (numpy's default) of a list of at least
// two numbers beside it named "fold"+the rest of N after a leading "cv"
// (cvMse → foldMse) or N+"Folds". nil when there is none.
func spreadOf(js []byte, name string) (*float64, string) {
	parts, err := jobfields.ParsePath(name)
	if err != nil || len(js) == 0 || !json.Valid(js) {
		return nil, ""
	}
	dir, last := parts[:len(parts)-1], parts[len(parts)-1]
	sibling := func(key string) json.RawMessage {
		raw, ok := jobfields.Lookup(js, append(slices.Clone(dir), key))
		if !ok {
			return nil
		}
		return raw
	}
	if v := valueOf(nil, sibling(last+"Std")); v.Finite && v.F >= 0 {
		return &v.F, last + "Std"
	}
	var lists []string
	if rest, ok := strings.CutPrefix(last, "cv"); ok && rest != "" {
		lists = append(lists, "fold"+rest)
	}
	for _, key := range append(lists, last+"Folds") {
		var folds []float64
		if json.Unmarshal(sibling(key), &folds) != nil || len(folds) < 2 {
			continue
		}
		if sd, ok := populationStd(folds); ok {
			return &sd, "the standard deviation of " + key
		}
	}
	return nil, ""
}

// populationStd is the standard deviation of vs with divisor n; false when
// a value is not finite.
func populationStd(vs []float64) (float64, bool) {
	var sum float64
	for _, v := range vs {
		if !isFinite(v) {
			return 0, false
		}
		sum += v
	}
	mean := sum / float64(len(vs))
	var sq float64
	for _, v := range vs {
		sq += (v - mean) * (v - mean)
	}
	return math.Sqrt(sq / float64(len(vs))), true
}
