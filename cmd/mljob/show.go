package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/metricsview"
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

type showAttempt struct {
	OrderID int64  `json:"orderId"`
	Attempt int    `json:"attempt"`
	State   string `json:"state"`
	Host    string `json:"host"`
	Slot    string `json:"slot"`
	RunDir  string `json:"runDir,omitempty"`
	PID     int    `json:"pid,omitempty"`
	// Slurm is nil, and left out, for an attempt not handed to Slurm.
	Slurm      *showSlurm `json:"slurm,omitempty"`
	ExitCode   *int       `json:"exitCode"`
	Error      string     `json:"error,omitempty"`
	AssignedAt *string    `json:"assignedAt"`
	StartedAt  *string    `json:"startedAt"`
	FinishedAt *string    `json:"finishedAt"`
}

// showSlurm is the Slurm array task an attempt ran as, as show prints it.
type showSlurm struct {
	JobID      int64  `json:"jobId"`
	ArrayIndex int    `json:"arrayIndex"`
	State      string `json:"state,omitempty"` // "" until a poll has seen the task
}

// newShowSlurm converts the attempt's task; nil stays nil.
func newShowSlurm(t *db.SlurmTask) *showSlurm {
	if t == nil {
		return nil
	}
	return &showSlurm{JobID: t.JobID, ArrayIndex: t.ArrayIndex, State: t.State}
}

// text is the task as Slurm names it, then its state when seen:
// "12345_7 (RUNNING)". A nil task is "".
func (s *showSlurm) text() string {
	if s == nil {
		return ""
	}
	t := strconv.FormatInt(s.JobID, 10) + "_" + strconv.Itoa(s.ArrayIndex)
	if s.State != "" {
		t += " (" + s.State + ")"
	}
	return t
}

// showSweep is the sweep a job was submitted in, as show prints it.
type showSweep struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// showData is what show prints of a job.
type showData struct {
	job         db.Job
	sweep       *showSweep // nil outside a sweep
	orderStates []map[string]any
	attempts    []showAttempt
	outcomes    []db.OutcomeRow // Fill applied
	progress    []metricsview.Progress
}

