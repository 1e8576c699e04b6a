package sshworker

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mljob/mljob/internal/sshconn"
)

// outputScript copies a run's stream to stdout. Without follow it prints
// what the file holds now. With follow it goes on copying what the run
// appends until the run's wrapper (the pid in the run dir, leader of the
// run's session) has ended, as tail -f would: GNU tail does it
// itself with --pid; elsewhere (busybox, BSD) a loop copies the new bytes
// once a second. A run dir without a pid was never started: exit 96.
// The wrapper's liveness is run_alive's: a pid that names another process
// now is not followed.
// argv: $1 workdir, $2 run id, $3 stream file name, $4 "1" to follow.
//
// The wrapper writes pid before it opens stdout and stderr, so a follow
// waits for the file to appear (or the run to end) before it starts.
// exit_code is written last, just before the wrapper exits: once it is
// there, nothing more will be appended.
const outputScript = `wd=$1 id=$2 stream=$3 follow=$4
` + expandWorkdir + runAliveFunc + `run=$wd/runs/$id
cd "$run" 2> /dev/null || exit 96
[ -f pid ] || exit 96
read -r pid < pid
# The wrapper, as run_alive knows it: a pid reused by another process
# after the run ended is not followed.
following() { [ ! -f exit_code ] && run_alive .; }
# A batch task (see BatchTaskScript) runs on another node: its pid means
# nothing here, so it lives until its exit code, or the note of a
# dispatcher that found it ended without one (.ended), is written.
batch=0
if [ -f .task ]; then
  batch=1
  following() { [ ! -f exit_code ] && [ ! -f .ended ]; }
fi
if [ "$follow" != 1 ]; then
  [ -f "$stream" ] && exec cat "$stream"
  exit 0
fi
while [ ! -f "$stream" ] && following; do sleep 0.1; done
[ -f "$stream" ] || exit 0
if [ "$batch" = 0 ] && following && tail --version 2> /dev/null | head -n 1 | grep -q GNU; then
  # -s: how often tail checks that pid still lives.
  exec tail -c +1 -s 0.5 -f --pid="$pid" "$stream"
fi
off=0
while :; do
  more=0
  following && more=1
  # Measure after the liveness check: a run found dead has written all
  # it will, so this last copy is complete.
  size=$(wc -c < "$stream")
  size=$((size + 0))
  if [ "$size" -gt "$off" ]; then
    tail -c +"$((off + 1))" "$stream" | head -c "$((size - off))" || exit 1
    off=$size
  fi
  [ "$more" = 1 ] || exit 0
  sleep 1
done
`

// Output copies the run's stream ("stdout" or "stderr") from run dir id to
// w. With follow, it keeps copying what the run appends while the run's
// process is alive, like tail -f, and returns once the run has ended and
// everything is copied, or when ctx ends (with ctx.Err()). The bytes are
// copied verbatim. It returns ErrNotStarted when the run dir or its pid is
// missing.
//
// Output is read-only: it never signals or changes the run, so any number
// of callers may follow one run while a dispatcher waits on it.
func (h *Host) Output(ctx context.Context, id, stream string, follow bool, w io.Writer) error {
	if !plainName.MatchString(id) {
		return fmt.Errorf("output %s on %s: run id is not a plain name", id, h.name)
	}
	if stream != "stdout" && stream != "stderr" {
		return fmt.Errorf("output %s on %s: stream %q is not stdout or stderr", id, h.name, stream)
	}
	f := "0"
	if follow {
		f = "1"
	}
	var errOut LimitedBuffer
	errOut.Limit = 4096
	argv := []string{"sh", "-c", outputScript, "mljob-output", h.workdir, id, stream, f}
	if err := h.t.Exec(ctx, argv, nil, w, &errOut); err != nil {
		var ee *sshconn.ExitError
		if errors.As(err, &ee) && ee.Code == exitNotStarted {
			return fmt.Errorf("output %s on %s: %w", id, h.name, ErrNotStarted)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("output %s of %s on %s: %w%s", stream, id, h.name, err, Detail(errOut.String()))
	}
	return nil
}

// inRunScript runs a command with a run dir as its cwd. argv: $1 workdir,
// $2 run id, then the command.
const inRunScript = `wd=$1 id=$2
shift 2
` + expandWorkdir + `cd "$wd/runs/$id" 2> /dev/null || exit 96
exec "$@"
`

// ExecInRun runs argv on the host with run dir id as its cwd, in a session
// of its own, and copies its standard output to stdout. It returns
// ErrNotStarted when the run dir is missing, an *sshconn.ExitError for
// another non-zero exit, and the transport's errors. What the command does with
// the run dir is the caller's business: pyexec reads a run's whole stdout
// this way, on the host, for its outcome.
func (h *Host) ExecInRun(ctx context.Context, id string, argv []string, stdout io.Writer) error {
	if !plainName.MatchString(id) {
		return fmt.Errorf("exec in %s on %s: run id is not a plain name", id, h.name)
	}
	if len(argv) == 0 {
		return fmt.Errorf("exec in %s on %s: empty command", id, h.name)
	}
	var errOut LimitedBuffer
	errOut.Limit = 4096
	full := append([]string{"sh", "-c", inRunScript, "mljob-in-run", h.workdir, id}, argv...)
	if err := h.t.Exec(ctx, full, nil, stdout, &errOut); err != nil {
		var ee *sshconn.ExitError
		if errors.As(err, &ee) && ee.Code == exitNotStarted {
			return fmt.Errorf("exec in %s on %s: %w", id, h.name, ErrNotStarted)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("exec in %s on %s: %w%s", id, h.name, err, Detail(errOut.String()))
	}
	return nil
}
