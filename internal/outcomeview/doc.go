// Package outcomeview is the one model of an outcome as mljob shows it,
// shared by mljob outcomes, show and report: the NaN/Inf rule applied when
// a row is read (Fill), the outcome JSON object (Encoder), the --columns
// resolver (ParseColumns, Column, LookupJSON), and the rows of the outcomes
// table with the job fields that vary (BuildTable, over jobfields'
// Flattener), and a job with its attempts and outcomes as show prints it
// (NewJob, Job.Write). It builds rows and JSON text; cmd/mljob parses
// flags and renders the tables.
package outcomeview

import "github.com/mljob/mljob/internal/render"

// The output formats, as package render names them.
const (
	FormatTable = render.FormatTable
	FormatJSON  = render.FormatJSON
	FormatCSV   = render.FormatCSV
)
