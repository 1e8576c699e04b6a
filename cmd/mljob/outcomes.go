package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/outcomeview"
)

type outcomesOptions struct {
	app   *app
	sweep string // --sweep: an id or a name
	// replicates: --replicates, the replicate groups' summaries instead of
	// the runs.
	replicates bool
	columns    []string // --columns, as given
	output     string
	// filter holds --project, --status, --sort, --best and --top (Limit);
	// runOutcomes adds the resolved --sweep.
	filter db.OutcomeFilter
}

// outcomesLong is outcomes' --help text.
var outcomesLong = `Outcomes lists one row per finished attempt, best first by the job's
objective (what submit --objective or the sweep file's objective named;
loss:min by default): job, order, status, the objective's value, loss,
metric, host, duration, and the job fields that differ between the jobs
shown, so a sweep's table shows its parameters. The objective's column is
headed by the objective as --objective writes it (cvMse:min, accuracy:max),
and a line on stderr says which way is better ("Ranked by cvMse, lower is
better.").

Runs of different objectives (another name, or the other goal) are never
ranked against each other: the table shows one table per objective, and a
line on stderr says so in every format ("2 objectives among these rows
(cvMse:min 8 runs, loss:min 1 run): ranked within each, never across.").
--sort -objective puts each objective's worst first; --sort loss|metric
(-loss|-metric descending) sorts by those instead. A run without the value
(not reported, or NaN) comes last.

--sweep keeps one sweep's runs (by id or name); --status keeps the attempts
that succeeded, failed, or were pruned (stopped early by their pruner, the
verdict in ERROR; repeat it, or give a comma list). --best keeps one row per
project, sweep and objective (the jobs outside any sweep count as one group
per project): the best by --sort (the objective unless given). A run
without that value never wins, nor does a pruned one. In the table (without --columns), each
winner's full configuration follows: every field of its job, not only
those that vary.

--columns picks the fields to show, in order. A name is one of the built-in
columns
  ` + strings.Join(outcomeview.BuiltinColumns, ", ") + `
(status is succeeded, failed or pruned, exit the exit code, objective and goal the
job's objective, objectiveValue the run's value of it, duration in seconds
in CSV and JSON, finished the time the outcome was recorded), or a dotted
path into the job (job.lr, job.hiddenLayers.0.dropout) or into the Outcome
JSON the script printed (outcome.metric, outcome.status); a key holding a
dot is written a\.b, as sweeps and the table's headers write it. A bare
name that is not built-in is looked up in the job first, then in the
outcome, row by row; use the job. or outcome. prefix for a field that
shares a built-in's name. A field a row lacks is empty in the table and
CSV and null in JSON; a bare name found in no row is an error.

NaN and infinite values, however the script spelled them ("NaN", "nan",
"-inf", "Infinity"), are shown as NaN, +Inf and -Inf in the table (as show
and report do), as NaN, inf and -inf in CSV (what pandas.read_csv reads),
and as the strings "NaN", "+Inf" and "-Inf" in JSON, which has no such
numbers.

With --output json, each object carries every field of the Outcome JSON the
script printed, plus mljob's own: jobId, orderId, projectName, state, status,
objective, goal, objectiveValue, loss, metric, host, exitCode,
durationSeconds, error when it failed, and every field of the job as
job.PATH (job.learningRate, job.hiddenLayers.0.dropout). The CSV has the
same mljob columns and every job field as job.PATH; no two columns share a
name. With --columns, each object has just the columns, keyed as given.

Exit codes: 0 ok, 1 error (e.g. unknown project or sweep), 2 usage error.`

