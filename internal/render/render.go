// Package render writes the tables that mljob's listing commands print,
// as an aligned table, CSV or indented JSON.
package render

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/mattn/go-runewidth"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Output formats of listing commands.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatCSV   = "csv"
)

// Formats lists the output formats, for flags and their completion.
var Formats = []string{FormatTable, FormatJSON, FormatCSV}

// Table is what a listing command produces: headers, rows, and which
// columns hold numbers (right-aligned).
type Table struct {
	Headers []string // table headers
	Keys    []string // CSV column names: the camelCase keys of -o json

	Rows    [][]string
	Numeric map[int]bool
}

// fastTableRows is the size past which a table is laid out by
// plainTable: tablewriter's per-cell work takes seconds at 100,000
// rows. The layout is the same (TestPlainTableMatchesTablewriter).
const fastTableRows = 2000

// WriteTable writes t as an aligned, borderless table.
func WriteTable(w io.Writer, t Table) error {
	if len(t.Rows) > fastTableRows {
		return plainTable(w, t)
	}
	// tablewriter drops the writer's errors; ew keeps the first.
	ew := &errWriterTo{w: w}
	w = ew
	align := make(tw.Alignment, len(t.Headers))
	for i := range align {
		align[i] = tw.AlignLeft
		if t.Numeric[i] {
			align[i] = tw.AlignRight
		}
	}
	tbl := tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithAlignment(align),
		tablewriter.WithTrimSpace(tw.Off),
	)
	tbl.Header(anySlice(t.Headers)...)
	for _, r := range t.Rows {
		if err := tbl.Append(r); err != nil {
			return fmt.Errorf("render table: %w", err)
		}
	}
	if err := tbl.Render(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	if ew.err != nil {
		return fmt.Errorf("render table: %w", ew.err)
	}
	return nil
}

// errWriterTo passes writes to w until one fails, and keeps that error.
type errWriterTo struct {
	w   io.Writer
	err error
}

func (e *errWriterTo) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// CSV writes a header row and the rows.
func CSV(w io.Writer, headers []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(headers); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// JSON writes v indented, without HTML escaping (job specs hold <, > and &).
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Write writes t in the chosen format; jsonValue is what -o json prints.
func Write(w io.Writer, format string, t Table, jsonValue any) error {
	switch format {
	case FormatJSON:
		return JSON(w, jsonValue)
	case FormatCSV:
		return CSV(w, t.Keys, t.Rows)
	default:
		return WriteTable(w, t)
	}
}

// plainTable lays t out as renderTable's tablewriter does — each
// cell padded to its column's display width with one space either side,
// numbers right-aligned — in one pass and one buffer.
func plainTable(w io.Writer, t Table) error {
	widths := make([]int, len(t.Headers))
	for i, h := range t.Headers {
		widths[i] = cellWidth(h)
	}
	for _, r := range t.Rows {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], cellWidth(c))
			}
		}
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	widest := 0
	for _, w := range widths {
		widest = max(widest, w)
	}
	spaces := strings.Repeat(" ", widest)
	line := func(cells []string) {
		for i := range widths {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			pad := spaces[:widths[i]-cellWidth(c)]
			bw.WriteByte(' ')
			if t.Numeric[i] {
				bw.WriteString(pad)
				bw.WriteString(c)
			} else {
				bw.WriteString(c)
				bw.WriteString(pad)
			}
			bw.WriteByte(' ')
		}
		bw.WriteByte('\n')
	}
	line(t.Headers)
	for _, r := range t.Rows {
		line(r)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	return nil
}

// cellWidth is runewidth.StringWidth with a fast path for printable ASCII,
// which is one column a byte.
func cellWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return runewidth.StringWidth(s)
		}
	}
	return len(s)
}
