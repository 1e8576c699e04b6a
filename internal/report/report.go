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
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/outcomeview"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/replicate"
)

// SortKeys are the accepted values of Options.Sort: those of mljob
// outcomes --sort (db.OutcomeSorts).
var SortKeys = db.OutcomeSorts

// DefaultSort is the sort used when Options.Sort is empty: each job's own
// objective, best first.
const DefaultSort = "objective"

// DefaultTop is the number of rows of each top-configurations table when
// Options.Top is zero.
const DefaultTop = 10

// maxParams bounds the varying job fields a section shows (as table
// columns and as one chart each): a page of fifty small charts helps
// nobody, and a sweep rarely varies more than a handful of knobs.
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
	// Sort orders each top table: one of SortKeys, "" for DefaultSort.
	Sort string
	// Top is the number of rows of each top table; 0 means DefaultTop.
	Top int
	// Now is the time the page says it was made; the zero time means now.
	Now time.Time
	// Curves are the runs' learning curves as ReadCurves read them; nil
	// draws none.
	Curves *CurveSet
	// Replicates are the project's (or sweep's) replicate groups as
	// replicate.NewGroupView sums them up; nil shows none.
	Replicates []replicate.GroupView
	// Artifacts are the files runs brought home, as ReadArtifacts read
	// them; nil shows none.
	Artifacts []RunArtifacts
}

// Counts is how the runs ended, as mljob report's last line says it:
// "5 succeeded, 1 failed", then ", 3 pruned" when some were.
func (r *Report) Counts() string {
	s := fmt.Sprintf("%d succeeded, %d failed", r.Succeeded, r.Failed)
	if r.Pruned > 0 {
		s += fmt.Sprintf(", %d pruned", r.Pruned)
	}
	return s
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
	// Pruned counts the runs their pruner stopped early: apart from
	// Failed, never ranked, their curves drawn dashed.
	Pruned int
	Hosts  []string // every host that ran an attempt, sorted
	// Groups are the runs by objective (name and goal), one section each,
	// the objective with the most succeeded runs first: runs are never
	// ranked, coloured or charted against another objective's.
	Groups   []Group
	Failures []Failure
	// Replicates are the replicate groups, one chart and table each.
	Replicates []replicate.GroupView
	// Artifacts are the runs that brought files home (or owe some), one
	// row each.
	Artifacts []RunArtifacts
	// Chart is the data the page's script draws, embedded as JSON.
	Chart ChartData
}

// Value is an objective, loss or metric as the page shows it.
type Value struct {
	F      float64 // meaningful only when Finite
	Finite bool
	Text   string // "0.1234", "NaN", "+Inf", or "—" when not reported
}

// Run is one row of a top-configurations table.
type Run struct {
	Rank     int
	JobID    int64
	OrderID  int64
	Attempt  int
	Host     string
	Baseline bool // a reference run (see isBaseline), drawn as a line
	// Objective is the run's value of its group's objective; Spread its
	// standard deviation over folds, "" when the run reports none.
	Objective Value
	Spread    string
	Params    []string // the values of the group's Params, as text; "—" if absent
	Loss      Value
	Metric    Value
	Duration  string
	// Code is the job's code as CodeText writes it; "" until
	// (*Report).ReadCode.
	Code string
	// Artifacts are the files the attempt brought home.
	Artifacts []ArtifactLink
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

// run is one outcome with what Build derives from it.
type run struct {
	row      db.OutcomeRow
	fields   map[string]leaf
	obj      Value    // the value of row.Objective
	spread   *float64 // obj's standard deviation over folds; nil for none
	loss     Value
	metric   Value
	baseline bool
}

// Build computes the page's contents from rows, the outcomes of one project
// as (*db.DB).Outcomes returns them, in any order. It changes nothing in
// rows and returns ErrUnknownSort for a bad opts.Sort.
func Build(rows []db.OutcomeRow, opts Options) (*Report, error) {
	sortKey := cmp.Or(opts.Sort, DefaultSort)
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
		runs[i] = newRun(row)
		jobs[row.JobID] = true
		if row.Host != "" {
			hosts[row.Host] = true
		}
		switch {
		case runs[i].row.Pruned:
			r.Pruned++
		case row.Succeeded:
			r.Succeeded++
		default:
			r.Failed++
		}
	}
	r.Jobs = len(jobs)
	for h := range hosts {
		r.Hosts = append(r.Hosts, h)
	}
	sort.Strings(r.Hosts)

	r.Failures = failures(runs)
	r.Groups = groups(runs, sortKey, top, opts.Curves)
	r.Replicates = opts.Replicates
	r.Artifacts = opts.Artifacts
	linkArtifacts(r.Groups, opts.Artifacts)
	r.Chart = ChartData{Groups: make([]GroupChart, len(r.Groups)), HostTimes: hostTimes(r, runs),
		Replicates: append([]replicate.GroupView{}, opts.Replicates...)}
	for i := range r.Groups {
		r.Chart.Groups[i] = r.Groups[i].chart
	}
	return r, nil
}

// newRun reads what the page needs of one outcome row.
func newRun(row db.OutcomeRow) run {
	outcomeview.Fill(&row)
	script := outcomeFields(row.JSON)
	x := run{
		row:      row,
		fields:   flatten(row.Spec),
		loss:     valueOf(row.Loss, script["loss"]),
		metric:   valueOf(row.Metric, script["metric"]),
		baseline: isBaseline(row.Spec, script),
	}
	// A pruned run never counts as succeeded, whatever its run printed
	// after the point it was judged on.
	x.row.Succeeded = x.row.Succeeded && !row.Pruned
	if row.Objective.Name == "" {
		x.row.Objective = objective.Default
	}
	switch x.row.Objective.Name {
	case "loss":
		x.obj = x.loss
	case "metric":
		x.obj = x.metric
	default:
		x.obj = objectiveValue(x.row)
	}
	if x.obj.Finite {
		x.spread, _ = spreadOf(row.JSON, x.row.Objective.Name)
	}
	return x
}

// objectiveValue is the row's value of its objective: the stored one
// (NaN is stored as none), else what the Outcome line says, as text. A
// loss or metric objective is the column (an outcome from before
// objectives has only that).
func objectiveValue(row db.OutcomeRow) Value {
	if row.ObjectiveValue != nil {
		return floatValue(*row.ObjectiveValue)
	}
	return valueOf(nil, lookupOutcome(row.JSON, row.Objective.Name))
}

// lookupOutcome is the raw value at a dotted path of an Outcome line; nil
// for none.
func lookupOutcome(js []byte, name string) json.RawMessage {
	path, err := jobfields.ParsePath(name)
	if err != nil || len(js) == 0 || !json.Valid(js) {
		return nil
	}
	raw, ok := jobfields.Lookup(js, path)
	if !ok {
		return nil
	}
	return raw
}

// failures lists the failed attempts, in the order the rows came.
func failures(runs []run) []Failure {
	var out []Failure
	for _, x := range runs {
		if x.row.Succeeded || x.row.Pruned {
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
