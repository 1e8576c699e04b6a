package outcomeview

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/jobfields"
	"github.com/mljob/mljob/internal/render"
)

// MaxParamColumns bounds the job-field columns of the outcomes table; -o
// json always carries everything.
const MaxParamColumns = 8

// Table is rows ready to render.
type Table = render.Table

// Outcomes is the outcomes table or its CSV: the built-in columns, the
// job fields, and ERROR when a row has an error or a warning. The table
// has one objective column, the value, headed by the objective
// ("cvMse:min"); the CSV has objective, goal and objectiveValue. The
// table shows the job fields that vary (at most MaxParamColumns), headed
// by their paths; the CSV has every job field, as job.PATH. No two
// columns have one name.
type Outcomes struct {
	Table
	// Hidden counts the varying job fields the table left off past
	// MaxParamColumns.
	Hidden int
	// Objectives are the rows' objectives; Write gives each its own
	// table when there are two or more.
	Objectives ObjectiveCounts
	format     string
	objCol     int // the table's objective column
	lines      []line
}

// line is one row of the outcomes table before the job-field columns are
// known.
type line struct {
	cells   [csvBuiltins]string
	err     string
	spec    []jobfields.Pair
	group   int // its objective in Outcomes.Objectives
	jobID   int64
	project string
	sweepID int64
}

// The built-in columns of the outcomes table and of its CSV, before the
// job fields.
const (
	tableBuiltins = 8
	csvBuiltins   = 10
	objectiveCol  = 3 // the table's objective column
)

// BuildTable reads every row and lays out the outcomes table in format
// (table or CSV). Headers of job fields are their paths in jobfields'
// syntax, which --columns takes.
func BuildTable(batches <-chan []*db.OutcomeRow, format string) *Outcomes {
	t := &Outcomes{format: format, objCol: objectiveCol}
	var (
		fl     jobfields.Flattener
		seen   []*jobfields.Param // by ID: every path, for the CSV
		anyErr bool
	)
	for batch := range batches {
		for _, r := range batch {
			l := line{group: t.Objectives.add(ObjectiveOf(r)), spec: fl.Add(r.Spec),
				jobID: r.JobID, project: r.Project, sweepID: r.SweepID}
			builtinCells(&l.cells, r, format)
			if r.Error != "" {
				l.err = OneLine(r.Error, format)
			} else if r.Warning != "" {
				l.err = OneLine("warning: "+r.Warning, format)
			}
			for _, p := range l.spec {
				for len(seen) <= p.Param.ID {
					seen = append(seen, nil)
				}
				seen[p.Param.ID] = p.Param
			}
			anyErr = anyErr || l.err != ""
			t.lines = append(t.lines, l)
		}
	}
	var params []*jobfields.Param
	if format == FormatCSV {
		params = slices.DeleteFunc(seen, func(p *jobfields.Param) bool { return p == nil })
		slices.SortFunc(params, func(a, b *jobfields.Param) int { return jobfields.ComparePaths(a.Path, b.Path) })
	} else if params = fl.Varying(); len(params) > MaxParamColumns {
		t.Hidden = len(params) - MaxParamColumns
		params = params[:MaxParamColumns]
	}
	t.Table = t.headers(params, anyErr)
	// The column of each path shown, by Param.ID; -1 if not shown.
	col := make([]int, fl.Params())
	for i := range col {
		col[i] = -1
	}
	for i, p := range params {
		col[p.ID] = i
	}
	t.Rows = t.rows(len(params), col, anyErr)
	return t
}

// builtinCells fills the built-in columns of r's line: in the table, the
// objective's value; in CSV, its name, goal and value.
func builtinCells(cells *[csvBuiltins]string, r *db.OutcomeRow, format string) {
	dur := FormatDuration(r.DurationSeconds)
	if format == FormatCSV {
		dur = strconv.FormatFloat(r.DurationSeconds, 'f', 3, 64)
	}
	value := FormatNumber(ObjectiveValue(r), format)
	rest := []string{FormatNumber(r.Loss, format), FormatNumber(r.Metric, format), r.Host, dur}
	cells[0], cells[1], cells[2] = strconv.FormatInt(r.JobID, 10), strconv.FormatInt(r.OrderID, 10), State(r)
	if format != FormatCSV {
		cells[3] = value
		copy(cells[4:], rest)
		return
	}
	o := ObjectiveOf(r)
	cells[3], cells[4], cells[5] = o.Name, string(o.Goal), value
	copy(cells[6:], rest)
}

