package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/artifacts"
	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/render"
)

// artifactsDir is where dispatch brings runs' artifacts home: artifacts/
// beside the database file.

// pickOptions name one job: by id, or the best of a sweep.
type pickOptions struct {
	jobID int64
	best  bool
	sweep string
}

func (p *pickOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&p.best, "best", false, "the best job (of --sweep, or of the only sweep) by its objective")
	cmd.Flags().StringVar(&p.sweep, "sweep", "", "with --best: the sweep, by id or name")
}

func (p *pickOptions) parse(cmd *cobra.Command, args []string) error {
	switch {
	case p.best && len(args) > 0:
		return usagef(cmd, "give JOB or --best, not both")
	case !p.best && len(args) != 1:
		return usagef(cmd, "give one JOB id, or --best")
	case !p.best && p.sweep != "":
		return usagef(cmd, "--sweep goes with --best")
	case p.best:
		return nil
	}
	ids, err := parseIDs(cmd, args, false)
	if err != nil {
		return err
	}
	p.jobID = ids[0]
	return nil
}

// job resolves the pick to a job id: --best is db.BestJob, the best run
// as outcomes --best --status succeeded ranks it.
func (p *pickOptions) job(ctx context.Context, store *db.DB) (int64, error) {
	if !p.best {
		return p.jobID, nil
	}
	var sweepID int64
	if p.sweep != "" {
		sw, err := store.ResolveSweep(ctx, p.sweep, "")
		if err != nil {
			return 0, sweepError(err)
		}
		sweepID = sw.ID
	}
	id, err := store.BestJob(ctx, sweepID)
	var many *db.AmbiguousBestError
	switch {
	case errors.Is(err, db.ErrNoBest) && p.sweep != "":
		return 0, &userError{msg: fmt.Sprintf("sweep %q has %s", p.sweep, err), hint: "see its runs with: mljob outcomes --sweep " + p.sweep}
	case errors.Is(err, db.ErrNoBest):
		return 0, &userError{msg: err.Error() + " yet", hint: "run the queue with: mljob dispatch"}
	case errors.As(err, &many):
		return 0, &userError{msg: many.Error(), hint: "name one with --sweep NAME (see mljob status)"}
	}
	return id, err
}

type artifactsOptions struct {
	app    *app
	pick   pickOptions
	output string
}

