// Package db owns mljob's SQLite file and every SQL string run against it:
// opening it with the right pragmas, migrating its schema, the transaction
// helper, and the three persisted records of the queue.
//
// A Job is a submitted job spec, stored verbatim. An Order is the live state
// of one requested job (unassigned → assigned → running → succeeded | failed
// | cancelled), and each claim of it is recorded as an Attempt. An Outcome is
// what one attempt reported; there is at most one per attempt and recording
// it is idempotent, so a dispatcher that retries after a crash cannot record
// a result twice. An attempt handed to Slurm also names its array task
// (SlurmTask) and that task's state as last polled.
//
// Several processes may share one file (a dispatcher and a submit at the same
// time): they coordinate through SQLite transactions, never through lock
// files. Every write runs in one BEGIN IMMEDIATE transaction that reads the
// clock once, so all rows it touches carry the same timestamp.
//
// The package never imports SSH or Python code; internal/dispatch ties the
// queue to the hosts.
package db
