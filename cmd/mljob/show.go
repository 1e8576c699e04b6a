package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/outcomeview"
	"github.com/mljob/mljob/internal/render"
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
submitted in one, every attempt of its orders (host, times, exit code, error)
and the outcomes its script reported. An attempt handed to Slurm names its
array task and the task's state as last seen (SLURM column: 12345_7 (RUNNING)).
In JSON, a job of a sweep has "sweep": {"id", "name"}, and an attempt handed
to Slurm has "slurm": {"jobId", "arrayIndex", "state"}.

Exit codes: 0 ok, 1 error (e.g. no such job), 2 usage error.`,
		Example: `  mljob show 12
  mljob show 12 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id < 1 {
				return usagef(cmd, "JOB must be a job id (a positive integer), not %q", args[0])
			}
			opts.jobID = id
			return runShow(cmd.Context(), opts)
		},
	}
	addOutputFlag(cmd, &opts.output)
	return cmd
}

// showSlurm and newShowSlurm are outcomeview's, under the names status.go
// uses: status.go is thinned apart from show.go.
type showSlurm = outcomeview.Slurm

var newShowSlurm = outcomeview.NewSlurm

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
	if opts.output == render.FormatJSON {
		return render.JSON(opts.app.io.Out, job.JSON())
	}
	t := job.AttemptsTable(opts.output)
	if opts.output == render.FormatCSV {
		return render.CSV(opts.app.io.Out, t.Keys, t.Rows)
	}
	return writeShowText(opts.app.io.Out, job, t)
}

// writeShowText writes the job's header line, its spec, the attempts
// table t and each outcome's object.
func writeShowText(w io.Writer, job *outcomeview.Job, t render.Table) error {
	fmt.Fprintf(w, "Job %d  project %s  script %s", job.ID, job.Project, job.Script)
	if job.DataFile != "" {
		fmt.Fprintf(w, "  data %s", job.DataFile)
	}
	if job.Sweep != nil {
		fmt.Fprintf(w, "  sweep %d (%s)", job.Sweep.ID, job.Sweep.Name)
	}
	fmt.Fprintf(w, "  priority %d  submitted %s\n\n", job.Priority, job.CreatedText())
	if err := writeIndented(w, job.Spec); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(job.Attempts) == 0 {
		fmt.Fprintln(w, "No attempts yet: the job is waiting in the queue.")
		return nil
	}
	if err := render.WriteTable(w, t); err != nil {
		return err
	}
	for i, o := range job.Outcomes {
		fmt.Fprintln(w)
		if o.Superseded != "" {
			fmt.Fprintf(w, "Outcome of order %d attempt %d (kept, does not count: %s):\n", o.OrderID, o.Attempt, o.Superseded)
		} else {
			fmt.Fprintf(w, "Outcome of order %d attempt %d:\n", o.OrderID, o.Attempt)
		}
		if err := render.JSON(w, job.Objects[i]); err != nil {
			return err
		}
	}
	return nil
}

func writeIndented(w io.Writer, spec []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, spec, "", "  "); err != nil {
		_, err = w.Write(spec)
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}
