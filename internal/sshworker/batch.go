package sshworker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshconn"
)

// A run dir prepared for a batch scheduler holds, beside the files of the
// run contract: .cmd, the run's command as shell words (see Prepare); .task,
// its task in the scheduler ("12345_7" for a Slurm array task), written
// once the scheduler took it; .start and .node, written by the task as it
// begins; .env.json, the last line of the run's environment report
// (run.Spec.EnvReport), written by the task before the run starts; .ended,
// written by a dispatcher that found the task ended without an exit code,
// so that followers of its output stop. The names start with
// a dot, which no file of a job can (see plainName), so they never collide.

// prepareScript claims and fills a run dir as startScript does, and writes
// the run's command to .cmd instead of starting it: a batch scheduler
// starts it later, on another node, through BatchTaskScript.
// argv: $1 workdir, $2 run id, $3 input name, $4 input size, $5 the .cmd
// text, $6 n files, then n pairs (name hash).
const prepareScript = `wd=$1 id=$2 input=$3 inlen=$4 cmd=$5 n=$6
shift 6
umask 077
` + expandWorkdir + `run=$wd/runs/$id
` + fillRunDir + `printf '%s' "$cmd" > .cmd.tmp && mv .cmd.tmp .cmd || exit 92
printf 'MLJOB-PREPARED %s\n' "$run"
`

// batchTaskHead finds the task's run dir, takes its start token and loads
// its command; batchTaskReport then reports the run's environment, and
// batchTaskTail starts the run's wrapper.
const batchTaskHead = `#!/bin/sh
# mljob batch task: runs one prepared run dir, as the run contract says.
# argv: $1 workdir (absolute), $2 the file listing the array's run ids, one
# per line; the task's index is $MLJOB_TASK_INDEX, else $SLURM_ARRAY_TASK_ID.
wd=$1 list=$2
umask 077
` + procIdentFunc + `i=${MLJOB_TASK_INDEX:-${SLURM_ARRAY_TASK_ID:-}}
case $i in '' | *[!0-9]*) echo "mljob: no task index in the environment (SLURM_ARRAY_TASK_ID)" >&2; exit 90 ;; esac
id=$(sed -n "$((i + 1))p" "$list")
case $id in '' | .* | */*) echo "mljob: no run for task $i in $list" >&2; exit 90 ;; esac
run=$wd/runs/$id
cd "$run" || exit 90
# The start token, as startScript takes it: a run dir fenced off by a
# dispatcher that gave the attempt up is never started.
set -C
if ! { echo "$$" > .go; } 2> /dev/null; then
  echo "mljob: run dir $run was fenced off; not starting" >&2
  exit 91
fi
set +C
hostname > .node 2> /dev/null
env_report=
. ./.cmd || exit 94
command -v "$wrap_python" > /dev/null 2>&1 || { echo "mljob: $wrap_python not found on $(hostname): the run's wrapper needs it (set python: in the hosts file)" >&2; exit 95; }
`

// batchTaskReport runs the run's environment report (run.Spec.EnvReport)
// on the node, then starts the run's clock (.start): its last line, when
// no longer than $env_max bytes, goes to .env.json for the run's result.
// Best effort: whatever the report does, the run goes on.
const batchTaskReport = `if [ -n "$env_report" ]; then
  { mljob_env_report < /dev/null 2> /dev/null | tail -n 1 > .env.json.tmp; } 2> /dev/null
  if [ -s .env.json.tmp ] && [ "$(wc -c < .env.json.tmp)" -le "$env_max" ]; then
    mv -f .env.json.tmp .env.json 2> /dev/null
  fi
  rm -f .env.json.tmp 2> /dev/null
fi
date +%s.%N > .start 2> /dev/null
`

// batchTaskTail starts the wrapper ($wrap) as startScript does, and waits
// for it. Slurm's scancel signals every process of the task, the wrapper
// too, but the wrapper ignores TERM until its handlers are set: so this
// shell, on TERM, INT or HUP, writes .stop, which the wrapper reads once
// they are set, and passes the signal on. Its exit status is the wrapper's.
const batchTaskTail = `pid=
trap ': > .stop; [ -n "$pid" ] && kill -s TERM "$pid" 2> /dev/null' TERM INT HUP
( trap '' TERM INT HUP; exec "$wrap_python" -c "$wrap" mljob-wrap "$argfile" "$@" ) < /dev/null &
pid=$!
proc_ident "$pid"
printf '%s\n%s %s\n' "$pid" "$ident_start" "$ident_boot" > pid
# wait returns early (above 128) when a trapped signal comes: wait again
# while the wrapper is not reaped (a reaped one is gone to kill -0).
while :; do
  wait "$pid"
  st=$?
  [ "$st" -gt 128 ] && kill -s 0 "$pid" 2> /dev/null && continue
  exit "$st"
done
`

