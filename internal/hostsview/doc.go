// Package hostsview is what mljob hosts check and mljob hosts list print:
// the check's table, one short cell per finding of a hostcheck.Report
// ("2x A100 · torch: CUDA 2", "22.05.8, partition debug (default), no
// sacct"), with each problem and its fix below it; and the list's rows,
// the hosts the queue recorded joined with their attempt counts. It builds
// render tables and JSON values; cmd/mljob parses flags and writes them.
package hostsview
