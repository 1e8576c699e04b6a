// Package live shows a running dispatch: a view redrawn in place on a
// terminal (an overall progress bar, one line per host, each sweep's best
// run so far by its objective and each run's latest progress, drawn by
// mpb), plain timestamped lines for logs and pipes, and the summary printed
// when the dispatch ends, with each sweep's best run. It learns what happens from dispatch.Event values and
// keeps its own copy of the state, so the dispatcher never waits on drawing.
// A run its pruner stopped (dispatch.OrderPruned) is counted apart from
// failures ("pruned 3" in the view, "3 pruned" in the summary), its plain
// line gives the verdict, and it never counts as a best.
package live
