package main

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
	"github.com/spf13/cobra"
)

// Output formats of listing commands.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatCSV   = "csv"
)

var outputFormats = []string{formatTable, formatJSON, formatCSV}

// enumValue is a string flag that accepts only its choices.
type enumValue struct {
	value   *string
	name    string
	choices []string
	// mustBe makes a bad value's error the whole message, "--NAME must be
	// one of A, B, not "X"", instead of pflag's "invalid argument ...:
	// valid values are A|B".
	mustBe bool
}

// enumError is a value an enum flag does not take. The root's flag error
// func shows it alone when whole is set.
type enumError struct {
	msg   string
	whole bool
}

func (e *enumError) Error() string { return e.msg }

func (e *enumValue) String() string { return *e.value }
func (e *enumValue) Type() string   { return "string" }
func (e *enumValue) Set(s string) error {
	for _, c := range e.choices {
		if s == c {
			*e.value = s
			return nil
		}
	}
	if e.mustBe {
		return &enumError{msg: fmt.Sprintf("--%s must be one of %s, not %q", e.name, strings.Join(e.choices, ", "), s), whole: true}
	}
	return &enumError{msg: "valid values are " + strings.Join(e.choices, "|")}
}

// addEnumFlag registers a flag that takes only one of choices (anything
// else is a usage error) and completes them in the shell.
func addEnumFlag(cmd *cobra.Command, p *string, name, short string, choices []string, usage string) {
	addEnum(cmd, &enumValue{value: p, name: name, choices: choices}, short, usage)
}

// addEnum registers e as a flag and completes its choices in the shell.
func addEnum(cmd *cobra.Command, e *enumValue, short, usage string) {
	name, choices := e.name, e.choices
	cmd.Flags().VarP(e, name, short, usage)
	_ = cmd.RegisterFlagCompletionFunc(name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return choices, cobra.ShellCompDirectiveNoFileComp
	})
}

// addOutputFlag registers --output/-o table|json|csv, completed in the shell.
func addOutputFlag(cmd *cobra.Command, p *string) {
	*p = formatTable
	addEnumFlag(cmd, p, "output", "o", outputFormats, "output format: table|json|csv")
}

// table is what a listing command produces: headers, rows, and which
// columns hold numbers (right-aligned).
type table struct {
	headers []string // table headers
	keys    []string // CSV column names: the camelCase keys of -o json

	rows    [][]string
	numeric map[int]bool
}

// fastTableRows is the size past which a table is laid out by
// renderPlainTable: tablewriter's per-cell work takes seconds at 100,000
// rows. The layout is the same (TestPlainTableMatchesTablewriter).
const fastTableRows = 2000

// renderTable writes t as an aligned, borderless table.
func renderTable(w io.Writer, t table) error {
	if len(t.rows) > fastTableRows {
		return renderPlainTable(w, t)
	}
	// tablewriter drops the writer's errors; ew keeps the first.
	ew := &errWriterTo{w: w}
	w = ew
	align := make(tw.Alignment, len(t.headers))
	for i := range align {
		align[i] = tw.AlignLeft
		if t.numeric[i] {
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
	tbl.Header(anySlice(t.headers)...)
	for _, r := range t.rows {
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

// renderCSV writes a header row and the rows.
func renderCSV(w io.Writer, headers []string, rows [][]string) error {
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

// renderJSON writes v indented, without HTML escaping (job specs hold <, > and &).
func renderJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// render writes t in the chosen format; jsonValue is what -o json prints.
func render(w io.Writer, format string, t table, jsonValue any) error {
	switch format {
	case formatJSON:
		return renderJSON(w, jsonValue)
	case formatCSV:
		return renderCSV(w, t.keys, t.rows)
	default:
		return renderTable(w, t)
	}
}

// renderPlainTable lays t out as renderTable's tablewriter does — each
// cell padded to its column's display width with one space either side,
// numbers right-aligned — in one pass and one buffer.
func renderPlainTable(w io.Writer, t table) error {
	widths := make([]int, len(t.headers))
	for i, h := range t.headers {
		widths[i] = cellWidth(h)
	}
	for _, r := range t.rows {
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
			if t.numeric[i] {
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
	line(t.headers)
	for _, r := range t.rows {
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
