package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/engine"
)

type logsOptions struct {
	app     *app
	id      int64 // a job id, or an order id with byOrder
	byOrder bool
	stderr  bool
	follow  bool
	attempt int // 0: the order's current attempt
	// openHost connects to a host as the last dispatcher recorded it.
	openHost func(ctx context.Context, store *db.DB, name string) (engine.Engine, error)
}

func newLogsCmd(a *app) *cobra.Command {
	opts := &logsOptions{app: a, openHost: dispatch.OpenHost}
	cmd := &cobra.Command{
		Use:   "logs JOB [--order]",
		Short: "Print what a job's script wrote to stdout or stderr",
		Long: `Logs prints the standard output (with --stderr, the standard error) of a
job's script, byte for byte, however long: of its current attempt, or of
--attempt N. JOB is a job id, as show, cancel and retry take; with --order
it is an order id.

A finished attempt's output is read from the copy the dispatcher kept on this
machine when it holds the whole stream; otherwise (the dispatcher keeps the
last 256 KiB of stdout and 16 KiB of stderr) from the run dir on its host. A
running attempt's output is read from its host over SSH; with --follow, logs
goes on printing what the script writes until the run ends. When the host
cannot be reached and only the end of the output was kept here, logs prints
that end and exits 1, saying so.

Exit codes: 0 ok, 1 error (e.g. the attempt has not started yet, or its
output was not kept, or only in part), 2 usage error, 130 interrupted.`,
		Example: `  mljob logs 12
  mljob logs 12 -f
  mljob logs 12 --stderr --attempt 1
  mljob logs 7 --order`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(cmd, args, opts.byOrder)
			if err != nil {
				return err
			}
			if opts.attempt < 0 {
				return usagef(cmd, "--attempt must be positive")
			}
			opts.id = ids[0]
			return runLogs(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.byOrder, "order", false, "JOB is an order id, not a job id")
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
	logDir, err := logsDirOf(opts.app)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	stream := "stdout"
	if opts.stderr {
		stream = "stderr"
	}
	err = dispatch.Output(ctx, store, dispatch.OutputRequest{ID: opts.id, ByOrder: opts.byOrder, Attempt: opts.attempt,
		Stream: stream, Follow: opts.follow, LogDir: logDir, OpenHost: opts.openHost}, opts.app.io.Out)
	var e *dispatch.OutputError
	switch {
	case errors.As(err, &e):
		return &userError{msg: e.Msg, hint: outputHint(e, opts)}
	case err != nil:
		return fmt.Errorf("logs: %w", err)
	}
	return nil
}

// outputHint is the Try: line of each kind of output problem.
func outputHint(e *dispatch.OutputError, opts *logsOptions) string {
	// The id as the user gave it.
	again := fmt.Sprintf("mljob logs %d", opts.id)
	if opts.byOrder {
		again += " --order"
	}
	return map[dispatch.OutputProblem]string{
		dispatch.NoJob:         "list jobs with: mljob outcomes, or mljob status; for an order id, add --order",
		dispatch.NoSuchOrder:   "find order ids with: mljob show JOB; or give the job id, without --order",
		dispatch.Waiting:       "run it with: mljob dispatch",
		dispatch.NotStarted:    fmt.Sprintf("see its state with: mljob status; then: %s -f", again),
		dispatch.NotKept:       "the outcome holds the ends of stdout and stderr: mljob show JOB",
		dispatch.Unreachable:   "check that the host is up, then run the command again",
		dispatch.PartialOutput: fmt.Sprintf("once host %s answers, run the command again", e.Host),
	}[e.Problem]
}