// headers are the columns: the built-ins, params, ERROR. A job field's
// table header is its path, or job.PATH where the path is another
// column's header.
func (t *Outcomes) headers(params []*jobfields.Param, anyErr bool) Table {
	tbl := Table{
		Headers: []string{"JOB", "ORDER", "STATUS", "OBJECTIVE", "LOSS", "METRIC", "HOST", "DURATION"},
		Keys:    []string{"jobId", "orderId", "state", "objectiveValue", "loss", "metric", "host", "durationSeconds"},
		Numeric: map[int]bool{0: true, 1: true, 3: true, 4: true, 5: true, 7: true},
	}
	if len(t.Objectives) == 1 {
		tbl.Headers[objectiveCol] = t.Objectives[0].Objective.String()
	}
	if t.format == FormatCSV {
		tbl.Headers = slices.Insert(tbl.Headers, objectiveCol, "OBJECTIVE", "GOAL")
		tbl.Keys = slices.Insert(tbl.Keys, objectiveCol, "objective", "goal")
		tbl.Numeric = map[int]bool{0: true, 1: true, 5: true, 6: true, 7: true, 9: true}
	}
	// The headers a job field's path must not repeat, in any case (a job
	// field "loss" beside LOSS is job.loss): the built-ins' and every
	// objective's.
	taken := slices.Clone(tbl.Headers)
	for _, oc := range t.Objectives {
		taken = append(taken, oc.Objective.String())
	}
	for _, p := range params {
		h := p.Path
		if t.format == FormatCSV || slices.ContainsFunc(taken, func(t string) bool { return strings.EqualFold(t, h) }) {
			h = JobFieldPrefix + p.Path
		}
		tbl.Headers = append(tbl.Headers, h)
		tbl.Keys = append(tbl.Keys, JobFieldPrefix+p.Path)
	}
	if anyErr {
		tbl.Headers = append(tbl.Headers, "ERROR")
		tbl.Keys = append(tbl.Keys, "error")
	}
	return tbl
}

// rows lays out the lines with nParams job-field columns (col maps a
// Param.ID to its column) and the ERROR column when anyErr.
func (t *Outcomes) rows(nParams int, col []int, anyErr bool) [][]string {
	builtins := tableBuiltins
	// A field the job lacks: "-" in the table, empty in CSV, which pandas
	// reads as NaN.
	missing := "-"
	if t.format == FormatCSV {
		builtins, missing = csvBuiltins, ""
	}
	width := builtins + nParams
	if anyErr {
		width++
	}
	rows := make([][]string, len(t.lines))
	// One backing array for every cell: a slice per row was a visible part
	// of the time at 100,000 rows.
	cells := make([]string, len(t.lines)*width)
	for i := range t.lines {
		l := &t.lines[i]
		row := cells[i*width : (i+1)*width : (i+1)*width]
		copy(row, l.cells[:builtins])
		for j := range nParams {
			row[builtins+j] = missing
		}
		for _, sp := range l.spec {
			if c := col[sp.Param.ID]; c >= 0 {
				row[builtins+c] = sp.Value
			}
		}
		if anyErr {
			row[width-1] = l.err
		}
		rows[i] = row
	}
	return rows
}

// Write writes the rows: CSV as one table; the table as one table per
// objective, in the order the objectives first appear, each headed by its
// objective, so that no two objectives are ranked in one column.
func (t *Outcomes) Write(w io.Writer) error {
	if t.format == FormatCSV {
		return render.CSV(w, t.Keys, t.Rows)
	}
	if len(t.Objectives) <= 1 {
		return render.WriteTable(w, t.Table)
	}
	for g, oc := range t.Objectives {
		sub := t.Table
		sub.Headers = slices.Clone(t.Headers)
		sub.Headers[t.objCol] = oc.Objective.String()
		sub.Rows = make([][]string, 0, oc.Runs)
		for i := range t.lines {
			if t.lines[i].group == g {
				sub.Rows = append(sub.Rows, t.Rows[i])
			}
		}
		if g > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return fmt.Errorf("render table: %w", err)
			}
		}
		if err := render.WriteTable(w, sub); err != nil {
			return err
		}
	}
	return nil
}

// WriteConfigs writes, after the table of outcomes --best, each winner's
// full configuration: every field of its job, flattened, in the job's
// order. sweepNames names the sweeps by id.
func (t *Outcomes) WriteConfigs(w io.Writer, sweepNames map[int64]string) error {
	for i := range t.lines {
		l := &t.lines[i]
		of := "project " + l.project + " outside any sweep"
		switch name := sweepNames[l.sweepID]; {
		case name != "":
			of = "project " + l.project + ", sweep " + name
		case l.sweepID != 0:
			of = "project " + l.project + ", sweep " + strconv.FormatInt(l.sweepID, 10)
		}
		if _, err := fmt.Fprintf(w, "\nJob %d: the best run of %s, by %s. Every field of its job:\n",
			l.jobID, of, t.Objectives[l.group].Objective); err != nil {
			return fmt.Errorf("render table: %w", err)
		}
		cfg := Table{Headers: []string{"FIELD", "VALUE"}, Rows: make([][]string, len(l.spec))}
		for j, p := range l.spec {
			cfg.Rows[j] = []string{p.Param.Path, p.Value}
		}
		if err := render.WriteTable(w, cfg); err != nil {
			return err
		}
	}
	return nil
}