func newArtifactsCmd(a *app) *cobra.Command {
	opts := &artifactsOptions{app: a}
	cmd := &cobra.Command{
		Use:   "artifacts JOB|--best [--sweep S]",
		Short: "List the files a job's run brought home",
		Long: `Artifacts lists the files the latest attempt of a job brought home: those its
job's "artifacts" globs matched in its run dir, and everything under artifacts/
there, each with its size, its SHA-256 (computed on the host, checked here) and
its state: home, or pending (a dispatch will fetch it), or over-cap (the run's
artifacts passed the cap: none were copied). With --best, the best job of a
sweep by its objective.

Exit codes: 0 ok, 1 error (e.g. the job has no artifacts record), 2 usage error.`,
		Example: `  mljob artifacts 12
  mljob artifacts --best --sweep lr-search -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.pick.parse(cmd, args); err != nil {
				return err
			}
			return runArtifacts(cmd.Context(), opts)
		},
	}
	opts.pick.addFlags(cmd)
	addOutputFlag(cmd, &opts.output)
	return cmd
}

// artifactRow is one listed file, as -o json writes it.
type artifactRow struct {
	JobID   int64  `json:"jobId"`
	Attempt int    `json:"attempt"`
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	State   string `json:"state"`
	Home    string `json:"home,omitempty"` // the file here, once home
}

// readArtifacts reads the artifacts record of the picked job.
func readArtifacts(ctx context.Context, a *app, pick *pickOptions) (db.Fetch, []artifactRow, error) {
	store, err := a.openDB(ctx, db.ReadOnly)
	if err != nil {
		return db.Fetch{}, nil, err
	}
	defer store.Close()
	jobID, err := pick.job(ctx, store)
	if err != nil {
		return db.Fetch{}, nil, err
	}
	f, files, err := store.JobFetch(ctx, jobID)
	if errors.Is(err, db.ErrJobNotFound) {
		return db.Fetch{}, nil, &userError{msg: fmt.Sprintf("job %d has no artifacts record: none of its runs has ended on a host", jobID),
			hint: "see the job with: mljob show " + strconv.FormatInt(jobID, 10)}
	}
	if err != nil {
		return db.Fetch{}, nil, err
	}
	data, err := a.dataDir()
	if err != nil {
		return db.Fetch{}, nil, err
	}
	dir := artifacts.Home(artifacts.HomeDir(data), f.JobID, f.Attempt)
	rows := make([]artifactRow, 0, len(files))
	for _, x := range files {
		r := artifactRow{JobID: f.JobID, Attempt: f.Attempt, Path: x.Path, Size: x.Size, SHA256: x.SHA256, State: "pending"}
		switch {
		case x.Done:
			r.State, r.Home = "home", filepath.Join(dir, filepath.FromSlash(x.Path))
		case f.State == db.FetchOverCap:
			r.State = "over-cap"
		}
		rows = append(rows, r)
	}
	return f, rows, nil
}

func runArtifacts(ctx context.Context, opts *artifactsOptions) error {
	f, rows, err := readArtifacts(ctx, opts.app, &opts.pick)
	if err != nil {
		return err
	}
	writeFetchNote(opts.app.io.ErrOut, f, len(rows))
	t := render.Table{Headers: []string{"PATH", "SIZE", "SHA256", "STATE"}, Keys: []string{"path", "size", "sha256", "state"}, Numeric: map[int]bool{1: true}}
	for _, r := range rows {
		t.Rows = append(t.Rows, []string{r.Path, strconv.FormatInt(r.Size, 10), r.SHA256, r.State})
	}
	return render.Write(opts.app.io.Out, opts.output, t, rows)
}

// writeFetchNote says on stderr why an attempt's artifacts are not all
// home, when they are not.
func writeFetchNote(w io.Writer, f db.Fetch, n int) {
	switch f.State {
	case db.FetchDone:
		if n == 0 {
			fmt.Fprintf(w, "Job %d attempt %d left no artifacts.\n", f.JobID, f.Attempt)
		}
	case db.FetchOverCap, db.FetchFailed:
		fmt.Fprintf(w, "Job %d attempt %d: %s\n", f.JobID, f.Attempt, f.Error)
	default:
		fmt.Fprintf(w, "Job %d attempt %d: artifacts not all home yet; mljob dispatch fetches them.", f.JobID, f.Attempt)
		if f.Error != "" {
			fmt.Fprintf(w, " Last try: %s", f.Error)
		}
		fmt.Fprintln(w)
	}
}

type fetchOptions struct {
	app  *app
	pick pickOptions
	out  string
}

func newFetchCmd(a *app) *cobra.Command {
	opts := &fetchOptions{app: a}
	cmd := &cobra.Command{
		Use:   "fetch JOB|--best [--sweep S] -o DIR",
		Short: "Copy a job's artifacts out of the data dir",
		Long: `Fetch copies the artifacts a job's latest attempt brought home (see mljob
artifacts) into DIR, keeping their paths, each checked against its SHA-256
as it is copied. With --best, the best job of a sweep by its objective.

Exit codes: 0 ok, 1 error (e.g. some artifacts are not home yet: run mljob
dispatch), 2 usage error.`,
		Example: `  mljob fetch --best -o best/
  mljob fetch 12 -o runs/12`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.pick.parse(cmd, args); err != nil {
				return err
			}
			if opts.out == "" {
				return usagef(cmd, "-o DIR is required")
			}
			return runFetch(cmd.Context(), opts)
		},
	}
	opts.pick.addFlags(cmd)
	cmd.Flags().StringVarP(&opts.out, "output", "o", "", "directory to copy the artifacts into")
	return cmd
}

func runFetch(ctx context.Context, opts *fetchOptions) error {
	f, rows, err := readArtifacts(ctx, opts.app, &opts.pick)
	if err != nil {
		return err
	}
	var missing int
	for _, r := range rows {
		if r.State != "home" {
			missing++
			continue
		}
		dest := filepath.Join(opts.out, filepath.FromSlash(r.Path))
		if err := copyChecked(r.Home, dest, r.SHA256); err != nil {
			return err
		}
		fmt.Fprintln(opts.app.io.Out, dest)
	}
	if missing > 0 || f.State == db.FetchOverCap {
		writeFetchNote(opts.app.io.ErrOut, f, len(rows))
		return &userError{msg: fmt.Sprintf("%d of %d artifacts of job %d are not home", missing, len(rows), f.JobID),
			hint: "run mljob dispatch to fetch what is owed; mljob artifacts " + strconv.FormatInt(f.JobID, 10) + " says why"}
	}
	if len(rows) == 0 {
		writeFetchNote(opts.app.io.ErrOut, f, 0)
	}
	return nil
}

// copyChecked copies src to dest (artifacts.CopyVerified); a file whose
// SHA-256 is not the recorded one is refused.
func copyChecked(src, dest, want string) error {
	ok, err := artifacts.CopyVerified(src, dest, want)
	if err != nil {
		return fmt.Errorf("artifact %s: %w", src, err)
	}
	if !ok {
		return &userError{msg: fmt.Sprintf("artifact %s does not have its recorded SHA-256 %s: the copy in the data dir changed", src, want),
			hint: "the file in the data dir was changed after it came home; copy it again from the run dir on its host (mljob show JOB -o json: runDir)"}
	}
	return nil
}
