package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/hosts"
)

const defaultLocalPython = "python3"

type dispatchOptions struct {
	app        *app
	hostsFile  string
	follow     bool
	slots      int
	poll       time.Duration
	python     string
	scriptsDir string
	dataDir    string
	verbose    bool
	retries    int
	timeout    time.Duration
	lostAfter  time.Duration
	noAgent    bool
	retryFail  bool
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

Each run is detached on its host from the start: Ctrl-C stops dispatching new
work, saves the state and leaves running jobs running (a second Ctrl-C quits
at once).

Exit codes: 0 ok (even when some jobs failed: see mljob outcomes),
1 error (e.g. every host refused), 2 usage error, 130 interrupted.`,
		Example: `  mljob dispatch --hosts hosts.yaml
  mljob dispatch --slots 2 --python /usr/bin/python3 -v
  mljob dispatch --hosts hosts.yaml --follow
  MLJOB_HOSTS=lab.yaml mljob dispatch --timeout 2h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.slots < 1 {
				return usagef(cmd, "--slots must be at least 1")
			}
			if opts.poll <= 0 {
				return usagef(cmd, "--poll must be positive")
			}
			if opts.retries < 0 || opts.timeout < 0 || opts.lostAfter <= 0 {
				return usagef(cmd, "--retries and --timeout must not be negative, --lost-after must be positive")
			}
			var err error
			opts.scriptsDir, opts.dataDir, err = resolveScriptsDir(cmd, a, opts.scriptsDir, opts.dataDir)
			if err != nil {
				return err
			}
			return runDispatch(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.hostsFile, "hosts", "", "hosts file (YAML); default: this machine only")
	f.BoolVar(&opts.follow, "follow", false, "keep dispatching new submissions until interrupted")
	f.IntVar(&opts.slots, "slots", runtime.NumCPU(), "concurrent runs on this machine when no --hosts is given")
	f.DurationVar(&opts.poll, "poll", dispatch.DefaultPoll, "boredom probe interval")
	f.StringVar(&opts.python, "python", defaultLocalPython, "Python interpreter on this machine when no --hosts is given")
	f.StringVar(&opts.scriptsDir, "scripts", defaultScriptsDir, "directory holding the scripts jobs name (default: ./python-scripts, else the bundled scripts)")
	f.StringVar(&opts.dataDir, "data", "", "directory holding data files (default <scripts>/data)")
	f.BoolVarP(&opts.verbose, "verbose", "v", false, "print a line per state change")
	f.IntVar(&opts.retries, "retries", dispatch.DefaultRetries, "attempts an order may lose to infrastructure (lost host, SSH or upload error) before it fails")
	f.DurationVar(&opts.timeout, "timeout", 0, "kill runs that take longer (a job's \"timeoutSeconds\" wins); 0 = no limit")
	f.BoolVar(&opts.retryFail, "retry-failed", false, "also queue again, within --retries, jobs whose script failed")
	f.BoolVar(&opts.noAgent, "no-agent", false, "start each run through its own shell session instead of a resident agent on the host")
	f.DurationVar(&opts.lostAfter, "lost-after", dispatch.DefaultLostAfter, "give up on runs whose host stays unreachable this long, and queue them again")
	return cmd
}

func runDispatch(ctx context.Context, opts *dispatchOptions) error {
	data, err := opts.app.dataDir()
	if err != nil {
		return err
	}
	var hs []hosts.Host
	if opts.hostsFile != "" {
		f, err := hosts.DefaultResolver().Load(ctx, opts.hostsFile)
		if err != nil {
			return &userError{msg: err.Error(), hint: "fix the hosts file; see README.md for its format"}
		}
		hs = f.Hosts
	} else {
		// Local runs live beside the database they belong to.
		hs = []hosts.Host{hosts.LocalHost(opts.slots, opts.python, filepath.Join(data, "local"))}
	}
	store, err := opts.app.openDB(ctx)
	if err != nil {
		return err
	}
	defer store.Close()

	errOut := opts.app.io.ErrOut
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		select {
		case <-ctx.Done():
			if opts.app.stopSignals != nil {
				opts.app.stopSignals() // a second Ctrl-C now ends the process at once
			}
			fmt.Fprintln(errOut, "Stopping: no new work will start; saving state (Ctrl-C again to quit at once).")
		case <-stopWatch:
		}
	}()
	var log io.Writer
	if opts.verbose {
		log = errOut
	}
	start := time.Now()
	sum, err := dispatch.Run(ctx, store, dispatch.Options{
		BeforeRecord: crashHook(os.Getenv(crashEnv)),
		Hosts:        hs, ScriptsDir: opts.scriptsDir, DataDir: opts.dataDir,
		Poll: opts.poll, Follow: opts.follow, Log: log, Warn: errOut,
		Retries: opts.retries, Timeout: opts.timeout, LostAfter: opts.lostAfter, RetryFailed: opts.retryFail,
		ShellStart: opts.noAgent,
		LogDir:     logsDir(data),
	})
	close(stopWatch)
	<-watchDone
	fmt.Fprintf(errOut, "Dispatched in %s: %d succeeded, %d failed", time.Since(start).Round(time.Millisecond), sum.Succeeded, sum.Failed)
	if sum.Requeued > 0 {
		fmt.Fprintf(errOut, ", %d requeued", sum.Requeued)
	}
	fmt.Fprintln(errOut, ".")
	if sum.Adopted > 0 {
		fmt.Fprintf(errOut, "Adopted %d run(s) left by an earlier dispatcher.\n", sum.Adopted)
	}
	if sum.Detached > 0 {
		fmt.Fprintf(errOut, "%d run(s) left running on their hosts; run mljob dispatch again (with the same hosts) to collect their outcomes.\n", sum.Detached)
	}
	if sum.Failed > 0 {
		fmt.Fprintln(errOut, "See the failures with: mljob outcomes --output json")
	}
	if errors.Is(err, dispatch.ErrNoUsableHost) {
		return &userError{msg: err.Error(), hint: "fix the host problems printed above, then run mljob dispatch again; the queue is intact"}
	}
	return err
}

// crashEnv names an order id before whose outcome is written dispatch
// dies at once, as if killed: a test hook for recovery tests, never set in use.
const crashEnv = "MLJOB_TEST_CRASH_BEFORE_RECORD"

func crashHook(order string) func(int64) {
	if order == "" {
		return nil
	}
	return func(id int64) {
		if strconv.FormatInt(id, 10) == order {
			os.Exit(137) // WARNING: test hook only: simulates kill -9 at this point
		}
	}
}
