package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/outcomeview"
)

type showOptions struct {
	app    *app
	jobID  int64
	output string
}

func newShowCmd(a *app) *cobra.Command {
	opts := &showOptions{app: a}
	cmd := &cobra.Command{
		Use:   "show JOB",
		Short: "Show a job: its spec, every attempt and its outcomes",
		Long: `Show prints a job's spec as submitted, its sweep (id and name) when it was
submitted in one, its objective (what its runs are ranked by, and which way
is better: "Objective: cvMse:min (lower is better)"), every attempt of its
orders (host, times, exit code, error) and the outcomes its script reported,
each headed by its value of the objective ("Outcome of order 3 attempt 1,
cvMse 8.12:", or "cvMse not reported"). An attempt handed to Slurm names its
array task and the task's state as last seen (SLURM column: 12345_7 (RUNNING)).
A job with a pruner names it ("Pruner: asha:minStep=1,..."), and an attempt
its pruner stopped has its verdict below the table ("Pruned: order 3 attempt
1 at step 9 (rung 2): valLoss 0.53 ranked 5 of 7, the cutoff was 0.41");
in JSON "pruner" and the attempt's "pruned": {"rule", "series", "rung",
"step", "value", "cutoff", "rank", "of"}, in CSV the pruned* columns.
In JSON, the job has "objective": {"name", "goal"} and each outcome its
"objectiveValue"; a job of a sweep has "sweep": {"id", "name"}, and an
attempt handed to Slurm has "slurm": {"jobId", "arrayIndex", "state"}.
Each attempt's artifacts are listed below the attempts (path, size, state:
home, pending or over-cap); in JSON the attempt's "artifacts": {"state",
"error", "files"}, in CSV an artifacts column ("path size state; ...").

Exit codes: 0 ok, 1 error (e.g. no such job), 2 usage error.`,
		Example: `  mljob show 12
  mljob show 12 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.jobID, err = jobIDArg(cmd, args[0]); err != nil {
				return err
			}
			return runShow(cmd.Context(), opts)
		},
	}
	addOutputFlag(cmd, &opts.output)
	return cmd
}

func runShow(ctx context.Context, opts *showOptions) error {
	store, err := opts.app.openDB(ctx, db.ReadOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	h, err := store.JobHistory(ctx, opts.jobID)
	if errors.Is(err, db.ErrJobNotFound) {
		return &userError{msg: fmt.Sprintf("job %d not found", opts.jobID), hint: "list jobs with: mljob outcomes, or mljob status"}
	}
	if err != nil {
		return fmt.Errorf("show: %w", err)
	}
	job, err := outcomeview.NewJob(h)
	if err != nil {
		return fmt.Errorf("show: %w", err)
	}
	return job.Write(opts.app.io.Out, opts.output)
}
