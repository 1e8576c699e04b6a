// Package provenance says which code and which environment produced a
// result: the scripts dir's git repository at submit (Capture: commit,
// dirty, the uncommitted diff, cut at MaxDiff), the environment a run ran
// in as a host's python reports it (FromCheck, over pyexec's module
// check), and what differs between two jobs (Compare: their fields, code
// and environments, with a unified diff of their stored diffs). It runs
// git as a program with an argv, never through a shell, and writes
// nothing: db stores what it returns.
package provenance
