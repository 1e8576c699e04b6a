package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mljob/mljob/internal/run"
)

// Engine runs the runs of one hosts entry under the run-dir contract. The
// dispatcher, cancel and logs know a host only through it. It is safe for
// concurrent use.
//
// A run is named by its id (run.Spec.ID), unique per attempt of an order;
// its run dir holds everything about it, so that any dispatcher, this one
// after a crash or another, can find it again with Attach.
//
// Progress. When Run's spec.Progress or Attach's opts.Progress is on, the
// engine reads the run's stdout from offset Progress.From (a line's start)
// and calls Progress.Lines with each complete line that is a progress
// candidate (run.IsProgressCandidate: it begins with "{" and holds "step"
// within its first run.MaxProgressLine+1 bytes), cut to those bytes and
// ending in a newline; in order, each once, and no other line. end, with
// each call, is the offset just past the last line read, delivered or not,
// so that a caller that keeps it can attach again from there and miss
// nothing nor get anything twice. Calls come one at a time, from the
// engine's goroutines, while the run runs where the engine can read it as
// it goes (the agent, Slurm's poller), else when it ends; Lines must
// return promptly and must not call the engine. Before Run or Attach
// returns a result, every line up to the end of stdout has been delivered
// (a last line without a newline counts as complete once the run has
// ended) and the last end is stdout's size. When they return an error,
// what was delivered stands, and the caller attaches again from its last
// end.
//
// Environment report. An engine whose runs go where the caller cannot run
// commands (a batch scheduler's nodes: no Execer) runs a spec's EnvReport
// there, in the run dir with the run's env, before the run, and keeps its
// last line in the run dir: Run and Attach return it in Result.Env. A
// report that fails, or prints nothing or too much, leaves Env nil and
// never stops or fails the run. An engine that is an Execer, or starts no
// processes (the fake), may ignore EnvReport: Env is then nil.
type Engine interface {
	// Run starts spec detached on the host, calls started once the run is
	// under way (for a scheduler: once it has accepted the run, Queued,
	// then again when it began), and waits for it to end. After started,
	// the run goes on whatever happens to the caller: an error then says
	// only that the wait ended (ErrConnLost: wait again with Attach).
	// Errors before started mean the run did not start: ErrRunDirUsed
	// (another run took its run dir), ErrRefused (the host will not take
	// work), ErrConnLost (it may have started unseen: Attach says).
	Run(ctx context.Context, spec run.Spec, started func(run.Started)) (run.Result, error)
	// Attach waits again for the run id, started by Run here or elsewhere,
	// and returns its result with up to opts.StdoutTail and
	// opts.StderrTail bytes of its streams. opts.Started, when set, is
	// called as Run calls started once the run is seen under way; progress
	// lines go to opts.Progress from its From on. ErrNotStarted: the run
	// never started, and never will (its run dir is fenced). A run that
	// ended without an exit code comes back with Result.Lost.
	Attach(ctx context.Context, id string, opts run.AttachOptions) (run.Result, error)
	// Kill stops the run id: its processes get grace between a polite
	// stop and a forced one, and the run's result records the kill.
	// ErrNotStarted: the run is not under way yet (try again later).
	Kill(ctx context.Context, id string, grace time.Duration) error
	// Probe says whether the host answers, its load and GPUs, and which of
	// the runs asked about are alive.
	Probe(ctx context.Context, runs []string) (Probe, error)
	// Output copies a run's stream ("stdout" or "stderr") to w; with
	// follow, it goes on until the run ends. ErrNotStarted: no such run.
	Output(ctx context.Context, id, stream string, follow bool, w io.Writer) error
	// ExecInRun runs argv in the run dir of id with the host's tools
	// (pyexec.SearchOutcome); a non-zero exit is an *ExitError.
	ExecInRun(ctx context.Context, id string, argv []string, stdout io.Writer) error
	// Close ends the engine's connection and its own goroutines; runs go
	// on.
	Close() error
}

// Execer is an Engine that also runs commands on the host outside any run
// dir, with the environment its runs get (a check of a script's imports
// before its first run there). Batch engines, whose runs go elsewhere,
// have none.
type Execer interface {
	Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// Probe is what one probe saw on a host.
type Probe struct {
	Load  float64         // 1-minute load average
	Alive map[string]bool // which of the asked runs are alive, by run id
	GPUs  []GPU           // empty without nvidia-smi
	// Leases is what the host said of the leases asked about (see
	// Options.Leases); nil when none were asked about, or the engine
	// cannot tell.
	Leases *run.LeaseState
}

// GPU is one GPU as nvidia-smi reports it.
type GPU struct {
	Index       string
	Utilization float64 // percent
	MemoryMiB   float64
}

// The contract's errors. An engine returns them, or errors that match them
// with errors.Is (see Mark), so that callers branch without knowing the
// engine.
var (
	// ErrConnLost: the connection to the host dropped, or a command ended
	// without an exit status. What happened there is unknown, not failed:
	// a run may still be going, and the caller waits again (Attach) once
	// the host answers.
	ErrConnLost = errors.New("connection lost")
	// ErrNotStarted: the run was never started (and, after Attach, never
	// will be: its run dir is fenced), or is not under way yet (Kill).
	ErrNotStarted = errors.New("run was never started")
	// ErrRunDirUsed: the run's dir was already used by another run (a
	// copy of the queue file with the same id): a fact about one run dir,
	// not about the host.
	ErrRunDirUsed = errors.New("run dir already used")
	// ErrRefused: the host answers but will not be trusted or take work
	// (a changed host key, a refused key, a scheduler that refuses the
	// entry's options). A fact about the host until the user fixes it,
	// never about a run: runs under way there go on. An error that says
	// more implements Refusal.
	ErrRefused = errors.New("host refused")
	// ErrLeaseBusy: the run's leases (run.Spec.Lease) are held by other
	// runs, or another dispatcher has waited longer for one: the run did
	// not start and left nothing behind. A fact about the slot now, not a
	// failure: the caller hands the order back and tries later.
	ErrLeaseBusy = errors.New("lease busy")
)

// Refusal is an error matching ErrRefused that says why, and how to fix it.
type Refusal interface {
	error
	// Why says in a few words why the host is refused ("its host key
	// changed").
	Why() string
	// Hint is what to do about it: a command to run, or a setting to fix.
	Hint() string
}

// RefusalOf returns the Refusal in err's chain, or nil.
func RefusalOf(err error) Refusal {
	var r Refusal
	if errors.As(err, &r) {
		return r
	}
	return nil
}

// Mark returns an error with the text msg that matches kind (one of the
// contract's errors) with errors.Is: an engine's own sentinel, in its own
// words, that callers of any engine recognise.
func Mark(msg string, kind error) error { return &marked{msg: msg, kind: kind} }

type marked struct {
	msg  string
	kind error
}

func (m *marked) Error() string        { return m.msg }
func (m *marked) Is(target error) bool { return target == m.kind }

// ExitError is a command that ran on the host and exited non-zero, or died
// by a signal (Code is then 128+signal number, as a shell reports it).
type ExitError struct {
	Code   int
	Signal string // signal name without "SIG", e.g. "KILL"; "" for a normal exit
}

// Error reports the exit status or the signal.
func (e *ExitError) Error() string {
	if e.Signal != "" {
		return fmt.Sprintf("remote command killed by signal %s (status %d)", e.Signal, e.Code)
	}
	return fmt.Sprintf("remote command exited with status %d", e.Code)
}
