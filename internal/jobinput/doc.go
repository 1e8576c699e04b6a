// Package jobinput turns what `mljob submit` is given — job files (a Job
// object or an array of them), a sweep file and the base job it names — into
// checked jobs to queue: each base expanded by the sweep, each job checked
// against the job contract (pyexec.ReadJob), its script and data file found,
// and against its script's field declaration when it has one
// (internal/fieldcheck: bad values refused, unknown fields warned about).
// It reads files and writes nothing; the queue is internal/db's.
//
// ReadSweep merges the sweep file and the sweep flags; Checker.Build plans
// the sweep, reads the job files and returns the checked Batch. Problems
// are *Error values with a Kind: they say what is wrong and where, and
// leave what to do about it (the flags to pass, the file to fix) to the
// command line.
package jobinput