// BatchTaskScript returns the program a batch scheduler runs for each task
// of an array of prepared run dirs (see Prepare): it takes the run dir's
// start token, then starts the run's wrapper (agent.py, the same as on an
// SSH host), which writes the exit code however the command ends. The run
// dir's pid file names the wrapper on the node that ran it.
func BatchTaskScript() string { return batchTaskScript }

// batchTaskScript passes agent.py as one quoted word: it is a constant.
var batchTaskScript = batchTaskHead + "wrap=" + sshconn.Quote(agentSource) + "\n" +
	"env_max=" + strconv.Itoa(run.MaxEnvReport) + "\n" + batchTaskReport + batchTaskTail

// Prepare uploads the spec's files when the host's cache lacks them, then
// claims and fills the run dir as Run does, but does not start the run:
// the dir's .cmd file holds the command (argv, argument file and env as
// quoted shell words) for BatchTaskScript. It returns the run dir's
// absolute path. Errors: ErrRunDirUsed when the dir holds an earlier run.
func (h *Host) Prepare(ctx context.Context, spec run.Spec) (string, error) {
	if err := checkSpec(spec); err != nil {
		return "", fmt.Errorf("prepare %s on %s: %w", spec.ID, h.name, err)
	}
	if err := h.ensureCached(ctx, spec.Files); err != nil {
		return "", err
	}
	argv := []string{"sh", "-c", prepareScript, "mljob-prepare", h.workdir, spec.ID,
		spec.Input.Name, strconv.Itoa(len(spec.Input.Data)), batchCommand(spec, h.Python()), strconv.Itoa(len(spec.Files))}
	for _, f := range spec.Files {
		argv = append(argv, f.Name, f.Hash)
	}
	var stdin io.Reader
	if spec.Input.Name != "" {
		stdin = bytes.NewReader(spec.Input.Data)
	}
	var out, errOut LimitedBuffer
	out.Limit, errOut.Limit = 4096, 4096
	if err := h.t.Exec(ctx, argv, stdin, &out, &errOut); err != nil {
		var ee *sshconn.ExitError
		if errors.As(err, &ee) && ee.Code == exitRunDirUsed {
			return "", fmt.Errorf("prepare %s on %s: %w: %s", spec.ID, h.name, ErrRunDirUsed, strings.TrimSpace(errOut.String()))
		}
		return "", fmt.Errorf("prepare %s on %s: %w%s", spec.ID, h.name, err, Detail(errOut.String()))
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if dir, ok := strings.CutPrefix(line, "MLJOB-PREPARED "); ok {
			return dir, nil
		}
	}
	return "", fmt.Errorf("prepare %s on %s: no answer from the host%s", spec.ID, h.name, Detail(errOut.String()))
}

// batchCommand is the .cmd text of a spec: shell assignments that
// BatchTaskScript sources. Every word is quoted (sshconn.Quote), so no
// value from a job reaches the shell as program text.
func batchCommand(spec run.Spec, python string) string {
	var b strings.Builder
	b.WriteString("wrap_python=" + sshconn.Quote(python) + "\n")
	b.WriteString("argfile=" + sshconn.Quote(spec.ArgFile) + "\n")
	b.WriteString("set -- " + sshconn.QuoteCommand(spec.Argv) + "\n")
	for _, e := range spec.Env {
		b.WriteString("export " + sshconn.Quote(e) + "\n")
	}
	if len(spec.EnvReport) > 0 {
		b.WriteString("env_report=1\nmljob_env_report() { " + sshconn.QuoteCommand(spec.EnvReport) + "; }\n")
	}
	return b.String()
}

// Exec runs argv on the host, in a session of its own, and waits for it.
// Errors are those of sshconn.Transport.Exec.
func (h *Host) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return h.t.Exec(ctx, argv, stdin, stdout, stderr)
}

// Workdir is the host's mljob directory as the hosts file gives it (a
// leading ~ is expanded on the host).
func (h *Host) Workdir() string { return h.workdir }

// ExpandWorkdir is the shell text that turns $wd into an absolute path on
// the host, for scripts of other packages that take a workdir.
const ExpandWorkdir = expandWorkdir
