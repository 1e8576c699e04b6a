package outcomeview

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/jobfields"
	"github.com/mljob/mljob/internal/suggest"
)

// BuiltinColumns are the built-in names --columns takes, in the order
// --help lists them.
var BuiltinColumns = []string{"job", "order", "attempt", "project", "sweep", "status", "exit", "objective", "goal",
	"objectiveValue", "loss", "metric", "host", "duration", "cpu", "wall", "peakRss", "gpu", "finished", "error", "warning"}

// numericBuiltins are the built-in columns that hold numbers: right-aligned
// in the table.
var numericBuiltins = map[string]bool{"job": true, "order": true, "attempt": true, "exit": true,
	"objectiveValue": true, "loss": true, "metric": true, "duration": true,
	"cpu": true, "wall": true, "peakRss": true, "gpu": true}

// columnSource is where a --columns path is looked up.
type columnSource int

const (
	sourceJob     columnSource = iota + 1 // job.PATH
	sourceOutcome                         // outcome.PATH
	sourceEither                          // a bare PATH: the job's, else the outcome's
)

// Column is one --columns entry.
type Column struct {
	Name    string // as given: the CSV header and the JSON key
	builtin string // one of BuiltinColumns, or "" for a path
	source  columnSource
	path    []string // the keys and indices of a path
	found   bool     // some row has the path
}

// ParseColumns reads --columns. A name that is a built-in column is that
// column; job. and outcome. name a path into the job or the Outcome JSON;
// any other name is a path looked up in the job, then the outcome. Paths
// are in jobfields' one syntax (a\.b is the key "a.b"), as the table's
// headers write them. Built-ins come first so that `status` or `metric`
// keep their meaning whatever a job's fields are called.
func ParseColumns(names []string) ([]*Column, error) {
	var cols []*Column
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			return nil, errors.New("--columns: empty column name")
		}
		if seen[n] {
			return nil, fmt.Errorf("--columns: %s named twice", n)
		}
		seen[n] = true
		c := &Column{Name: n}
		var rest string
		switch {
		case slices.Contains(BuiltinColumns, n):
			c.builtin = n
		case strings.HasPrefix(n, "job."):
			c.source, rest = sourceJob, n[len("job."):]
		case strings.HasPrefix(n, "outcome."):
			c.source, rest = sourceOutcome, n[len("outcome."):]
		default:
			c.source, rest = sourceEither, n
		}
		if c.builtin == "" {
			p, err := jobfields.ParsePath(rest)
			if err != nil {
				return nil, fmt.Errorf("--columns %s: %s", n, strings.TrimPrefix(err.Error(), jobfields.ErrPath.Error()+": "))
			}
			c.path = p
		}
		cols = append(cols, c)
	}
	return cols, nil
}

// Builtin is the built-in column c is, or "" for a path.
func (c *Column) Builtin() string { return c.builtin }

// LookupJSON returns the value at path in js, which must be valid JSON
// (see jobfields.Lookup).
func LookupJSON(js []byte, path []string) ([]byte, bool) { return jobfields.Lookup(js, path) }

// Cell is one cell of a --columns row: its text in the output format (JSON
// text for json), whether the row has a value there, and whether that
// value is a number.
type Cell struct {
	V       string
	Present bool
	Num     bool
}

// rowSources is a row's job spec and Outcome JSON, each checked once for
// validity (LookupJSON needs valid JSON).
type rowSources struct {
	spec, out           []byte
	specOK, outOK, done bool
}

func (s *rowSources) check() {
	if !s.done {
		s.specOK, s.outOK, s.done = json.Valid(s.spec), len(s.out) > 0 && json.Valid(s.out), true
	}
}

// cell computes column c of row r in format; sweepNames names the sweeps
// by id.
func (c *Column) cell(r *db.OutcomeRow, src *rowSources, format string, sweepNames map[int64]string) Cell {
	if c.builtin != "" {
		return builtinCell(c.builtin, r, format, sweepNames)
	}
	src.check()
	var raw []byte
	var ok, fromOutcome bool
	if c.source != sourceOutcome && src.specOK {
		raw, ok = LookupJSON(src.spec, c.path)
	}
	if !ok && c.source != sourceJob && src.outOK {
		raw, ok = LookupJSON(src.out, c.path)
		fromOutcome = true
	}
	if !ok {
		return Cell{}
	}
	c.found = true
	return rawCell(raw, fromOutcome, format)
}

// rawCell shows a JSON value: in JSON as written (the script's own
// value); in the table and CSV, strings unquoted, numbers as written,
// objects and arrays as compact JSON. There, an Outcome's string that
// reads as NaN or an infinity (Fill's rule) stands for that number.
func rawCell(raw []byte, fromOutcome bool, format string) Cell {
	if format == FormatJSON {
		return Cell{V: string(raw), Present: true, Num: raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9'}
	}
	switch raw[0] {
	case '"':
		if f := nonFinite(raw); f != nil && fromOutcome {
			return Cell{V: FormatNumber(f, format), Present: true, Num: true}
		}
		return Cell{V: jobfields.Unquote(raw), Present: true}
	case '{', '[':
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			return Cell{V: string(raw), Present: true}
		}
		return Cell{V: b.String(), Present: true}
	case 't', 'f', 'n':
		return Cell{V: string(raw), Present: true}
	}
	// A number: in the table, a fraction as the built-in loss and metric
	// show one (six significant digits); CSV keeps it as written, in full.
	if format == FormatTable && bytes.ContainsAny(raw, ".eE") {
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil {
			return Cell{V: FormatNumber(&f, format), Present: true, Num: true}
		}
	}
	return Cell{V: string(raw), Present: true, Num: true}
}