func runShow(ctx context.Context, opts *showOptions) error {
	store, err := opts.app.openDB(ctx, db.ReadOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	d, err := loadShow(ctx, store, opts.jobID)
	if err != nil {
		return err
	}
	var enc outcomeview.Encoder
	outs := make([]json.RawMessage, len(d.outcomes))
	for i := range d.outcomes {
		if outs[i], err = enc.Object(&d.outcomes[i]); err != nil {
			return fmt.Errorf("show: %w", err)
		}
	}
	if opts.output == render.FormatJSON {
		return render.JSON(opts.app.io.Out, showJSON(d, outs))
	}
	t := showTable(d.attempts, opts.output)
	if opts.output == render.FormatCSV {
		return render.CSV(opts.app.io.Out, t.Keys, t.Rows)
	}
	return writeShowText(opts.app.io.Out, d, t, outs)
}

// loadShow reads the job, its orders, attempts, sweep and outcomes.
func loadShow(ctx context.Context, store *db.DB, jobID int64) (*showData, error) {
	job, err := store.Job(ctx, jobID)
	if errors.Is(err, db.ErrJobNotFound) {
		return nil, &userError{msg: fmt.Sprintf("job %d not found", jobID), hint: "list jobs with: mljob outcomes, or mljob status"}
	}
	if err != nil {
		return nil, fmt.Errorf("show: %w", err)
	}
	d := &showData{job: job, attempts: []showAttempt{}}
	orders, err := store.OrdersForJob(ctx, job.ID)
	if err != nil {
		return nil, fmt.Errorf("show: %w", err)
	}
	for _, o := range orders {
		d.orderStates = append(d.orderStates, map[string]any{"orderId": o.ID, "state": o.State, "attempt": o.Attempt, "priority": o.Priority})
		as, err := store.Attempts(ctx, o.ID)
		if err != nil {
			return nil, fmt.Errorf("show: %w", err)
		}
		for _, a := range as {
			d.attempts = append(d.attempts, showAttempt{
				OrderID: o.ID, Attempt: a.Attempt, State: string(a.State), Host: a.Host, Slot: a.Slot,
				RunDir: a.RunDir, PID: a.PID, Slurm: newShowSlurm(a.Slurm), ExitCode: a.ExitCode, Error: a.Error,
				AssignedAt: timeText(a.AssignedAt), StartedAt: timeText(a.StartedAt), FinishedAt: timeText(a.FinishedAt),
			})
		}
	}
	if d.outcomes, err = store.Outcomes(ctx, db.OutcomeFilter{JobID: job.ID}); err != nil {
		return nil, fmt.Errorf("show: %w", err)
	}
	for i := range d.outcomes {
		outcomeview.Fill(&d.outcomes[i])
	}
	if d.progress, err = progressOf(ctx, store, orders); err != nil {
		return nil, fmt.Errorf("show: %w", err)
	}
	if job.SweepID != 0 {
		got, err := store.Sweep(ctx, strconv.FormatInt(job.SweepID, 10))
		if err != nil {
			return nil, fmt.Errorf("show: %w", err)
		}
		d.sweep = &showSweep{ID: got.ID, Name: got.Name}
	}
	return d, nil
}

// showJSON is show's -o json object; outs are the outcomes' objects.
func showJSON(d *showData, outs []json.RawMessage) map[string]any {
	job := d.job
	m := map[string]any{
		"jobId": job.ID, "projectName": job.Project, "scriptName": job.Script, "dataFileName": job.DataFile,
		"priority": job.Priority, "createdAt": job.CreatedAt.UTC().Format(time.RFC3339),
		"spec": json.RawMessage(job.Spec), "orders": d.orderStates, "attempts": d.attempts, "outcomes": outs,
	}
	// Only a job of a sweep gets the key: the JSON of every other job
	// stays as it was.
	if d.sweep != nil {
		m["sweep"] = d.sweep
	}
	if len(d.progress) > 0 {
		m["progress"] = d.progress
	}
	return m
}

// showTable is the attempts table.
func showTable(attempts []showAttempt, format string) render.Table {
	t := render.Table{
		Headers: []string{"ORDER", "ATTEMPT", "STATE", "HOST", "SLOT", "STARTED", "FINISHED", "EXIT", "ERROR"},
		Keys:    []string{"orderId", "attempt", "state", "host", "slot", "startedAt", "finishedAt", "exitCode", "error"},
		Numeric: map[int]bool{0: true, 1: true, 7: true},
	}
	// The SLURM column (after SLOT) only when an attempt went to Slurm, so
	// that the table and CSV of every other job stay as they were.
	const slurmCol = 5
	withSlurm := slices.ContainsFunc(attempts, func(a showAttempt) bool { return a.Slurm != nil })
	if withSlurm {
		t.Headers = slices.Insert(t.Headers, slurmCol, "SLURM")
		t.Keys = slices.Insert(t.Keys, slurmCol, "slurm")
		t.Numeric = map[int]bool{0: true, 1: true, 8: true}
	}
	for _, a := range attempts {
		exit := ""
		if a.ExitCode != nil {
			exit = strconv.Itoa(*a.ExitCode)
		}
		row := []string{strconv.FormatInt(a.OrderID, 10), strconv.Itoa(a.Attempt), a.State, a.Host, a.Slot,
			deref(a.StartedAt), deref(a.FinishedAt), exit, outcomeview.OneLine(a.Error, format)}
		if withSlurm {
			row = slices.Insert(row, slurmCol, a.Slurm.text())
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// writeShowText writes the job's header line, its spec, the attempts
// table t and each outcome's object.
func writeShowText(w io.Writer, d *showData, t render.Table, outs []json.RawMessage) error {
	job := d.job
	fmt.Fprintf(w, "Job %d  project %s  script %s", job.ID, job.Project, job.Script)
	if job.DataFile != "" {
		fmt.Fprintf(w, "  data %s", job.DataFile)
	}
	if d.sweep != nil {
		fmt.Fprintf(w, "  sweep %d (%s)", d.sweep.ID, d.sweep.Name)
	}
	fmt.Fprintf(w, "  priority %d  submitted %s\n\n", job.Priority, job.CreatedAt.UTC().Format(time.RFC3339))
	if err := writeIndented(w, job.Spec); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(d.attempts) == 0 {
		fmt.Fprintln(w, "No attempts yet: the job is waiting in the queue.")
		return nil
	}
	if err := render.WriteTable(w, t); err != nil {
		return err
	}
	for i, o := range d.outcomes {
		fmt.Fprintln(w)
		if o.Superseded != "" {
			fmt.Fprintf(w, "Outcome of order %d attempt %d (kept, does not count: %s):\n", o.OrderID, o.Attempt, o.Superseded)
		} else {
			fmt.Fprintf(w, "Outcome of order %d attempt %d:\n", o.OrderID, o.Attempt)
		}
		if err := render.JSON(w, outs[i]); err != nil {
			return err
		}
	}
	return writeProgress(w, d.progress)
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

func timeText(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
