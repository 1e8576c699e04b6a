package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/render"
	"github.com/mljob/mljob/internal/replicate"
)

// The defaults of replicate's --top and --seeds: three configurations,
// five seeds each.
const (
	defaultReplicateTop   = 3
	defaultReplicateSeeds = 5
)

type replicateOptions struct {
	app        *app
	sweep      string
	project    string
	jobs       []int64
	top        int
	seeds      int
	scriptsDir string
	output     string
}

func newReplicateCmd(a *app) *cobra.Command {
	opts := &replicateOptions{app: a}
	cmd := &cobra.Command{
		Use:   "replicate --sweep S [--top K] [--seeds N] | --jobs ID,...",
		Short: "Queue the best configurations again with new seeds",
		Long: `Replicate queues N copies of each of the top K configurations of a sweep,
ranked by its objective (or of the jobs --jobs names), each with new
values of the script's seed fields: those its field declaration names
under seeds (nn.py: seed and splitSeed), else "seed". The k-th copy of a
job gets its seed plus k (after the copies made of it before), the
declared default standing in for a seed the job does not set. Nothing else
of the job changes; copies run without a pruner.

The copies form a replicate group. After mljob dispatch, mljob outcomes
--replicates shows each configuration's mean and standard deviation over
its original run and its copies, the values, and whether ranking by the
mean gives the order the group was made from.

Exit codes: 0 ok, 1 error (e.g. unknown sweep, a job without a value of
its objective), 2 usage error.`,
		Example: `  mljob replicate --sweep lr-grid --top 3 --seeds 5
  mljob replicate --jobs 12,40 --seeds 3
  mljob dispatch && mljob outcomes --replicates --sweep lr-grid`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case opts.sweep == "" && len(opts.jobs) == 0:
				return usagef(cmd, "nothing to replicate: give --sweep S (its top --top configurations) or --jobs ID,...")
			case opts.sweep != "" && len(opts.jobs) > 0:
				return usagef(cmd, "give --sweep or --jobs, not both")
			case opts.top < 1:
				return usagef(cmd, "--top must be at least 1, not %d", opts.top)
			case opts.seeds < 1:
				return usagef(cmd, "--seeds must be at least 1, not %d", opts.seeds)
			case len(opts.jobs) > 0 && cmd.Flags().Changed("top"):
				return usagef(cmd, "--top ranks a sweep's runs: with --jobs, every job named is replicated")
			}
			for _, id := range opts.jobs {
				if id < 1 {
					return usagef(cmd, "--jobs: %d is not a job id (a positive integer)", id)
				}
			}
			var err error
			if opts.scriptsDir, _, err = resolveScriptsDir(cmd, a, opts.scriptsDir, ""); err != nil {
				return err
			}
			return runReplicate(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.sweep, "sweep", "", "replicate this sweep's best configurations (`ID|NAME`)")
	cmd.Flags().StringVar(&opts.project, "project", "", "the project of --sweep, when its name is ambiguous")
	cmd.Flags().Int64SliceVar(&opts.jobs, "jobs", nil, "replicate these jobs (`ID,...`) instead of a sweep's best")
	cmd.Flags().IntVar(&opts.top, "top", defaultReplicateTop, "how many of the sweep's best configurations")
	cmd.Flags().IntVar(&opts.seeds, "seeds", defaultReplicateSeeds, "new seeds per configuration")
	addScriptsFlag(cmd, &opts.scriptsDir, "the scripts dir, for each script's declared seed fields")
	addOutputFlag(cmd, &opts.output)
	return cmd
}

func runReplicate(ctx context.Context, opts *replicateOptions) error {
	store, err := opts.app.openDB(ctx, db.Existing)
	if err != nil {
		return err
	}
	defer store.Close()
	q, err := replicate.Queue(ctx, store, replicate.Request{Sweep: opts.sweep, Project: opts.project, Jobs: opts.jobs,
		Top: opts.top, Seeds: opts.seeds, ScriptsDir: opts.scriptsDir})
	if err != nil {
		return replicateError(err)
	}
	t := render.Table{Headers: []string{"GROUP", "SOURCE", "RANK", "JOB", "ORDER"},
		Keys: []string{"groupId", "sourceJobId", "rank", "jobId", "orderId"}, Numeric: map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true}}
	type row struct {
		GroupID     int64 `json:"groupId"`
		SourceJobID int64 `json:"sourceJobId"`
		Rank        int   `json:"rank"`
		JobID       int64 `json:"jobId"`
		OrderID     int64 `json:"orderId"`
	}
	rows := make([]row, len(q.Subs))
	for i, s := range q.Subs {
		m := q.Group.Members[i]
		rows[i] = row{q.GroupID, m.SourceJobID, m.SourceRank, s.JobID, s.OrderID}
		t.Rows = append(t.Rows, []string{strconv.FormatInt(q.GroupID, 10), strconv.FormatInt(m.SourceJobID, 10),
			strconv.Itoa(m.SourceRank), strconv.FormatInt(s.JobID, 10), strconv.FormatInt(s.OrderID, 10)})
	}
	if err := render.Write(opts.app.io.Out, opts.output, t, rows); err != nil {
		return fmt.Errorf("replicate: %w", err)
	}
	see := "mljob outcomes --replicates --project " + q.Group.Project
	if opts.sweep != "" {
		see = "mljob outcomes --replicates --sweep " + opts.sweep
	}
	fmt.Fprintf(opts.app.io.ErrOut, "Queued %d job(s): %d configuration(s) × %d seed(s), replicate group %d.\nRun them with: mljob dispatch; then compare with: %s\n",
		len(q.Subs), len(q.Picks), opts.seeds, q.GroupID, see)
	return nil
}

// replicateError gives replicate.Queue's errors about the request their
// Try: lines; others are wrapped.
func replicateError(err error) error {
	var re *replicate.RequestError
	var up *db.UnknownProjectError
	var us *db.UnknownSweepError
	switch {
	case errors.As(err, &re):
		return &userError{msg: re.Msg, hint: re.Hint}
	case errors.As(err, &up):
		return unknownProjectError(up.Project, up.Known)
	case errors.As(err, &us):
		return sweepError(err)
	}
	return fmt.Errorf("replicate: %w", err)
}
