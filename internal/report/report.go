package report

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/jobfields"
	"github.com/mljob/mljob/internal/outcomeview"
	"github.com/mljob/mljob/internal/pyexec"
)

// SortKeys are the accepted values of Options.Sort: those of mljob
// outcomes --sort (db.OutcomeSorts).
var SortKeys = db.OutcomeSorts

// DefaultSort is the sort used when Options.Sort is empty: lowest loss first.
const DefaultSort = "loss"

// DefaultTop is the number of rows of the top-configurations table when
// Options.Top is zero.
const DefaultTop = 10

// maxParams bounds the varying job fields the page shows (as table columns
// and as one chart each): a page of fifty small charts helps nobody, and a
// sweep rarely varies more than a handful of knobs.
const maxParams = 16

// maxTailLines is how much of a failed run's stderr the failures table shows.
const maxTailLines = 12

// ErrUnknownSort is returned for an Options.Sort not in SortKeys.
var ErrUnknownSort = errors.New("unknown sort key")

// Options say what Build puts on the page.
type Options struct {
	Project string
	// SweepName, when set, names the sweep the rows come from, for the
	// page's title.
	SweepName string
	// Sort orders the top table: one of SortKeys, "" for DefaultSort.
	Sort string
	// Top is the number of rows of the top table; 0 means DefaultTop.
	Top int
	// Now is the time the page says it was made; the zero time means now.
	Now time.Time
}

// Report is everything the page shows, computed from a project's outcomes.
type Report struct {
	Project string
	// Sweep is the name of the sweep the page is about; "" for every run of
	// the project.
	Sweep     string
	Generated time.Time
	Sort      string // one of SortKeys
	Runs      int    // outcomes, one per attempt
	Jobs      int
	Succeeded int
	Failed    int
	Hosts     []string // every host that ran an attempt, sorted
	// Params are the job fields (dotted paths into the job JSON) whose
	// values differ between runs, top-level fields first.
	Params []Param
	// HiddenParams counts varying fields left off because of maxParams.
	HiddenParams int
	// ValueName is what the charts plot: "metric", or "loss" when no run
	// reported a finite metric.
	ValueName string
	// ValueLabel is ValueName with the scoring the script named, if any
	// ("metric (neg_mean_squared_error)").
	ValueLabel string
	// OffChart counts succeeded runs whose charted value is NaN, infinite
	// or missing: JSON cannot carry them and a chart would lie about them,
	// so they are shown only as text in the tables.
	OffChart int
	Top      []Run
	Failures []Failure
	// Chart is the data the page's script draws, embedded as JSON.
	Chart ChartData
}

// Param is one varying job field.
type Param struct {
	Path    string `json:"name"`
	Numeric bool   `json:"numeric"` // every run has it, as a number
	Log     bool   `json:"log"`     // numeric, positive, spanning two decades or more
	// Categories are the distinct values of a non-numeric field among the
	// charted runs, in order (numbers by value, then text).
	Categories []string `json:"categories,omitempty"`
	// Boxes holds, per category, the metric's min, Q1, median, Q3 and max.
	Boxes [][5]float64 `json:"boxes,omitempty"`
}

// Value is a loss or metric as the page shows it.
type Value struct {
	F      float64 // meaningful only when Finite
	Finite bool
	Text   string // "0.1234", "NaN", "+Inf", or "—" when not reported
}

// Run is one row of the top-configurations table.
type Run struct {
	Rank     int
	JobID    int64
	OrderID  int64
	Attempt  int
	Host     string
	Params   []string // the values of Report.Params, as text; "—" if absent
	Loss     Value
	Metric   Value
	Duration string
}

// Failure is one row of the failures table.
type Failure struct {
	JobID    int64
	OrderID  int64
	Attempt  int
	Host     string
	Exit     string // "exit 1", "status 400", or ""
	Error    string
	Stderr   string // the last lines of stderr
	Duration string
	// LogsCommand prints the attempt's whole stderr.
	LogsCommand string
}

// ChartData is what the page's script reads; it holds finite numbers only.
type ChartData struct {
	ValueName      string      `json:"valueName"`
	ValueLabel     string      `json:"valueLabel"`
	HigherIsBetter bool        `json:"higherIsBetter"`
	Params         []Param     `json:"params"`
	Points         []Point     `json:"points"`
	HostTimes      []HostTimes `json:"hostTimes"`
}

