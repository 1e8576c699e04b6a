// Package outcomeview is the one model of an outcome as mljob shows it,
// shared by mljob outcomes, show and report: the NaN/Inf rule applied when
// a row is read (Fill, and ObjectiveValue for the objective), the outcome
// JSON object (Encoder, with the job's objective and fields as job.PATH
// for outcomes), the --columns resolver (ParseColumns, Column,
// LookupJSON), the rows of the outcomes table with the objective's column
// and the job fields that vary, one table per objective, and --best's
// full configurations (BuildTable, over jobfields' Flattener), what the
// rows are ranked by (RankingNote), and a job with its objective,
// attempts and outcomes as show prints it (NewJob, Job.Write). It builds
// rows and JSON text; cmd/mljob parses flags and renders the tables.
package outcomeview

import "github.com/mljob/mljob/internal/render"

// The output formats, as package render names them.
const (
	FormatTable = render.FormatTable
	FormatJSON  = render.FormatJSON
	FormatCSV   = render.FormatCSV
)
