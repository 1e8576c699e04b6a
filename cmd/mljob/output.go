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
	choices []string
}

func (e *enumValue) String() string { return *e.value }
func (e *enumValue) Type() string   { return "string" }
func (e *enumValue) Set(s string) error {
	for _, c := range e.choices {
		if s == c {
			*e.value = s
			return nil
		}
	}
	return fmt.Errorf("valid values are %s", strings.Join(e.choices, "|"))
}

// addOutputFlag registers --output/-o table|json|csv, completed in the shell.
func addOutputFlag(cmd *cobra.Command, p *string) {
	*p = formatTable
	cmd.Flags().VarP(&enumValue{value: p, choices: outputFormats}, "output", "o", "output format: table|json|csv")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return outputFormats, cobra.ShellCompDirectiveNoFileComp
	})
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
	return nil
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
		widths[i] = runewidth.StringWidth(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], runewidth.StringWidth(c))
			}
		}
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	line := func(cells []string) {
		for i := range widths {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			pad := strings.Repeat(" ", widths[i]-runewidth.StringWidth(c))
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
