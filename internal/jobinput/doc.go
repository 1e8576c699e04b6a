// Package jobinput turns what `mljob submit` is given — job files (a Job
// object or an array of them), a sweep file and the base job it names — into
// checked jobs to queue: each base expanded by the sweep, each job checked
// against the job contract (pyexec.ReadJob), its script and data file found.
// It reads files and writes nothing; the queue is internal/db's.
package jobinput
