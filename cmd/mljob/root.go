package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/config"
	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/queuefile"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// ioStreams are the only places commands write to, and what they need to
// know of the terminal and the environment to choose how to write.
type ioStreams struct {
	In     io.Reader
	Out    io.Writer // data
	ErrOut io.Writer // progress, warnings, errors
	// ErrOutTTY is whether ErrOut is a terminal: dispatch draws its live
	// view only there.
	ErrOutTTY bool
	// Getenv reads the environment: os.Getenv in main, a map in tests;
	// nil reads an empty environment.
	Getenv func(string) string
}

// getenv is s.Getenv(key), or "" without one.
func (s ioStreams) getenv(key string) string {
	if s.Getenv == nil {
		return ""
	}
	return s.Getenv(key)
}

// app holds what every command shares.
type app struct {
	io ioStreams
	// dbPath is the database file from --db, MLJOB_DB or the config file;
	// "" means the default (see dbFile).
	dbPath string
	// configFlag is --config; configRow is the config file looked for, as
	// mljob config shows it.
	configFlag string
	configRow  config.Setting
	// settings are the resolved settings, in config.Keys order, as
	// mljob config prints them.
	settings []config.Setting
	// stopSignals, when set, restores default signal handling so that a
	// second Ctrl-C ends the process at once.
	stopSignals func()
}

// dbFile is the database named by --db, MLJOB_DB or the config file, else the default.
func (a *app) dbFile() (string, error) {
	if a.dbPath != "" {
		return a.dbPath, nil
	}
	return config.DefaultDBPath(os.Getenv, os.UserHomeDir)
}

// dataDir is the absolute directory of the database file: local runs,
// kept logs and unpacked scripts live there, beside the queue they belong to.
func (a *app) dataDir() (string, error) {
	path, err := a.dbFile()
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.Dir(abs), nil
}

// openDB opens the database named by --db in mode m: db.Create for the
// commands that add work (submit), db.Existing for the others that write,
// db.ReadOnly for those that only read. Its errors say what to do.
func (a *app) openDB(ctx context.Context, m db.Mode) (*db.DB, error) {
	path, err := a.dbFile()
	if err != nil {
		return nil, err
	}
	d, err := db.OpenMode(ctx, path, m)
	if err != nil {
		return nil, a.dbError(path, err)
	}
	if old := d.Copied(); old != "" {
		fmt.Fprintf(a.io.ErrOut, "mljob: %s is a copy of another queue file (or was restored, or moved to another filesystem): it now has its own queue id %s (was %s), so that its runs never mix with the original's on the hosts; runs the original had in flight are started again from this file when adopted\n",
			path, d.QueueID(), old)
	}
	return d, nil
}

// dbError turns an error about the database file at path into a userError
// with what to do.
func (a *app) dbError(path string, err error) error {
	e := queuefile.Explain(path, config.Origin(a.settings, "db"), err)
	return &userError{msg: e.Msg, hint: e.Hint, err: err}
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "mljob",
		Short: "Queue ML training jobs in SQLite and run them on your SSH hosts",
		Long: `mljob queues training jobs in a SQLite file on this machine and runs them on
the machines you can ssh into (or on this one), then compares their outcomes.
No server to install: hosts need only sshd and Python.

Defaults for --db, --hosts, --scripts and --python can be set in the
environment or in ~/.config/mljob/config.yaml: flags win over the
environment, which wins over the config file (see mljob config --help).

Exit codes: 0 ok, 1 error, 2 usage error, 130 interrupted.`,
		Example: `  mljob submit examples/wine_data/*.json
  mljob dispatch --hosts hosts.yaml
  mljob outcomes --project wine_data --sort loss`,
		Version:       currentBuildInfo().Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			// help, version and completion work whatever the config file holds.
			if cmd.Annotations[annotationNoConfig] != "" || cmd.Name() == "help" {
				return nil
			}
			return a.applyConfig(cmd)
		},
	}
	root.SetOut(a.io.Out)
	root.SetErr(a.io.ErrOut)
	root.SetIn(a.io.In)
	root.SetVersionTemplate("mljob {{.Version}}\n")
	root.PersistentFlags().StringVar(&a.dbPath, "db", "",
		"SQLite database file (env MLJOB_DB, config db; default $XDG_DATA_HOME/mljob/mljob.db)")
	root.PersistentFlags().StringVar(&a.configFlag, "config", "",
		"config file (default $XDG_CONFIG_HOME/mljob/config.yaml, i.e. ~/.config/mljob/config.yaml)")
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		newSubmitCmd(a),
		newDispatchCmd(a),
		newOutcomesCmd(a),
		newStatusCmd(a),
		newShowCmd(a),
		newDiffCmd(a),
		newCancelCmd(a),
		newRetryCmd(a),
		newReplicateCmd(a),
		newLogsCmd(a),
		newArtifactsCmd(a),
		newFetchCmd(a),
		newGCCmd(a),
		newMetricsCmd(a),
		newHostsCmd(a),
		newReportCmd(a),
		newConfigCmd(a),
		newVersionCmd(a),
		newCompletionCmd(),
	)
	registerCompletions(a, root)
	markUsageErrors(root)
	quietGroupHelp(root)
	return root
}

// execute runs the command line and maps its error to an exit code.
func execute(ctx context.Context, args []string, streams ioStreams, stopSignals func()) int {
	a := &app{io: streams, stopSignals: stopSignals}
	return executeCmd(ctx, a, newRootCmd(a), args)
}

// executeCmd runs root, built on a, with args and maps its error to an
// exit code.
func executeCmd(ctx context.Context, a *app, root *cobra.Command, args []string) int {
	streams := a.io
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		err = unknownSubcommand(cmd)
	}
	if err == nil {
		return exitOK
	}
	if _, _, ferr := root.Find(args); ferr != nil {
		// Cobra's lookup of the command failed (an unknown command of the
		// root): that is the error Execute returned.
		err = &usageError{err: err}
	}
	var ue *usageError
	var uerr *userError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(streams.ErrOut, "Error: %v\n", ue.err)
		if ue.cmd != nil {
			fmt.Fprintf(streams.ErrOut, "\n%s", ue.cmd.UsageString())
		} else {
			fmt.Fprintf(streams.ErrOut, "Run 'mljob --help' for usage.\n")
		}
		return exitUsage
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		if errors.As(err, &uerr) {
			fmt.Fprintf(streams.ErrOut, "%s", uerr.format())
		} else {
			fmt.Fprintf(streams.ErrOut, "Interrupted.\n")
		}
		return exitInterrupted
	case errors.As(err, &uerr):
		fmt.Fprintf(streams.ErrOut, "%s", uerr.format())
		return exitError
	case db.IsCorrupt(err) || db.IsReadOnly(err):
		// A query failed on a damaged or read-only file after it opened.
		path, _ := a.dbFile()
		errors.As(a.dbError(path, err), &uerr)
		fmt.Fprintf(streams.ErrOut, "%s", uerr.format())
		return exitError
	default:
		fmt.Fprintf(streams.ErrOut, "Error: %v\n", err)
		return exitError
	}
}
