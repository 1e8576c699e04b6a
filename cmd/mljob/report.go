package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/artifacts"
	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/replicate"
	"github.com/mljob/mljob/internal/report"
)

// defaultReportFile is where `mljob report` writes without -o.
const defaultReportFile = "report.html"

type reportOptions struct {
	app     *app
	project string
	sweep   string // --sweep: an id or a name, "" for every run
	sort    string
	top     int
	outFile string // "-" writes to Out
	now     func() time.Time
}

func newReportCmd(a *app) *cobra.Command {
	opts := &reportOptions{app: a, now: time.Now}
	cmd := &cobra.Command{
		Use:   "report --project P [--sweep S]",
		Short: "Write one HTML page comparing a project's runs",
		Long: `Report writes one self-contained HTML file about a project's outcomes, one
section per objective (a job's --objective; loss:min when it had none): runs
are ranked, coloured and charted only against runs of their own objective,
and every chart says whether lower or higher is better. Each section has the
top configurations (the objective first, ± its spread over CV folds when the
outcome reports one, sorted by --sort), the learning curves (the objective
against step from the progress lines, or their validation curve such as
valLoss when they do not carry it; every run faint, the 5 best in colour),
the objective against each job field that varies between runs, and a
parallel-coordinates chart of those fields against it. With 3 or more
charted runs, a section also has the optimisation history (each run's
objective in the order the runs ended, and the best so far) and parameter
importance (the share of the objective's variance each field's values
explain, eta squared over bins, normalised to sum 1; each field alone). Where
runs recorded their cost, the objective against cost (CPU-seconds, or
GPU-seconds when a run held a GPU). The top table names each job's code (the
short commit of the scripts dir, * when it had uncommitted changes) and links
the files its run brought home. A baseline run (a job of baseline.py, or an
outcome with "baseline": true) is drawn as a dashed line.

Then the replicate groups (mljob replicate): each configuration's values as
dots, mean ± standard deviation, the rank by mean, and whether the ranking
holds; the artifacts, a table of every run's files in the data dir
(artifacts/JOB/ATTEMPT/), linked relative to the page (with -o -, to the
working directory), so the links work while the page and the data dir stay
where they were; run time per host; and the failures with the command that
prints their logs. --sweep limits the page to one sweep of the project (by id
or name). The charting library and the data are inside the file: it opens in
any browser with no network.

A NaN or infinite value is shown as text in the tables and left off the
charts.

Exit codes: 0 ok, 1 error (e.g. unknown project or sweep, or no outcomes
yet), 2 usage error, 130 interrupted.`,
		Example: `  mljob report --project wine_data
  mljob report --project wine_data --sort loss --top 20 -o wine.html
  mljob report --project wine_data --sweep lr-grid -o lr-grid.html
  mljob report --project wine_data -o - > report.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.project == "" {
				return usagef(cmd, "--project is required")
			}
			if opts.top < 1 {
				return usagef(cmd, "--top must be at least 1")
			}
			if opts.outFile == "" {
				return usagef(cmd, "--output must name a file (or - for standard output)")
			}
			return runReport(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.project, "project", "", "the project to report on (required)")
	cmd.Flags().StringVar(&opts.sweep, "sweep", "", "only this sweep of the project (`ID|NAME`)")
	opts.sort = report.DefaultSort
	addEnum(cmd, &enumValue{value: &opts.sort, name: "sort", choices: report.SortKeys, mustBe: true}, "",
		"sort the top tables: objective (best first by each job's goal), -objective (worst first), loss|metric ascending, -loss|-metric descending")
	cmd.Flags().IntVar(&opts.top, "top", report.DefaultTop, "rows of the top-configurations table")
	cmd.Flags().StringVarP(&opts.outFile, "output", "o", defaultReportFile, "HTML file to write; - for standard output")
	return cmd
}

func runReport(ctx context.Context, opts *reportOptions) error {
	store, err := opts.app.openDB(ctx, db.ReadOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := checkProject(ctx, store, opts.project); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var sw db.Sweep
	if opts.sweep != "" {
		if sw, err = store.ResolveSweep(ctx, opts.sweep, opts.project); err != nil {
			return fmt.Errorf("report: %w", sweepError(err))
		}
	}
	rows, err := store.Outcomes(ctx, db.OutcomeFilter{Project: opts.project, SweepID: sw.ID})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if len(rows) == 0 {
		what := fmt.Sprintf("project %q", opts.project)
		if opts.sweep != "" {
			what = fmt.Sprintf("sweep %q of project %q", sw.Name, opts.project)
		}
		return &userError{msg: what + " has no outcomes yet", hint: "run its queued jobs with: mljob dispatch"}
	}
	curves, err := report.ReadCurves(ctx, store, rows)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	groups, err := store.ReplicateGroups(ctx, opts.project, sw.ID)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var replicates []replicate.GroupView // null in the page's data when there are none
	if len(groups) > 0 {
		if replicates, err = replicate.GroupViews(ctx, store, groups); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	data, err := opts.app.dataDir()
	if err != nil {
		return err
	}
	// Links are relative to where the page is written; standard output's
	// page is taken to be saved in the working directory.
	pageDir := "."
	if opts.outFile != "-" {
		pageDir = filepath.Dir(opts.outFile)
	}
	arts, err := report.ReadArtifacts(ctx, store, rows, func(job int64, attempt int) string {
		return artifacts.Home(artifacts.HomeDir(data), job, attempt)
	}, pageDir)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	r, err := report.Build(rows, report.Options{Project: opts.project, SweepName: sw.Name,
		Sort: opts.sort, Top: opts.top, Now: opts.now(), Curves: curves, Replicates: replicates, Artifacts: arts})
	if err != nil {
		return err
	}
	if err := r.ReadCode(ctx, store); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if opts.outFile == "-" {
		return r.Write(opts.app.io.Out)
	}
	if err := r.WriteFile(opts.outFile); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	of := opts.project
	if sw.Name != "" {
		of += " sweep " + sw.Name
	}
	fmt.Fprintf(opts.app.io.ErrOut, "Wrote %s: %d run(s) of %s, %s.\n", opts.outFile, r.Runs, of, r.Counts())
	return nil
}