// Point is one charted run: a succeeded run with a finite value.
type Point struct {
	JobID   int64 `json:"job"`
	OrderID int64 `json:"order"`
	// Values are the run's Params in order: a float64 for a numeric field,
	// the category text otherwise.
	Values []any    `json:"values"`
	Loss   *float64 `json:"loss"` // nil unless finite
	Value  float64  `json:"value"`
}

// HostTimes are the durations of one host's succeeded runs.
type HostTimes struct {
	Host    string     `json:"host"`
	Seconds []float64  `json:"seconds"`
	Box     [5]float64 `json:"box"`
	Failed  int        `json:"failed"`
}

// run is one outcome with what Build derives from it.
type run struct {
	row     db.OutcomeRow
	fields  map[string]leaf
	loss    Value
	metric  Value
	scoring string // the Outcome JSON's "scoring", "" when it names none
}

// Build computes the page's contents from rows, the outcomes of one project
// as (*db.DB).Outcomes returns them, in any order. It changes nothing in
// rows and returns ErrUnknownSort for a bad opts.Sort.
func Build(rows []db.OutcomeRow, opts Options) (*Report, error) {
	sortKey := opts.Sort
	if sortKey == "" {
		sortKey = DefaultSort
	}
	if !slices.Contains(SortKeys, sortKey) {
		return nil, fmt.Errorf("build report: %w %q (want %s)", ErrUnknownSort, opts.Sort, strings.Join(SortKeys, ", "))
	}
	top := opts.Top
	if top <= 0 {
		top = DefaultTop
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	r := &Report{Project: opts.Project, Sweep: opts.SweepName, Generated: now.UTC(), Sort: sortKey, Runs: len(rows)}

	runs := make([]run, len(rows))
	jobs := map[int64]bool{}
	hosts := map[string]bool{}
	for i, row := range rows {
		outcomeview.Fill(&row)
		script := outcomeFields(row.JSON)
		runs[i] = run{
			row:     row,
			fields:  flatten(row.Spec),
			loss:    valueOf(row.Loss, script["loss"]),
			metric:  valueOf(row.Metric, script["metric"]),
			scoring: scoringOf(script["scoring"]),
		}
		jobs[row.JobID] = true
		if row.Host != "" {
			hosts[row.Host] = true
		}
		if row.Succeeded {
			r.Succeeded++
		} else {
			r.Failed++
		}
	}
	r.Jobs = len(jobs)
	for h := range hosts {
		r.Hosts = append(r.Hosts, h)
	}
	sort.Strings(r.Hosts)

	specs := make([]map[string]leaf, len(runs))
	for i := range runs {
		specs[i] = runs[i].fields
	}
	paths := jobfields.Varying(specs)
	if len(paths) > maxParams {
		r.HiddenParams = len(paths) - maxParams
		paths = paths[:maxParams]
	}

	var ok []run
	for _, x := range runs {
		if x.row.Succeeded {
			ok = append(ok, x)
		}
	}
	r.ValueName = "metric"
	if !slices.ContainsFunc(ok, func(x run) bool { return x.metric.Finite }) &&
		slices.ContainsFunc(ok, func(x run) bool { return x.loss.Finite }) {
		r.ValueName = "loss"
	}
	r.ValueLabel = r.ValueName
	scoring := commonScoring(ok)
	if scoring != "" && r.ValueName == "metric" {
		r.ValueLabel = "metric (" + scoring + ")"
	}

	r.Params = describeParams(paths, runs)
	r.Top = topRuns(ok, r.Params, sortKey, top)
	r.Failures = failures(runs)
	r.Chart = chartData(r, ok, sortKey, scoring)
	return r, nil
}

// chartValue is the value the charts plot for x.
func (r *Report) chartValue(x run) Value {
	if r.ValueName == "loss" {
		return x.loss
	}
	return x.metric
}

// describeParams says of each path whether it is numeric and whether a log
// axis suits it; categories come later, from the charted runs.
func describeParams(paths []string, runs []run) []Param {
	params := make([]Param, len(paths))
	for i, p := range paths {
		params[i] = Param{Path: p, Numeric: true}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range runs {
			f, isNum := x.fields[p].number()
			if !isNum {
				params[i].Numeric = false
				break
			}
			lo, hi = min(lo, f), max(hi, f)
		}
		params[i].Log = params[i].Numeric && lo > 0 && hi/lo >= 100
	}
	return params
}

// topRuns sorts the succeeded runs by key and keeps the first n. Runs
// without a finite key go last (as SQL's NULLS LAST), then ties go by job,
// order and attempt so the table is stable.
func topRuns(ok []run, params []Param, key string, n int) []Run {
	desc := strings.HasPrefix(key, "-")
	field := strings.TrimPrefix(key, "-")
	pick := func(x run) Value {
		if field == "metric" {
			return x.metric
		}
		return x.loss
	}
	sorted := slices.Clone(ok)
	slices.SortStableFunc(sorted, func(a, b run) int {
		va, vb := pick(a), pick(b)
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
	})
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
			Params: vals, Loss: x.loss, Metric: x.metric, Duration: formatDuration(x.row.DurationSeconds),
		}
	}
	return out
}

