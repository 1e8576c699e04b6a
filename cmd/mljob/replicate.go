package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/fieldcheck"
	"github.com/mljob/mljob/internal/objective"
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
	picks, obj, sweepID, err := replicateSources(ctx, store, opts)
	if err != nil {
		return err
	}
	jobs := make(map[int64]db.Job, len(picks))
	ids := make([]int64, len(picks))
	for i, p := range picks {
		if jobs[p.JobID], err = store.Job(ctx, p.JobID); err != nil {
			return fmt.Errorf("replicate: %w", err)
		}
		ids[i] = p.JobID
	}
	counts, err := store.ReplicateCounts(ctx, ids)
	if err != nil {
		return fmt.Errorf("replicate: %w", err)
	}
	seeds := func(script string) ([]fieldcheck.Seed, error) {
		decl, err := fieldcheck.Find(opts.scriptsDir, script)
		if err != nil {
			return nil, &userError{msg: err.Error(), hint: "fix the script's field declaration, or name another --scripts dir"}
		}
		return replicate.SeedFields(decl), nil
	}
	g, err := replicate.Group(picks, jobs, obj, sweepID, opts.seeds, seeds, counts)
	if err != nil {
		return err
	}
	groupID, subs, err := store.CreateReplicates(ctx, g)
	if err != nil {
		return err
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
	rows := make([]row, len(subs))
	for i, s := range subs {
		m := g.Members[i]
		rows[i] = row{groupID, m.SourceJobID, m.SourceRank, s.JobID, s.OrderID}
		t.Rows = append(t.Rows, []string{strconv.FormatInt(groupID, 10), strconv.FormatInt(m.SourceJobID, 10),
			strconv.Itoa(m.SourceRank), strconv.FormatInt(s.JobID, 10), strconv.FormatInt(s.OrderID, 10)})
	}
	if err := render.Write(opts.app.io.Out, opts.output, t, rows); err != nil {
		return fmt.Errorf("replicate: %w", err)
	}
	see := "mljob outcomes --replicates --project " + g.Project
	if opts.sweep != "" {
		see = "mljob outcomes --replicates --sweep " + opts.sweep
	}
	fmt.Fprintf(opts.app.io.ErrOut, "Queued %d job(s): %d configuration(s) × %d seed(s), replicate group %d.\nRun them with: mljob dispatch; then compare with: %s\n",
		len(subs), len(picks), opts.seeds, groupID, see)
	return nil
}

// replicateSources ranks what is to be replicated: the sweep's top --top
// jobs, or the jobs --jobs names, by their objective.
func replicateSources(ctx context.Context, store *db.DB, opts *replicateOptions) ([]replicate.Pick, objective.Objective, int64, error) {
	succeeded := []string{db.OutcomeSucceeded}
	if opts.sweep != "" {
		if err := checkProject(ctx, store, opts.project); err != nil {
			return nil, objective.Objective{}, 0, err
		}
		sw, err := store.ResolveSweep(ctx, opts.sweep, opts.project)
		if err != nil {
			return nil, objective.Objective{}, 0, sweepError(err)
		}
		rows, err := store.Outcomes(ctx, db.OutcomeFilter{SweepID: sw.ID, States: succeeded, Sort: "objective"})
		if err != nil {
			return nil, objective.Objective{}, 0, fmt.Errorf("replicate: %w", err)
		}
		picks, obj, err := replicate.Best(rows, opts.top)
		if errors.Is(err, replicate.ErrNoValue) {
			return nil, obj, 0, &userError{msg: fmt.Sprintf("sweep %s has %s yet", sw.Name, err),
				hint: "run it first: mljob dispatch; see its runs with: mljob outcomes --sweep " + sw.Name}
		}
		if err != nil {
			return nil, obj, 0, &userError{msg: err.Error(), hint: "mljob outcomes --sweep " + sw.Name + " shows each run's objective"}
		}
		return picks, obj, sw.ID, nil
	}
	var rows []db.OutcomeRow
	for _, id := range opts.jobs {
		if _, err := store.Job(ctx, id); errors.Is(err, db.ErrJobNotFound) {
			return nil, objective.Objective{}, 0, &userError{msg: fmt.Sprintf("no job %d in the queue", id), hint: "see the jobs with: mljob outcomes"}
		} else if err != nil {
			return nil, objective.Objective{}, 0, fmt.Errorf("replicate: %w", err)
		}
		jr, err := store.Outcomes(ctx, db.OutcomeFilter{JobID: id, States: succeeded, Sort: "objective"})
		if err != nil {
			return nil, objective.Objective{}, 0, fmt.Errorf("replicate: %w", err)
		}
		if _, _, err := replicate.Best(jr, 1); err != nil {
			return nil, objective.Objective{}, 0, &userError{msg: fmt.Sprintf("job %d has %s", id, err),
				hint: fmt.Sprintf("replicate jobs that succeeded with their objective in their outcome; see: mljob show %d", id)}
		}
		rows = append(rows, jr...)
	}
	// Rank the named jobs as a sweep's runs are ranked: best first.
	sortRows(rows)
	picks, obj, err := replicate.Best(rows, len(opts.jobs))
	if err != nil {
		return nil, obj, 0, &userError{msg: err.Error(), hint: "name jobs judged by one objective"}
	}
	projects := map[string]bool{}
	for _, r := range rows {
		projects[r.Project] = true
	}
	if len(projects) > 1 {
		return nil, obj, 0, &userError{msg: "the jobs named are of more than one project", hint: "name jobs of one project"}
	}
	return picks, obj, 0, nil
}

// sortRows sorts outcome rows best first by their objective (each row's
// own goal; rows of one objective are what Best takes), rows without a
// value last.
func sortRows(rows []db.OutcomeRow) {
	slices.SortStableFunc(rows, func(a, b db.OutcomeRow) int {
		switch {
		case a.ObjectiveValue == nil || b.ObjectiveValue == nil:
			return boolInt(a.ObjectiveValue == nil) - boolInt(b.ObjectiveValue == nil)
		case a.Objective.Beats(*a.ObjectiveValue, *b.ObjectiveValue):
			return -1
		case b.Objective.Beats(*b.ObjectiveValue, *a.ObjectiveValue):
			return 1
		}
		return 0
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