// UnknownColumnError is BuildColumns' error for a bare --columns name that
// is not built-in and that no row has in its job or its outcome.
type UnknownColumnError struct{ Name string }

func (e *UnknownColumnError) Error() string { return "unknown column " + strconv.Quote(e.Name) }

// Columns is the --columns form of the rows: Cells holds Rows rows of
// len(Cols) cells.
type Columns struct {
	Cols  []*Column
	Cells []Cell
	Rows  int
	// Missing names the job. and outcome. columns no row has.
	Missing []string
	// Objectives are the rows' objectives (see RankingNote).
	Objectives ObjectiveCounts
}

// BuildColumns computes the columns of every row. It holds the cells until
// the last row, since a bare name found in no row is an error
// (*UnknownColumnError) and the table needs every width.
func BuildColumns(batches <-chan []*db.OutcomeRow, cols []*Column, format string, sweepNames map[int64]string) (*Columns, error) {
	v := &Columns{Cols: cols}
	for _, c := range cols {
		c.found = false
	}
	for batch := range batches {
		for _, r := range batch {
			v.Objectives.add(ObjectiveOf(r))
			src := rowSources{spec: r.Spec, out: r.JSON}
			for _, c := range cols {
				v.Cells = append(v.Cells, c.cell(r, &src, format, sweepNames))
			}
			v.Rows++
		}
	}
	if v.Rows == 0 {
		return v, nil
	}
	for _, c := range cols {
		if c.source == sourceEither && !c.found {
			return nil, &UnknownColumnError{Name: c.Name}
		}
	}
	for _, c := range cols {
		if c.builtin == "" && c.source != sourceEither && !c.found {
			v.Missing = append(v.Missing, c.Name)
		}
	}
	return v, nil
}

// Table lays the cells out for the table or CSV: a built-in's header in
// capitals, a path's as given.
func (v *Columns) Table() Table {
	w := len(v.Cols)
	t := Table{Numeric: map[int]bool{}, Rows: make([][]string, v.Rows)}
	for i, c := range v.Cols {
		h := c.Name
		if c.builtin != "" {
			h = builtinHeader(c.builtin)
		}
		t.Headers = append(t.Headers, h)
		t.Keys = append(t.Keys, c.Name)
		numeric := c.builtin == "" || numericBuiltins[c.builtin]
		if c.builtin == "" {
			// A path's column is numeric when every value it has is.
			for r := range v.Rows {
				if cl := v.Cells[r*w+i]; cl.Present && !cl.Num {
					numeric = false
					break
				}
			}
		}
		t.Numeric[i] = numeric
	}
	texts := make([]string, len(v.Cells))
	for i, cl := range v.Cells {
		texts[i] = cl.V
	}
	for r := range v.Rows {
		t.Rows[r] = texts[r*w : (r+1)*w : (r+1)*w]
	}
	return t
}

// builtinHeader is a built-in column's table header: its name in
// capitals, words apart.
func builtinHeader(name string) string {
	if name == "objectiveValue" {
		return "OBJECTIVE VALUE"
	}
	return upper(name)
}

// upper is strings.ToUpper for the ASCII names of the built-ins.
func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// WriteJSON writes one object per row, keyed by the column names in their
// order, null where a row has no value.
func (v *Columns) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var (
		buf []byte
		enc Encoder
		err error
	)
	keys := make([][]byte, len(v.Cols))
	for i, c := range v.Cols {
		keys[i] = AppendString(nil, c.Name)
	}
	for r := range v.Rows {
		buf = append(buf[:0], ",\n  {"...)
		if r == 0 {
			buf = append(buf[:0], "[\n  {"...)
		}
		for i := range v.Cols {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(append(append(buf, "\n    "...), keys[i]...), ": "...)
			cl := v.Cells[r*len(v.Cols)+i]
			if !cl.Present {
				buf = append(buf, "null"...)
				continue
			}
			if buf, err = enc.AppendRaw(buf, []byte(cl.V)); err != nil {
				return fmt.Errorf("render json: %w", err)
			}
		}
		buf = append(buf, "\n  }"...)
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("render json: %w", err)
		}
	}
	return endJSONArray(bw, v.Rows)
}