// failures lists the failed attempts, in the order the rows came.
func failures(runs []run) []Failure {
	var out []Failure
	for _, x := range runs {
		if x.row.Succeeded {
			continue
		}
		f := Failure{
			JobID: x.row.JobID, OrderID: x.row.OrderID, Attempt: x.row.Attempt, Host: x.row.Host,
			Error: x.row.Error, Stderr: lastLines(x.row.StderrTail, maxTailLines),
			Duration: formatDuration(x.row.DurationSeconds),
			// --attempt names this attempt even after a retry started another.
			LogsCommand: fmt.Sprintf("mljob logs %d --attempt %d --stderr", x.row.JobID, x.row.Attempt),
		}
		switch {
		case x.row.ExitCode != nil:
			f.Exit = "exit " + strconv.Itoa(*x.row.ExitCode)
		case x.row.Status != nil:
			f.Exit = "status " + strconv.Itoa(*x.row.Status)
		}
		if f.Error == "" {
			f.Error = "no reason recorded"
		}
		out = append(out, f)
	}
	return out
}

// chartData gathers the finite numbers the charts draw; scoring is the
// runs' commonScoring.
func chartData(r *Report, ok []run, sortKey, scoring string) ChartData {
	c := ChartData{
		ValueName:      r.ValueName,
		ValueLabel:     r.ValueLabel,
		HigherIsBetter: higherIsBetter(r, sortKey, scoring),
		Points:         []Point{},
		HostTimes:      []HostTimes{},
	}
	var charted []run
	for _, x := range ok {
		if r.chartValue(x).Finite {
			charted = append(charted, x)
		} else {
			r.OffChart++
		}
	}
	for _, x := range charted {
		p := Point{JobID: x.row.JobID, OrderID: x.row.OrderID, Value: r.chartValue(x).F, Values: make([]any, len(r.Params))}
		if x.loss.Finite {
			p.Loss = &x.loss.F
		}
		for j, prm := range r.Params {
			if f, isNum := x.fields[prm.Path].number(); prm.Numeric && isNum {
				p.Values[j] = f
			} else {
				p.Values[j] = x.fields[prm.Path].text()
			}
		}
		c.Points = append(c.Points, p)
	}
	for j := range r.Params {
		prm := &r.Params[j]
		if prm.Numeric {
			continue
		}
		byCat := map[string][]float64{}
		for _, p := range c.Points {
			cat := p.Values[j].(string)
			byCat[cat] = append(byCat[cat], p.Value)
		}
		for cat := range byCat {
			prm.Categories = append(prm.Categories, cat)
		}
		sortCategories(prm.Categories)
		for _, cat := range prm.Categories {
			prm.Boxes = append(prm.Boxes, fiveNumbers(byCat[cat]))
		}
	}
	c.Params = r.Params

	byHost := map[string]*HostTimes{}
	for _, h := range r.Hosts {
		byHost[h] = &HostTimes{Host: h, Seconds: []float64{}}
	}
	for _, x := range ok {
		if h := byHost[x.row.Host]; h != nil && isFinite(x.row.DurationSeconds) {
			h.Seconds = append(h.Seconds, x.row.DurationSeconds)
		}
	}
	for _, f := range r.Failures {
		if h := byHost[f.Host]; h != nil {
			h.Failed++
		}
	}
	for _, h := range r.Hosts {
		ht := byHost[h]
		sort.Float64s(ht.Seconds)
		if len(ht.Seconds) > 0 {
			ht.Box = fiveNumbers(ht.Seconds)
		}
		c.HostTimes = append(c.HostTimes, *ht)
	}
	return c
}

