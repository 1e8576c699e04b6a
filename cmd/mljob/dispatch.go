package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/mljob/mljob/internal/artifacts"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/config"
	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/live"
)

const defaultLocalPython = "python3"

type dispatchOptions struct {
	app       *app
	hostsFile string
	slots     int
	python    string
	gpus      string // --gpus: this machine's GPUs, one run each
	lockDir   string
	verbose   bool
	plain     bool
	// artifactsCap is --artifacts-cap as given ("" for the default).
	artifactsCap string
	// run holds the flags that go to dispatch.Run as they are; runDispatch
	// adds the hosts, the display and the logs dir.
	run dispatch.Options
}

func newDispatchCmd(a *app) *cobra.Command {
	opts := &dispatchOptions{app: a}
	cmd := &cobra.Command{
		Use:   "dispatch",
		Short: "Run queued jobs on your hosts until the queue is empty",
		Long: `Dispatch runs queued orders on the hosts of a hosts file over SSH, or on this
machine when no hosts file is given, until no order is waiting and none of its
runs is in flight (with --follow, until interrupted).

The hosts file, scripts dir and local Python can also come from MLJOB_HOSTS,
MLJOB_SCRIPTS and MLJOB_PYTHON, or from hosts, scripts and python in
~/.config/mljob/config.yaml; a flag wins over both (see mljob config).

On a terminal, dispatch shows a live view on standard error: an overall
progress bar, a line per host, each sweep's best run so far by its objective,
and each run's latest step and value of its objective (from its progress
lines). Elsewhere (a pipe, a log file, CI set, or --plain) it prints one
timestamped line per state change instead, a run's progress at most every
30 s, and a sweep's best when a run beats it. Either way it ends with a
summary: counts, wall time, each sweep's best run ("best cvMse (lower is
better): 24901.3 — job 17 (sweep wine-lr)"), and each failure with the mljob
logs command that shows its output.

Before a script's first run on a host, dispatch checks once that the host's
python finds every module the script imports (as mljob hosts check does). A
host that lacks one runs nothing of that script: its orders wait for a host
that has them, and the warning says how to name another python (python: in
the hosts file; --python, MLJOB_PYTHON or the config file for this machine).

Each run is detached on its host from the start: Ctrl-C stops dispatching new
work, saves the state and leaves running jobs running (a second Ctrl-C quits
at once).

Exit codes: 0 ok (even when some jobs failed: see mljob outcomes),
1 error (e.g. every host refused, no host answered for --give-up-after, no host's
python can run the scripts of the orders that wait, or outcomes the database refused
past --save-timeout: they are listed, and the next dispatch records them),
2 usage error, 130 interrupted.`,
		Example: `  mljob dispatch --hosts hosts.yaml
  mljob dispatch --slots 2 --python /usr/bin/python3 -v
  mljob dispatch --gpus 0,1
  mljob dispatch --hosts hosts.yaml --follow
  mljob dispatch --plain 2>&1 | grep failed
  MLJOB_HOSTS=lab.yaml mljob dispatch --timeout 2h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.check(cmd); err != nil {
				return err
			}
			return runDispatch(cmd.Context(), opts)
		},
	}
	addHostsFlags(cmd, &opts.hostsFile, &opts.python)
	addScriptsFlag(cmd, &opts.run.ScriptsDir, "directory holding the scripts jobs name")
	opts.addFlags(cmd)
	return cmd
}

// addFlags binds dispatch's own flags to opts.
func (opts *dispatchOptions) addFlags(cmd *cobra.Command) {
	f, r := cmd.Flags(), &opts.run
	f.BoolVar(&r.Follow, "follow", false, "keep dispatching new submissions until interrupted")
	f.IntVar(&opts.slots, "slots", runtime.NumCPU(), "concurrent runs on this machine when no --hosts is given")
	f.StringVar(&opts.gpus, "gpus", "", "this machine's GPUs when no --hosts is given, e.g. 0,1: one run per GPU (its CUDA_VISIBLE_DEVICES), each holding the GPU's lease")
	f.StringVar(&opts.lockDir, "lock-dir", "", "where --gpus runs hold their GPUs' leases (default /var/tmp/mljob-locks)")
	f.DurationVar(&r.Poll, "poll", dispatch.DefaultPoll, "boredom probe interval")
	f.StringVar(&r.DataDir, "data", "", "directory holding data files (default <scripts>/data)")
	f.BoolVarP(&opts.verbose, "verbose", "v", false, "print the dispatcher's detail lines (above the live view on a terminal, instead of the plain lines elsewhere)")
	f.BoolVar(&opts.plain, "plain", false, "print one plain line per state change instead of the live view")
	f.IntVar(&r.Retries, "retries", dispatch.DefaultRetries, "attempts an order may lose to infrastructure (lost host, SSH or upload error) before it fails")
	f.DurationVar(&r.Timeout, "timeout", 0, "kill runs that take longer (a job's \"timeoutSeconds\" wins); 0 = no limit")
	f.BoolVar(&r.RetryFailed, "retry-failed", false, "also queue again, within --retries, jobs whose script failed")
	f.BoolVar(&r.ShellStart, "no-agent", false, "start each run through its own shell session instead of a resident agent on the host")
	f.BoolVar(&r.ColdStart, "cold-start", false, "start every script in a new python process instead of a fork of the host agent's")
	f.DurationVar(&r.LostAfter, "lost-after", dispatch.DefaultLostAfter, "give up on runs whose host stays unreachable this long, and queue them again")
	f.DurationVar(&r.GiveUpAfter, "give-up-after", dispatch.DefaultGiveUpAfter, "without --follow, exit 1 when no host has answered for this long, naming each host's last error")
	f.StringVar(&opts.artifactsCap, "artifacts-cap", "", "the most bytes of artifacts a run brings home unless its job's \"artifactsCap\" says otherwise, e.g. 500MB or 4GiB (default 1GiB)")
	f.DurationVar(&r.SaveTimeout, "save-timeout", dispatch.DefaultSaveTimeout, "keep retrying a write the database refuses (locked by another program, disk full) this long; outcomes still refused are left for the next dispatch (exit 1)")
}

// check refuses flag values out of range, and resolves the scripts dir.
func (opts *dispatchOptions) check(cmd *cobra.Command) error {
	r := &opts.run
	if opts.slots < 1 {
		return usagef(cmd, "--slots must be at least 1")
	}
	if opts.gpus != "" && opts.hostsFile != "" {
		// A hosts file lists its own GPUs: the config file's or
		// MLJOB_GPUS's (this machine's) are for dispatches without one.
		if opts.app.settingSource("gpus") == config.SourceFlag {
			return usagef(cmd, "--gpus is for this machine: give it without --hosts, or list the GPUs in the hosts file (gpus: [0, 1])")
		}
		opts.gpus = ""
	}
	if opts.gpus != "" && cmd.Flags().Changed("slots") {
		return usagef(cmd, "give --slots or --gpus, not both (--gpus runs one job per GPU)")
	}
	if r.Poll <= 0 {
		return usagef(cmd, "--poll must be positive")
	}
	if r.Retries < 0 || r.Timeout < 0 || r.LostAfter <= 0 || r.SaveTimeout <= 0 || r.GiveUpAfter <= 0 {
		return usagef(cmd, "--retries and --timeout must not be negative; --lost-after, --save-timeout and --give-up-after must be positive")
	}
	if opts.artifactsCap != "" {
		n, err := artifacts.ParseSize(opts.artifactsCap)
		if err != nil {
			// MLJOB_ARTIFACTS_CAP sets the flag too: name where it came from.
			if from := config.Origin(opts.app.settings, "artifacts_cap"); from != "" && from != "--artifacts-cap" {
				return &userError{msg: fmt.Sprintf("artifacts_cap from %s: %v", from, err), hint: "fix " + from}
			}
			return usagef(cmd, "--artifacts-cap: %v", err)
		}
		r.ArtifactsCap = n
	}
	var err error
	r.ScriptsDir, r.DataDir, err = resolveScriptsDir(cmd, opts.app, r.ScriptsDir, r.DataDir)
	return err
}

func runDispatch(ctx context.Context, opts *dispatchOptions) error {
	data, err := opts.app.dataDir()
	if err != nil {
		return err
	}
	hs, err := opts.app.loadHostsGPUs(ctx, opts.hostsFile, opts.slots, opts.python, opts.gpus, opts.lockDir)
	if err != nil {
		return err
	}
	store, err := opts.app.openDB(ctx, db.Existing)
	if err != nil {
		return err
	}
	defer store.Close()
	// A damaged page would fail the loop's writes over and over: find it
	// before the first one.
	if err := store.Check(ctx); err != nil {
		return opts.app.dbError(store.Path(), err)
	}
	var names []string
	for _, h := range hs {
		names = append(names, h.Name)
	}
	// The best runs so far count those of earlier dispatches.
	bests, err := store.SweepProgresses(ctx)
	if err != nil {
		return err
	}
	// On a terminal, everything written to stderr while the view is up goes
	// through it, printed above the redrawn lines.
	s := opts.app.io
	show := live.NewDisplay(ctx, s.ErrOut, live.DisplayOptions{
		View: live.UseView(s.ErrOutTTY, opts.plain, s.getenv), Verbose: opts.verbose, Hosts: names,
		ProcessStart: processStart, Start: time.Now(), Queued: store.CountUnassigned, Bests: bests,
	})
	defer show.Stop() // also on an early return: the terminal is left clean
	stopWatch := live.WatchInterrupt(ctx, show.Warn(), opts.app.stopSignals)
	run := opts.run
	run.Hosts, run.LogDir, run.BeforeRecord = hs, logsDir(data), crashHook(s.getenv(crashEnv))
	run.ArtifactsDir, run.BeforeArtifacts = artifacts.HomeDir(data), crashHook(s.getenv(crashArtifactsEnv))
	run.Log, run.Warn, run.Observe = show.Log(), show.Warn(), show.Observe
	sum, err := dispatch.Run(ctx, store, run)
	stopWatch()
	if werr := show.Finish(sum); werr != nil && err == nil {
		err = werr
	}
	return dispatchError(err)
}

// dispatchError adds what to do to the errors of dispatch.Run that end a
// dispatch for a reason the user can fix.
func dispatchError(err error) error {
	switch {
	case errors.Is(err, dispatch.ErrNoHostAnswered):
		return &userError{msg: err.Error(), hint: "fix each host as said above (mljob hosts check --hosts FILE checks them all), then run mljob dispatch again; the queue is intact"}
	case errors.Is(err, dispatch.ErrUnsaved):
		return &userError{msg: err.Error(), hint: "free disk space, or stop the program holding the database locked, then run mljob dispatch again with the same hosts: it records them from their run dirs"}
	case errors.Is(err, dispatch.ErrScriptsRefused):
		return &userError{msg: err.Error(), hint: "the orders wait in the queue: point each host at a python that has their modules (each host's Try: line above says how), then mljob dispatch again"}
	case errors.Is(err, dispatch.ErrNoUsableHost):
		return &userError{msg: err.Error(), hint: "fix the host problems printed above, then run mljob dispatch again; the queue is intact"}
	}
	return err
}

// crashEnv names an order id before whose outcome is written dispatch
// kills itself with SIGKILL: a test hook for recovery tests, never set in use.
const crashEnv = "MLJOB_TEST_CRASH_BEFORE_RECORD"

// crashArtifactsEnv names an order id after whose outcome is written, and
// before its artifacts are copied, dispatch kills itself with SIGKILL: a
// test hook for recovery tests, never set in use.
const crashArtifactsEnv = "MLJOB_TEST_CRASH_BEFORE_ARTIFACTS"

// crashHook returns the hook that kills this process at the point a
// recovery test names, or nil when order is "". It is a real kill -9 (no
// deferred call, no flush, no exit code: death by signal), sent by the
// process itself so that it lands at that point and not a moment later.
func crashHook(order string) func(int64) {
	if order == "" {
		return nil
	}
	return func(id int64) {
		if strconv.FormatInt(id, 10) != order {
			return
		}
		// WARNING: test hook only. os.Process.Kill is SIGKILL on Unix
		// (TerminateProcess on Windows); a signal a process sends itself
		// is delivered before the call returns, so nothing below runs.
		self, err := os.FindProcess(os.Getpid())
		if err == nil {
			err = self.Kill()
		}
		panic(fmt.Sprintf("crash hook: kill -9 of itself: %v", err))
	}
}
