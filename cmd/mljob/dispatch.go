package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
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
}

func newDispatchCmd(a *app) *cobra.Command {
	opts := &dispatchOptions{app: a}
	cmd := &cobra.Command{
		Use:   "dispatch",
		Short: "Run queued jobs on your hosts until the queue is empty",
		Long: `Dispatch runs queued orders on the hosts of a hosts file over SSH, or on this
machine when no hosts file is given, until no order is waiting and none of its
runs is in flight (with --follow, until interrupted).

Each run is detached on its host from the start: Ctrl-C stops dispatching new
work, saves the state and leaves running jobs running (a second Ctrl-C quits
at once).

Exit codes: 0 ok (even when some jobs failed: see mljob outcomes),
1 error (e.g. every host refused), 2 usage error, 130 interrupted.`,
		Example: `  mljob dispatch --hosts hosts.yaml
  mljob dispatch --slots 2 --python /usr/bin/python3 -v
  mljob dispatch --hosts hosts.yaml --follow`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.slots < 1 {
				return usagef(cmd, "--slots must be at least 1")
			}
			if opts.poll <= 0 {
				return usagef(cmd, "--poll must be positive")
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
	return cmd
}

func runDispatch(ctx context.Context, opts *dispatchOptions) error {
	var hs []hosts.Host
	if opts.hostsFile != "" {
		f, err := hosts.DefaultResolver().Load(ctx, opts.hostsFile)
		if err != nil {
			return &userError{msg: err.Error(), hint: "fix the hosts file; see README.md for its format"}
		}
		hs = f.Hosts
	} else {
		path := opts.app.dbPath
		if path == "" {
			p, err := defaultDBPath()
			if err != nil {
				return err
			}
			path = p
		}
		// Local runs live beside the database they belong to.
		workdir, err := filepath.Abs(filepath.Join(filepath.Dir(path), "local"))
		if err != nil {
			return err
		}
		hs = []hosts.Host{hosts.LocalHost(opts.slots, opts.python, workdir)}
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
		Hosts: hs, ScriptsDir: opts.scriptsDir, DataDir: opts.dataDir,
		Poll: opts.poll, Follow: opts.follow, Log: log, Warn: errOut,
	})
	close(stopWatch)
	<-watchDone
	fmt.Fprintf(errOut, "Dispatched in %s: %d succeeded, %d failed", time.Since(start).Round(time.Millisecond), sum.Succeeded, sum.Failed)
	if sum.Requeued > 0 {
		fmt.Fprintf(errOut, ", %d requeued", sum.Requeued)
	}
	fmt.Fprintln(errOut, ".")
	if sum.Detached > 0 {
		fmt.Fprintf(errOut, "%d run(s) left running on their hosts; their orders stay \"running\" (see mljob status).\n", sum.Detached)
	}
	if sum.Failed > 0 {
		fmt.Fprintln(errOut, "See the failures with: mljob outcomes --output json")
	}
	if errors.Is(err, dispatch.ErrNoUsableHost) {
		return &userError{msg: err.Error(), hint: "fix the host problems printed above, then run mljob dispatch again; the queue is intact"}
	}
	return err
}
