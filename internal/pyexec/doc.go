// Package pyexec is the contract between mljob and a job's script: it turns
// a job into a run.Spec (the script and data file to ship, the Job JSON as
// argv[1], the environment) and a finished run.Result into an Outcome (the
// last stdout line that is a JSON object without a "step", the exit code,
// the reason for a failure), and a stdout line with a "step" into a
// progress report (ParseProgress).
//
// It declares the Runner it needs; sshworker.Host satisfies it without
// either package importing the other.
package pyexec
