// Package run holds the value types of mljob's remote run contract: what to
// run on a host (Spec) and what came back (Started, Result). pyexec builds
// Specs and reads Results; sshworker executes them on a host. Neither imports
// the other: both speak these types.
package run

import (
	"slices"
	"time"
)

// File is a local file shipped to a host. It is uploaded once per content
// hash into the host's cache and linked into each run dir under Name.
type File struct {
	Name string // plain file name inside the run dir, e.g. "nn.py"
	Path string // local path of the content
	Hash string // hex SHA-256 of the content
	Size int64  // bytes
}

// Input is a small file written into the run dir from memory (job.json).
type Input struct {
	Name string
	Data []byte
}

// Spec describes one run on one host.
type Spec struct {
	// ID names the run dir, <workdir>/runs/<ID>; a plain name, unique per attempt.
	ID string
	// Files are linked into the run dir (uploaded to the cache when missing).
	Files []File
	// Input, when Name is set, is written into the run dir before the start.
	Input Input
	// Argv is the command, started with cwd = the run dir.
	Argv []string
	// ArgFile names a run-dir file whose contents are appended to Argv as
	// its last word; when the contents exceed the kernel's limit for one
	// argument word, the file name is appended instead.
	ArgFile string
	// Env holds KEY=VALUE pairs added to the run's environment.
	Env []string
	// StdoutTail and StderrTail bound how many trailing bytes of each
	// stream come back in the Result.
	StdoutTail, StderrTail int
	// Progress, when on, gets the run's progress lines as it prints them.
	Progress Progress
	// Lease, when set, is taken on the host before the run starts, and
	// held by its wrapper until it ends.
	Lease *Lease
	// EnvReport, when set, is a command that reports the environment the
	// run gets (pyexec.EnvArgv), for an engine whose runs go where the
	// dispatcher cannot ask (a batch scheduler's nodes): the engine runs it
	// there, in the run dir with Env, just before Argv, and returns the
	// last line it printed in Result.Env. It is best effort: a report that
	// fails or prints nothing never stops or fails the run. An
	// engine whose hosts answer commands directly (engine.Execer) may
	// ignore it.
	EnvReport []string
}

// AttachOptions is what Attach is asked for besides the run.
type AttachOptions struct {
	// StdoutTail and StderrTail bound how many trailing bytes of each
	// stream come back in the Result.
	StdoutTail, StderrTail int
	// Started, when set, is called as Run calls it once the run is seen
	// under way.
	Started func(Started)
	// Progress, when on, gets the run's progress lines from Progress.From
	// on.
	Progress Progress
}

// Started is reported once the run is detached on the host.
type Started struct {
	RunDir string // absolute path on the host
	PID    int    // process (and process group) id of the run's wrapper
	At     time.Time
	// Task names the run in a batch scheduler ("12345_7": a Slurm array
	// job and the task's index); "" for a run started on a host directly.
	Task string
	// Queued is true while the run waits in the scheduler's queue; a second
	// report with Queued false says it began.
	Queued bool
}

// Result is a finished run, read from its run dir.
type Result struct {
	Started
	// ExitCode is the script's exit status (128+N when killed by signal N).
	ExitCode int
	// Lost is true when the run ended without writing an exit code (its
	// wrapper was killed, or the host rebooted).
	Lost bool
	// Stdout and Stderr are the trailing bytes of each stream; the sizes are
	// the full stream lengths.
	Stdout, Stderr         []byte
	StdoutSize, StderrSize int64
	FinishedAt             time.Time
	// Timed is true when At and FinishedAt were read from the run dir by
	// the host's clock (the wrapper's start, the exit code's write), so
	// that the duration is the run's wherever it was collected from.
	Timed bool
	// SchedState is a batch scheduler's last word on the run's task
	// (Slurm's COMPLETED, FAILED, TIMEOUT, CANCELLED, NODE_FAIL, PREEMPTED,
	// OUT_OF_MEMORY, ...): the second witness beside the exit code. "" on
	// plain hosts, or when the scheduler no longer knows the task.
	SchedState string
	// Reason, when set, is the engine's own word on why the run ended (a
	// scheduler's time limit, out of memory, a cancel from outside mljob):
	// the outcome fails with it, unless a kill of mljob's own says more.
	Reason string
	// Infra is true when the engine's infrastructure, not the script,
	// ended the run (a node failed, the task was preempted): the attempt
	// is lost and the order queued again, within its retries. Reason says
	// what happened.
	Infra bool
	// Cost is what the run cost as its wrapper measured it; nil when the
	// run dir holds none (a lost run, a wrapper of an older mljob).
	Cost *Cost
	// NoArtifactsDir is true when the host said the run dir holds no
	// artifacts/ dir: a job without artifact globs then owes home nothing,
	// and nothing need list its run dir. False when it has one, or the
	// engine does not say.
	NoArtifactsDir bool
	// Env is the last line Spec.EnvReport printed where the run ran (at
	// most MaxEnvReport bytes); nil when the spec asked for none, the
	// report printed nothing, or the engine does not run reports.
	Env []byte
}

// MaxEnvReport bounds Result.Env: a longer report is dropped.
const MaxEnvReport = 64 << 10

// Duration is the wall time between start and finish: by the host's clock
// when Timed, else as the dispatcher saw it.
func (r Result) Duration() time.Duration {
	if r.At.IsZero() || r.FinishedAt.IsZero() {
		return 0
	}
	return r.FinishedAt.Sub(r.At)
}

// Reserved lists the files the run contract writes into every run dir
// besides Spec.Input: a shipped file may not take one of these names. (The
// contract's other files start with a dot, which no shipped file may.)
var Reserved = []string{"pid", "pid.tmp", "stdout", "stderr", "exit_code", "exit_code.tmp"}

// IsReserved reports whether name is one of Reserved.
func IsReserved(name string) bool { return slices.Contains(Reserved, name) }
