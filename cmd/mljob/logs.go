package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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

// logsOrder resolves the command's id to an order: the job's (its last,
// should it have several) or, with --order, the order itself.
func logsOrder(ctx context.Context, store *db.DB, opts *logsOptions) (int64, error) {
	if opts.byOrder {
		return opts.id, nil
	}
	if _, err := store.Job(ctx, opts.id); errors.Is(err, db.ErrJobNotFound) {
		return 0, &userError{msg: fmt.Sprintf("job %d not found", opts.id), hint: "list jobs with: mljob outcomes, or mljob status; for an order id, add --order"}
	} else if err != nil {
		return 0, fmt.Errorf("logs: %w", err)
	}
	orders, err := store.OrdersForJob(ctx, opts.id)
	if err != nil {
		return 0, fmt.Errorf("logs: %w", err)
	}
	if len(orders) == 0 {
		return 0, &userError{msg: fmt.Sprintf("job %d has no order", opts.id)}
	}
	return orders[len(orders)-1].ID, nil
}

func runLogs(ctx context.Context, opts *logsOptions) error {
	store, err := opts.app.openDB(ctx, db.ReadOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	orderID, err := logsOrder(ctx, store, opts)
	if err != nil {
		return err
	}
	states, err := store.OrderStates(ctx, []int64{orderID})
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	o, ok := states[orderID]
	if !ok {
		return &userError{msg: fmt.Sprintf("order %d not found", orderID), hint: "find order ids with: mljob show JOB; or give the job id, without --order"}
	}
	// The id as the user gave it, for the hints below.
	again := fmt.Sprintf("mljob logs %d", opts.id)
	if opts.byOrder {
		again += " --order"
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
	kept := dispatch.LogFile(logDir, o.ID, attempt, stream)
	done, err := copyLocalLog(kept, out)
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
		hint: fmt.Sprintf("see its state with: mljob status; then: %s -f", again),
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
		return partialOr(kept+dispatch.PartialSuffix, out, notKept, a.Host, nil)
	}
	// A finished attempt whose whole output is not here (a dispatcher
	// keeps only its end, or none) may still have its run dir on the host.
	h, err := opts.openHost(ctx, store, a.Host)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !live {
			return partialOr(kept+dispatch.PartialSuffix, out, notKept, a.Host, err)
		}
		return &userError{
			msg:  fmt.Sprintf("cannot reach host %s for the output of order %d: %v", a.Host, o.ID, err),
			hint: "check that the host is up, then run the command again",
		}
	}
	defer h.Close()
	cw := &countWriter{w: out}
	err = dispatch.Output(ctx, store, h, o.ID, attempt, stream, opts.follow && live, cw)
	switch {
	case errors.Is(err, engine.ErrNotStarted) && live:
		return notStarted
	case err != nil && ctx.Err() == nil && !live && cw.n == 0:
		return partialOr(kept+dispatch.PartialSuffix, out, notKept, a.Host, err)
	case err != nil:
		return fmt.Errorf("logs: %w", err)
	}
	return nil
}

// partialOr prints the end of a stream kept at path, when there is one, and
// says that it is only the end; otherwise it returns none.
func partialOr(path string, w io.Writer, none error, host string, why error) error {
	info, err := os.Stat(path)
	if err != nil {
		return none
	}
	if _, err := copyLocalLog(path, w); err != nil {
		return err
	}
	msg := fmt.Sprintf("printed only the last %d bytes of the output, all that was kept on this machine", info.Size())
	if why != nil {
		msg += fmt.Sprintf("; the whole of it is on host %s, which could not be read: %v", host, why)
	}
	return &userError{msg: msg, hint: fmt.Sprintf("once host %s answers, run the command again", host)}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
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
