// Package live shows a running dispatch: a view redrawn in place on a
// terminal (an overall progress bar, one line per host, each sweep's best
// run so far by its objective and each run's latest progress, drawn by
// mpb), plain timestamped lines for logs and pipes, and the summary printed
// when the dispatch ends, with each sweep's best run. It learns what happens from dispatch.Event values and
// keeps its own copy of the state, so the dispatcher never waits on drawing.
package live
