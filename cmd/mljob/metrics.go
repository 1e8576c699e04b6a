package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/metricsview"
	"github.com/mljob/mljob/internal/render"
)

type metricsOptions struct {
	app    *app
	query  metricsview.Query
	series string
	output string
}

func newMetricsCmd(a *app) *cobra.Command {
	opts := &metricsOptions{app: a}
	cmd := &cobra.Command{
		Use:   "metrics JOB | --order N",
		Short: "List the points of a job's learning curves",
		Long: `Metrics lists the progress lines a job's script printed, as the dispatcher
stored them: one row per point, with its step, series ("" for a run's one
unnamed curve), metric name, value and the time the dispatcher read it, by
series, step and name. JOB is a job id (its last order); --order N names an
order instead. The points are those of the current attempt, or of --attempt N.

A progress line is a stdout line that is a JSON object with a numeric "step";
its other numeric fields are the metrics at that step, and "series" names the
curve. A long curve is thinned as it is stored (all of its first 10,000
points, then a grid of at most 10,000 more, and always its first, last,
lowest and highest): see mljob show for how many lines were taken and why
others were not.

Exit codes: 0 ok, 1 error (e.g. no such job), 2 usage error.`,
		Example: `  mljob metrics 12
  mljob metrics 12 --name valLoss --series fold2
  mljob metrics --order 7 --attempt 1 -o csv`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				var err error
				if opts.query.JobID, err = jobIDArg(cmd, args[0]); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("series") {
				opts.query.Series = &opts.series
			}
			if err := opts.query.Check(); err != nil {
				return &usageError{err: err, cmd: cmd}
			}
			return runMetrics(cmd.Context(), opts)
		},
	}
	cmd.Flags().Int64Var(&opts.query.OrderID, "order", 0, "an order id instead of JOB")
	cmd.Flags().IntVar(&opts.query.Attempt, "attempt", 0, "attempt number (default: the current attempt)")
	cmd.Flags().StringVar(&opts.query.Name, "name", "", "only this metric")
	cmd.Flags().StringVar(&opts.series, "series", "", `only this series ("" for the unnamed one)`)
	addOutputFlag(cmd, &opts.output)
	return cmd
}

func runMetrics(ctx context.Context, opts *metricsOptions) error {
	store, err := opts.app.openDB(ctx, db.ReadOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	q := opts.query
	order, attempt, pts, err := metricsview.Read(ctx, store, q)
	switch {
	case errors.Is(err, db.ErrJobNotFound):
		return &userError{msg: fmt.Sprintf("job %d not found", q.JobID), hint: "list jobs with: mljob outcomes, or mljob status; for an order id, use --order"}
	case errors.Is(err, db.ErrOrderNotFound) && q.OrderID != 0:
		return &userError{msg: fmt.Sprintf("order %d not found", q.OrderID), hint: "find order ids with: mljob show JOB"}
	case errors.Is(err, metricsview.ErrNotStarted):
		return &userError{msg: fmt.Sprintf("order %d has not started yet: it is waiting in the queue", order), hint: "run it with: mljob dispatch"}
	case errors.Is(err, metricsview.ErrNoAttempt):
		return &userError{msg: err.Error()}
	case err != nil:
		return fmt.Errorf("metrics: %w", err)
	}
	if len(pts) == 0 && opts.output == render.FormatTable {
		fmt.Fprintf(opts.app.io.ErrOut, "No progress lines stored for order %d attempt %d.\n", order, attempt)
		return nil
	}
	return render.Write(opts.app.io.Out, opts.output, metricsview.Table(pts), pts)
}
