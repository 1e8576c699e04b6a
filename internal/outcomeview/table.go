package outcomeview

import (
	"bufio"
	"fmt"
	"io"
	"strconv"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/jobfields"
	"github.com/mljob/mljob/internal/render"
)

// MaxParamColumns bounds the job-field columns of the outcomes table; -o
// json always carries everything.
const MaxParamColumns = 8

// Table is rows ready to render.
type Table = render.Table

// Outcomes is the outcomes table: the built-in columns, the job fields
// that vary between the rows, and ERROR when a row has an error or a
// warning.
type Outcomes struct {
	Table
	// Hidden counts the varying job fields left off past
	// MaxParamColumns.
	Hidden int
}

// line is one row of the outcomes table before the job-field columns are
// known.
type line struct {
	cells [7]string
	err   string
	spec  []jobfields.Pair
}

// BuildTable reads every row and lays out the outcomes table in format
// (table or CSV). Headers of job fields are their paths in jobfields'
// syntax, which --columns takes.
func BuildTable(batches <-chan []*db.OutcomeRow, format string) Outcomes {
	var (
		lines  []line
		fl     jobfields.Flattener
		anyErr bool
	)
	for batch := range batches {
		for _, r := range batch {
			l := line{cells: builtinCells(r, format), spec: fl.Add(r.Spec)}
			if r.Error != "" {
				l.err = OneLine(r.Error, format)
			} else if r.Warning != "" {
				l.err = OneLine("warning: "+r.Warning, format)
			}
			anyErr = anyErr || l.err != ""
			lines = append(lines, l)
		}
	}
	params := fl.Varying()
	var t Outcomes
	if len(params) > MaxParamColumns {
		t.Hidden = len(params) - MaxParamColumns
		params = params[:MaxParamColumns]
	}
	t.Table = outcomesHeaders(params, anyErr)
	// The column of each path shown, by Param.ID; -1 if not shown.
	col := make([]int, fl.Params())
	for i := range col {
		col[i] = -1
	}
	for i, p := range params {
		col[p.ID] = i
	}
	t.Rows = outcomesRows(lines, len(params), col, anyErr, format)
	return t
}

// builtinCells are the built-in columns of r's line.
func builtinCells(r *db.OutcomeRow, format string) [7]string {
	dur := FormatDuration(r.DurationSeconds)
	if format == FormatCSV {
		dur = strconv.FormatFloat(r.DurationSeconds, 'f', 3, 64)
	}
	return [7]string{
		strconv.FormatInt(r.JobID, 10), strconv.FormatInt(r.OrderID, 10), State(r),
		FormatNumber(r.Loss, format), FormatNumber(r.Metric, format), r.Host, dur,
	}
}

// outcomesHeaders are the table's columns: the built-ins, params, ERROR.
func outcomesHeaders(params []*jobfields.Param, anyErr bool) Table {
	t := Table{
		Headers: []string{"JOB", "ORDER", "STATUS", "LOSS", "METRIC", "HOST", "DURATION"},
		Keys:    []string{"jobId", "orderId", "state", "loss", "metric", "host", "durationSeconds"},
		Numeric: map[int]bool{0: true, 1: true, 3: true, 4: true, 6: true},
	}
	for _, p := range params {
		t.Headers = append(t.Headers, p.Path)
		t.Keys = append(t.Keys, p.Path)
	}
	if anyErr {
		t.Headers = append(t.Headers, "ERROR")
		t.Keys = append(t.Keys, "error")
	}
	return t
}

// outcomesRows lays out the lines with nParams job-field columns (col maps
// a Param.ID to its column) and the ERROR column when anyErr.
func outcomesRows(lines []line, nParams int, col []int, anyErr bool, format string) [][]string {
	width := 7 + nParams
	if anyErr {
		width++
	}
	// A field the job lacks: "-" in the table, empty in CSV, which pandas
	// reads as NaN.
	missing := "-"
	if format == FormatCSV {
		missing = ""
	}
	rows := make([][]string, len(lines))
	// One backing array for every cell: a slice per row was a visible part
	// of the time at 100,000 rows.
	cells := make([]string, len(lines)*width)
	for i := range lines {
		l := &lines[i]
		row := cells[i*width : (i+1)*width : (i+1)*width]
		copy(row, l.cells[:])
		for j := range nParams {
			row[len(l.cells)+j] = missing
		}
		for _, sp := range l.spec {
			if c := col[sp.Param.ID]; c >= 0 {
				row[len(l.cells)+c] = sp.Value
			}
		}
		if anyErr {
			row[width-1] = l.err
		}
		rows[i] = row
	}
	return rows
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
			h = upper(h)
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