func newOutcomesCmd(a *app) *cobra.Command {
	opts := &outcomesOptions{app: a}
	cmd := &cobra.Command{
		Use:   "outcomes",
		Short: "Show what each job's script reported",
		Long:  outcomesLong,
		Example: `  mljob outcomes --project wine_data              # best first by each job's objective
  mljob outcomes --project wine_data --top 5
  mljob outcomes --sweep lr-grid --status succeeded --columns job,learningRate,hiddenLayers.0.dropout,objectiveValue,loss,duration
  mljob outcomes --project wine_data --best        # the winners, each with its whole job
  mljob outcomes --sweep 3 -o csv > outcomes.csv   # pandas.read_csv("outcomes.csv")`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.filter.Limit < 0 {
				return usagef(cmd, "--top must not be negative")
			}
			for _, st := range opts.filter.States {
				if !slices.Contains(db.OutcomeStates, st) {
					return usagef(cmd, "--status must be one of %s, not %q", strings.Join(db.OutcomeStates, ", "), st)
				}
			}
			if _, err := outcomeview.ParseColumns(opts.columns); err != nil {
				return &usageError{err: err, cmd: cmd}
			}
			if opts.replicates {
				if opts.filter.Best || len(opts.columns) > 0 || len(opts.filter.States) > 0 || opts.filter.Limit > 0 {
					return usagef(cmd, "--replicates shows each replicate group's configurations: not with --best, --columns, --status or --top")
				}
				return runReplicateOutcomes(cmd.Context(), opts)
			}
			return runOutcomes(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.filter.Project, "project", "", "only this project")
	cmd.Flags().StringVar(&opts.sweep, "sweep", "", "only this sweep (`ID|NAME`)")
	cmd.Flags().StringSliceVar(&opts.filter.States, "status", nil, "only attempts that "+strings.Join(db.OutcomeStates, "|")+" (repeatable, or a comma list)")
	_ = cmd.RegisterFlagCompletionFunc("status", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return db.OutcomeStates, cobra.ShellCompDirectiveNoFileComp
	})
	cmd.Flags().BoolVar(&opts.filter.Best, "best", false, "only the best run of each project, sweep and objective, by --sort, with its whole job")
	cmd.Flags().StringSliceVar(&opts.columns, "columns", nil, "the columns to show, comma-separated: built-in names, job.PATH or outcome.PATH (see above)")
	opts.filter.Sort = defaultSort
	addEnumFlag(cmd, &opts.filter.Sort, "sort", "", db.OutcomeSorts, "objective: best first by each job's own objective, within each objective; -objective worst first; loss|metric ascending, -loss|-metric descending")
	cmd.Flags().IntVar(&opts.filter.Limit, "top", 0, "show only the first N rows")
	cmd.Flags().BoolVar(&opts.replicates, "replicates", false, "per configuration of each replicate group (mljob replicate): mean ± SD, n, the values, and whether the ranking holds")
	addOutputFlag(cmd, &opts.output)
	return cmd
}

// defaultSort is --sort's default: best first by each job's own
// objective, never across two.
const defaultSort = "objective"

func runOutcomes(ctx context.Context, opts *outcomesOptions) error {
	store, err := opts.app.openDB(ctx, db.ReadOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	cols, err := outcomeview.ParseColumns(opts.columns)
	if err != nil {
		return err
	}
	l := opts.listing(cols)
	if err := resolveOutcomesFilter(ctx, store, opts, l); err != nil {
		return fmt.Errorf("outcomes: %w", err)
	}
	each := func(ctx context.Context, fn func(*db.OutcomeRow) error) error {
		if err := store.EachOutcome(ctx, opts.filter, fn); err != nil {
			return fmt.Errorf("outcomes: %w", err)
		}
		return nil
	}
	err = outcomeview.Stream(ctx, each, l.Write)
	if unknown := (*outcomeview.UnknownColumnError)(nil); errors.As(err, &unknown) {
		return &userError{msg: unknown.Message(), hint: unknown.Hint()}
	}
	return err
}

// listing is what outcomes writes, as the flags say.
func (opts *outcomesOptions) listing(cols []*outcomeview.Column) *outcomeview.Listing {
	return &outcomeview.Listing{Out: opts.app.io.Out, Err: opts.app.io.ErrOut, Format: opts.output, Columns: cols,
		Sort: opts.filter.Sort, Best: opts.filter.Best, Empty: noOutcomesMessage(opts)}
}

// resolveOutcomesFilter checks --project, resolves --sweep into
// opts.filter, and reads the sweeps' names when l shows them.
func resolveOutcomesFilter(ctx context.Context, store *db.DB, opts *outcomesOptions, l *outcomeview.Listing) error {
	if err := checkProject(ctx, store, opts.filter.Project); err != nil {
		return err
	}
	if opts.sweep != "" {
		sw, err := store.ResolveSweep(ctx, opts.sweep, opts.filter.Project)
		if err != nil {
			return sweepError(err)
		}
		opts.filter.SweepID = sw.ID
	}
	if !l.NeedsSweepNames() {
		return nil
	}
	var err error
	l.SweepNames, err = store.SweepNames(ctx)
	return err
}

// checkProject returns unknownProjectError, listing the known projects,
// unless project is "" or has jobs in the queue. A known project without
// outcomes is not an error: its table is just empty.
func checkProject(ctx context.Context, store *db.DB, project string) error {
	err := store.CheckProject(ctx, project)
	if e := (*db.UnknownProjectError)(nil); errors.As(err, &e) {
		return unknownProjectError(e.Project, e.Known)
	}
	return err
}

// sweepError gives db's *UnknownSweepError its Try: line, which offers the
// latest sweeps; other errors pass through.
func sweepError(err error) error {
	var e *db.UnknownSweepError
	if !errors.As(err, &e) {
		return err
	}
	return &userError{msg: e.Error(), err: err, hint: outcomeview.SweepHint(e)}
}

// noOutcomesMessage is what an empty table says on stderr.
func noOutcomesMessage(opts *outcomesOptions) string {
	if opts.sweep != "" || len(opts.filter.States) > 0 {
		return "No outcomes match."
	}
	return "No outcomes yet. Run queued jobs with: mljob dispatch"
}
