// Package report turns a project's outcomes into one self-contained HTML
// page: the best configurations, the metric against each job field that
// varies, a parallel-coordinates chart of those fields against the metric,
// run time per host, and the failures with the command that shows their
// logs.
//
// The page needs no network to open: the charting library (Apache ECharts,
// vendored under assets/ with its licence) and the data are inlined. Every
// string that comes from a job or an outcome reaches the page either through
// html/template's escaping or inside a JSON block written by json.Marshal,
// which escapes <, > and &, so a job field cannot close a tag or a script.
//
// Build takes the rows internal/db returned (mljob report reads them) and
// does all the arithmetic; Write renders a Report. The package never opens
// the queue.
package report
