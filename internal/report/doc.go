// Package report turns a project's outcomes into one self-contained HTML
// page, one section per objective (a job's name and goal, see
// internal/objective): runs are ranked, coloured and charted only against
// runs of their own objective, and every chart says whether lower or
// higher is better. A section holds the best configurations (the
// objective first, with its spread over CV folds), the learning curves
// from the runs' progress lines, the objective against each job field
// that varies (a field with a sentinel value such as pcaComponents: -1 as
// categories), a parallel-coordinates chart of those fields against it,
// and a baseline run's value as a line. Then run time per host, and the
// failures with the command that shows their logs.
//
// The page needs no network to open: the charting library (Apache ECharts,
// vendored under assets/ with its licence) and the data are inlined, the
// learning curves thinned to a bounded number of points. Every string
// that comes from a job or an outcome reaches the page either through
// html/template's escaping or inside a JSON block written by json.Marshal,
// which escapes <, > and &, so a job field cannot close a tag or a script.
//
// Build takes the rows internal/db returned (mljob report reads them) and
// the curves ReadCurves read through a MetricReader (*db.DB), and does all
// the arithmetic; Write renders a Report. The package never opens the
// queue.
package report
