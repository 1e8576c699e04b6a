package outcomeview

import (
	"fmt"
	"io"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/render"
)

// Listing is mljob outcomes' output: what to write and where. Its Write
// picks the form (the --columns table, the JSON objects, or the outcomes
// table or CSV with --best's configurations) and writes the notes on Err:
// what ranks the rows, the columns no row has, the job fields not shown,
// and Empty when a table has no rows.
type Listing struct {
	Out, Err io.Writer
	Format   string
	Columns  []*Column // --columns; nil for the default columns
	Sort     string    // the db sort the rows came in, for the ranking note
	Best     bool      // --best: a table is followed by each winner's job
	// SweepNames are the sweeps' names by id, for the sweep column and
	// --best's configurations.
	SweepNames map[int64]string
	Empty      string // what an empty table says
}

// NeedsSweepNames says whether Write shows sweeps' names, so that the
// caller reads them only then.
func (l *Listing) NeedsSweepNames() bool {
	if len(l.Columns) == 0 {
		return l.Best && l.Format == render.FormatTable
	}
	for _, c := range l.Columns {
		if c.Builtin() == "sweep" {
			return true
		}
	}
	return false
}

// Write writes the rows read from batches. A bare --columns name no row
// has is an *UnknownColumnError.
func (l *Listing) Write(batches <-chan []*db.OutcomeRow) error {
	switch {
	case len(l.Columns) > 0:
		return l.writeColumns(batches)
	case l.Format == render.FormatJSON:
		objs, err := WriteJSON(l.Out, batches)
		l.note(objs)
		return err
	}
	return l.writeTable(batches)
}

// writeTable writes the outcomes table (one per objective) or CSV, then,
// for --best's table, each winner's every job field.
func (l *Listing) writeTable(batches <-chan []*db.OutcomeRow) error {
	t := BuildTable(batches, l.Format)
	table := l.Format == render.FormatTable
	if len(t.Rows) == 0 && table {
		fmt.Fprintln(l.Err, l.Empty)
		return nil
	}
	if err := t.Write(l.Out); err != nil {
		return err
	}
	if l.Best && table {
		if err := t.WriteConfigs(l.Out, l.SweepNames); err != nil {
			return err
		}
	}
	l.note(t.Objectives)
	if t.Hidden > 0 && table {
		fmt.Fprintf(l.Err, "%d more job field(s) vary between these jobs; see them with --output json or --output csv\n", t.Hidden)
	}
	return nil
}

// writeColumns writes the --columns form of the rows.
func (l *Listing) writeColumns(batches <-chan []*db.OutcomeRow) error {
	v, err := BuildColumns(batches, l.Columns, l.Format, l.SweepNames)
	if err != nil {
		return err
	}
	for _, name := range v.Missing {
		fmt.Fprintf(l.Err, "No row shown has %s.\n", name)
	}
	switch {
	case l.Format == render.FormatJSON:
		err = v.WriteJSON(l.Out)
	case l.Format == render.FormatTable && v.Rows == 0:
		fmt.Fprintln(l.Err, l.Empty)
		return nil
	default:
		err = render.Write(l.Out, l.Format, v.Table(), nil)
	}
	if err == nil {
		l.note(v.Objectives)
	}
	return err
}

// note writes what the rows shown rank by (RankingNote), if anything.
func (l *Listing) note(objs ObjectiveCounts) {
	if note := RankingNote(objs, l.Sort, l.Format); note != "" {
		fmt.Fprintln(l.Err, note)
	}
}