// builtinCell computes a built-in column; Present is false where the row
// has no value (no exit code, no sweep, no error, no loss).
func builtinCell(name string, r *db.OutcomeRow, format string, sweepNames map[int64]string) Cell {
	num := func(n int64) Cell { return Cell{V: strconv.FormatInt(n, 10), Present: true, Num: true} }
	switch name {
	case "job":
		return num(r.JobID)
	case "order":
		return num(r.OrderID)
	case "attempt":
		return num(int64(r.Attempt))
	case "exit":
		if r.ExitCode == nil {
			return Cell{}
		}
		return num(int64(*r.ExitCode))
	case "objectiveValue":
		return numberCell(ObjectiveValue(r), format)
	case "loss":
		return numberCell(r.Loss, format)
	case "metric":
		return numberCell(r.Metric, format)
	case "duration":
		return durationCell(r.DurationSeconds, format)
	case "cpu", "wall", "peakRss", "gpu":
		return costCell(name, r.Cost, format)
	}
	return stringCell(textOf(name, r, format, sweepNames), format)
}

// textOf is a built-in column holding text, or nil where the row has none.
func textOf(name string, r *db.OutcomeRow, format string, sweepNames map[int64]string) *string {
	s := ""
	switch name {
	case "project":
		s = r.Project
	case "sweep":
		if r.SweepID == 0 {
			return nil
		}
		s = sweepNames[r.SweepID]
	case "status":
		s = State(r)
	case "objective":
		s = ObjectiveOf(r).Name
	case "goal":
		s = string(ObjectiveOf(r).Goal)
	case "finished":
		s = r.CreatedAt.UTC().Format(time.RFC3339)
	case "error", "warning":
		s = r.Error
		if name == "warning" {
			s = r.Warning
		}
		if s == "" {
			return nil
		}
		if format != FormatJSON {
			s = OneLine(s, format)
		}
	default:
		return nil
	}
	return &s
}

func stringCell(s *string, format string) Cell {
	switch {
	case s == nil:
		return Cell{}
	case format == FormatJSON:
		return Cell{V: string(AppendString(nil, *s)), Present: true}
	}
	return Cell{V: *s, Present: true}
}

func numberCell(f *float64, format string) Cell {
	switch {
	case f == nil:
		return Cell{}
	case format == FormatJSON:
		b, _ := AppendNumber(nil, f) // non-finite values are strings: no error
		return Cell{V: string(b), Present: true, Num: true}
	}
	return Cell{V: FormatNumber(f, format), Present: true, Num: true}
}

func durationCell(sec float64, format string) Cell {
	switch format {
	case FormatJSON:
		b, _ := AppendFloat(nil, math.Round(sec*1000)/1000)
		return Cell{V: string(b), Present: true, Num: true}
	case FormatCSV:
		return Cell{V: strconv.FormatFloat(sec, 'f', 3, 64), Present: true, Num: true}
	}
	return Cell{V: FormatDuration(sec), Present: true, Num: true}
}

// Message is the error as mljob outcomes prints it.
func (e *UnknownColumnError) Message() string {
	return fmt.Sprintf("unknown column %q: not a built-in column, and no job or outcome shown has that field", e.Name)
}

// Hint is what to do instead: the nearest built-in column when one is
// near, else where the columns come from.
func (e *UnknownColumnError) Hint() string {
	list := strings.Join(BuiltinColumns, ", ")
	if near := suggest.Nearest(e.Name, BuiltinColumns); near != "" {
		return fmt.Sprintf("--columns %s (built-in columns: %s)", near, list)
	}
	return "a built-in column (" + list + "), or a field of the job (job.PATH) or of the outcome (outcome.PATH); see a job's fields with: mljob show JOB"
}

// SweepHint is what to do about an unknown --sweep: one of the latest
// sweeps (of the project, when one was named), the project that has it,
// or how to make one.
func SweepHint(e *db.UnknownSweepError) string {
	var listed []string
	for _, sw := range e.Latest {
		listed = append(listed, fmt.Sprintf("%d %s", sw.ID, sw.Name))
	}
	switch {
	case len(listed) > 0 && e.Project != "":
		return fmt.Sprintf("--sweep ID or NAME, one of the latest sweeps of %s: %s", e.Project, strings.Join(listed, ", "))
	case len(listed) > 0:
		return "--sweep ID or NAME, one of the latest sweeps: " + strings.Join(listed, ", ")
	case e.Elsewhere != nil:
		return fmt.Sprintf("--project %s, or no --project", e.Elsewhere.Project)
	}
	return "make one with: mljob submit --grid KEY=V1,V2 JOB.json (see mljob submit --help)"
}