// higherIsBetter tells the charts which end of the colour scale is good.
// Sorting by a value says it; otherwise a metric that names an sklearn
// scoring is "greater is better" by sklearn's convention (neg_* scores), and
// a bare metric is taken to be an error, like nn.py's test loss. scoring
// is the runs' commonScoring.
func higherIsBetter(r *Report, sortKey, scoring string) bool {
	field := strings.TrimPrefix(sortKey, "-")
	if field == r.ValueName {
		return strings.HasPrefix(sortKey, "-")
	}
	if r.ValueName == "loss" {
		return false
	}
	return scoring != ""
}

// commonScoring is the scoring every run names, or "" when they differ or
// none does.
func commonScoring(runs []run) string {
	s := ""
	for i, x := range runs {
		if i > 0 && x.scoring != s {
			return ""
		}
		s = x.scoring
	}
	return s
}

// scoringOf is the "scoring" field of an Outcome JSON: a string, or "".
func scoringOf(raw json.RawMessage) string {
	var s string
	if raw != nil {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// outcomeFields splits an Outcome JSON object into its fields; nil for
// none or for a line that is not an object.
func outcomeFields(b []byte) map[string]json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// valueOf is a loss or metric column (Fill applied: a NaN or an infinity
// the script reported is there), or, where it has none, what the Outcome
// JSON said, read by the one rule (pyexec.Number), else the script's text
// as it wrote it.
func valueOf(col *float64, raw json.RawMessage) Value {
	if col == nil {
		col = pyexec.Number(raw)
	}
	if col != nil {
		return floatValue(*col)
	}
	var s string
	if len(raw) == 0 || string(raw) == "null" || json.Unmarshal(raw, &s) != nil {
		return Value{Text: "—"}
	}
	return Value{Text: s}
}

func floatValue(f float64) Value {
	switch {
	case math.IsNaN(f):
		return Value{Text: "NaN"}
	case math.IsInf(f, 1):
		return Value{Text: "+Inf"}
	case math.IsInf(f, -1):
		return Value{Text: "-Inf"}
	}
	return Value{F: f, Finite: true, Text: strconv.FormatFloat(f, 'g', 6, 64)}
}

func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// fiveNumbers returns min, Q1, median, Q3 and max of vs (linear
// interpolation between order statistics, as numpy's default).
func fiveNumbers(vs []float64) [5]float64 {
	s := slices.Clone(vs)
	sort.Float64s(s)
	q := func(p float64) float64 {
		pos := p * float64(len(s)-1)
		i := int(math.Floor(pos))
		if i+1 >= len(s) {
			return s[len(s)-1]
		}
		return s[i] + (pos-float64(i))*(s[i+1]-s[i])
	}
	return [5]float64{s[0], q(0.25), q(0.5), q(0.75), s[len(s)-1]}
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

// formatDuration is a run time as the outcomes table shows it, or "—"
// for none.
func formatDuration(sec float64) string {
	if !isFinite(sec) || sec < 0 {
		return "—"
	}
	return outcomeview.FormatDuration(sec)
}

// lastLines returns the last n lines of s, without a trailing newline.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// leaf is one leaf of a job's JSON: a json.Number, string, bool, nil, or
// the text "[]" or "{}" of an empty container. absent is the zero leaf.
type leaf struct {
	v       any
	present bool
}

func (l leaf) number() (float64, bool) {
	n, ok := l.v.(json.Number)
	if !ok || !l.present {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil && isFinite(f)
}

func (l leaf) text() string {
	if !l.present {
		return "—"
	}
	return jobfields.Text(l.v)
}

// flatten maps each leaf of a JSON object to its dotted path
// ("hiddenLayers.0.dropout"). A spec that is not a JSON object has no
// fields.
func flatten(spec []byte) map[string]leaf {
	out := map[string]leaf{}
	fields, object := jobfields.Flatten(spec)
	if !object {
		return out
	}
	for p, v := range fields {
		out[p] = leaf{v: v, present: true}
	}
	return out
}
