package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/statusview"
)

type statusOptions struct {
	app    *app
	output string
	now    func() time.Time
}

func newStatusCmd(a *app) *cobra.Command {
	opts := &statusOptions{app: a, now: time.Now}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Count orders per state, show each sweep's progress and list the running ones",
		Long: `Status prints, per project, how many orders are in each state; then each
sweep's progress: its objective ("cvMse:min"), how many of its orders are
done (ended in any way), failed, pruned, running and queued, and its
best succeeded run so far by that objective, with its job (a project's jobs
outside sweeps form one row per objective: runs of two objectives are never
ranked together); then the orders assigned or running, with their host and
elapsed time. For each host entry with runs handed to Slurm, a last line
counts those Slurm has yet to start and those it is running ("campus: Slurm
12 pending, 4 running").

In JSON, an active order handed to Slurm has "slurm": {"jobId",
"arrayIndex", "state"}, and each project has "sweeps": [{"sweepId",
"sweepName", "objective", "done", "succeeded", "failed", "cancelled",
"pruned", "running", "queued", "total", "best": {"value", "jobId", "orderId",
"attempt"}}]: sweepId and sweepName are null for jobs outside sweeps, best
is null before a run has a value.

Exit codes: 0 ok, 1 error, 2 usage error.`,
		Example: `  mljob status
  mljob status -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd.Context(), opts)
		},
	}
	addOutputFlag(cmd, &opts.output)
	return cmd
}

func runStatus(ctx context.Context, opts *statusOptions) error {
	store, err := opts.app.openDB(ctx, db.ReadOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	st, err := store.Status(ctx)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	return statusview.Write(opts.app.io.Out, opts.app.io.ErrOut, st, opts.now(), opts.output)
}
