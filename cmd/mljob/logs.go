package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/sshworker"
)

type logsOptions struct {
	app     *app
	orderID int64
	stderr  bool
	follow  bool
	attempt int // 0: the order's current attempt
	// openHost connects to a host as the last dispatcher recorded it.
	openHost func(ctx context.Context, store *db.DB, name string) (dispatch.Engine, error)
}

func newLogsCmd(a *app) *cobra.Command {
	opts := &logsOptions{app: a, openHost: dispatch.OpenHost}
	cmd := &cobra.Command{
		Use:   "logs ORDER",
		Short: "Print what a job's script wrote to stdout or stderr",
		Long: `Logs prints the standard output (with --stderr, the standard error) of an
order's script, byte for byte: of its current attempt, or of --attempt N.

A finished attempt's output is read from the copy the dispatcher kept on this
machine. A running attempt's output is read from its host over SSH; with
--follow, logs goes on printing what the script writes until the run ends.

Exit codes: 0 ok, 1 error (e.g. the attempt has not started yet, or its
output was not kept), 2 usage error, 130 interrupted.`,
		Example: `  mljob logs 12
  mljob logs 12 -f
  mljob logs 12 --stderr --attempt 1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id < 1 {
				return usagef(cmd, "ORDER must be an order id (a positive integer), not %q", args[0])
			}
			if opts.attempt < 0 {
				return usagef(cmd, "--attempt must be positive")
			}
			opts.orderID = id
			return runLogs(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.stderr, "stderr", false, "print standard error instead of standard output")
	cmd.Flags().BoolVarP(&opts.follow, "follow", "f", false, "keep printing a running attempt's output until it ends")
	cmd.Flags().IntVar(&opts.attempt, "attempt", 0, "attempt number (default: the current attempt)")
	return cmd
}

// logsDirOf is where dispatchers keep finished attempts' output: logs/
// beside the database file.
func logsDirOf(a *app) (string, error) {
	dir, err := a.dataDir()
	if err != nil {
		return "", err
	}
	return logsDir(dir), nil
}

// logsDir is the kept-logs directory of the queue whose data dir is dir.
func logsDir(dir string) string { return filepath.Join(dir, "logs") }

func runLogs(ctx context.Context, opts *logsOptions) error {
	store, err := opts.app.openDB(ctx, db.ReadOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	states, err := store.OrderStates(ctx, []int64{opts.orderID})
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	o, ok := states[opts.orderID]
	if !ok {
		return &userError{msg: fmt.Sprintf("order %d not found", opts.orderID), hint: "find order ids with: mljob status, or mljob show JOB"}
	}
	attempt := opts.attempt
	if attempt == 0 {
		attempt = o.Attempt
	}
	if attempt == 0 {
		return &userError{msg: fmt.Sprintf("order %d has not started yet: it is waiting in the queue", o.ID), hint: "run it with: mljob dispatch"}
	}
	if attempt > o.Attempt {
		return &userError{msg: fmt.Sprintf("order %d has no attempt %d (it has %d)", o.ID, attempt, o.Attempt)}
	}
	stream := "stdout"
	if opts.stderr {
		stream = "stderr"
	}
	out := opts.app.io.Out

	logDir, err := logsDirOf(opts.app)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	done, err := copyLocalLog(dispatch.LogFile(logDir, o.ID, attempt, stream), out)
	if err != nil || done {
		return err
	}

	atts, err := store.Attempts(ctx, o.ID)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	var a db.Attempt
	for _, x := range atts {
		if x.Attempt == attempt {
			a = x
		}
	}
	notStarted := &userError{
		msg:  fmt.Sprintf("attempt %d of order %d has not started yet", attempt, o.ID),
		hint: fmt.Sprintf("see its state with: mljob status; then: mljob logs %d -f", o.ID),
	}
	notKept := &userError{
		msg:  fmt.Sprintf("no output was kept for attempt %d of order %d", attempt, o.ID),
		hint: "the outcome holds the ends of stdout and stderr: mljob show JOB",
	}
	live := a.State == db.StateAssigned || a.State == db.StateRunning
	switch {
	case a.Host == "" && live:
		return notStarted
	case a.Host == "" || (!live && a.RunDir == ""):
		return notKept
	}
	// A finished attempt without a local copy (a dispatcher that kept
	// none) may still have its run dir on the host: try it, once.
	h, err := opts.openHost(ctx, store, a.Host)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !live {
			return notKept
		}
		return &userError{
			msg:  fmt.Sprintf("cannot reach host %s for the output of order %d: %v", a.Host, o.ID, err),
			hint: "check that the host is up, then run the command again",
		}
	}
	defer h.Close()
	err = h.Output(ctx, pyexec.RunID(store.QueueID(), o.ID, attempt), stream, opts.follow && live, out)
	switch {
	case errors.Is(err, sshworker.ErrNotStarted) && live:
		return notStarted
	case err != nil && ctx.Err() == nil && !live:
		return notKept
	case err != nil:
		return fmt.Errorf("logs: %w", err)
	}
	return nil
}

// copyLocalLog copies the local copy at path to w; done is false when there
// is no such file.
func copyLocalLog(path string, w io.Writer) (done bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("logs: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return true, fmt.Errorf("logs: %s: %w", path, err)
	}
	return true, nil
}
