package outcomeview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/metricsview"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/provenance"
	"github.com/mljob/mljob/internal/render"
	"github.com/mljob/mljob/internal/run"
)

// Job is a job as mljob show prints it, made from its history by NewJob.
type Job struct {
	db.Job
	Sweep    *SweepRef // nil outside a sweep
	Orders   []map[string]any
	Attempts []Attempt       // never nil: JSON prints []
	Outcomes []db.OutcomeRow // Fill applied
	// Objects are the outcomes' JSON objects (Encoder), one per outcome.
	Objects []json.RawMessage
	// Progress is, per attempt that printed progress lines, what they
	// came to; nil when none did.
	Progress []metricsview.Progress
	// Code is the code the job was submitted with; nil when not recorded.
	Code *db.Code
	// Envs are the environments its attempts ran in.
	Envs []EnvRef
}

// SweepRef is the sweep a job was submitted in, as show prints it.
type SweepRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Attempt is one attempt of a job's order, as show prints it.
type Attempt struct {
	OrderID int64  `json:"orderId"`
	Attempt int    `json:"attempt"`
	State   string `json:"state"`
	Host    string `json:"host"`
	Slot    string `json:"slot"`
	RunDir  string `json:"runDir,omitempty"`
	PID     int    `json:"pid,omitempty"`
	// Slurm is nil, and left out, for an attempt not handed to Slurm.
	Slurm      *Slurm  `json:"slurm,omitempty"`
	ExitCode   *int    `json:"exitCode"`
	Error      string  `json:"error,omitempty"`
	AssignedAt *string `json:"assignedAt"`
	StartedAt  *string `json:"startedAt"`
	FinishedAt *string `json:"finishedAt"`
	// Pruned is why its pruner stopped it; nil, and left out, for an
	// attempt not pruned.
	Pruned *Verdict `json:"pruned,omitempty"`
	// Cost is what the attempt cost (its outcome's); nil, and left out,
	// when unknown.
	Cost *Cost `json:"cost,omitempty"`
	// Artifacts are the attempt's artifacts; nil, and left out, when it
	// owes none (no run dir, or an older queue).
	Artifacts *AttemptArtifacts `json:"artifacts,omitempty"`
}

// Cost is an attempt's cost as show prints it in JSON; the keys are the
// outcome's "cost" object's.
type Cost struct {
	CPUSeconds   float64 `json:"cpuSeconds"`
	GPUSeconds   float64 `json:"gpuSeconds"`
	GPUs         int     `json:"gpus"`
	PeakRSSBytes int64   `json:"peakRssBytes"`
	SysSeconds   float64 `json:"sysSeconds"`
	UserSeconds  float64 `json:"userSeconds"`
	WallSeconds  float64 `json:"wallSeconds"`
	run          run.Cost
}

// newCost converts a cost for show; nil stays nil.
func newCost(c *run.Cost) *Cost {
	if c == nil {
		return nil
	}
	ms := func(v float64) float64 { return math.Round(v*1000) / 1000 }
	return &Cost{CPUSeconds: ms(c.CPUSeconds()), GPUSeconds: ms(c.GPUSeconds()), GPUs: c.GPUs,
		PeakRSSBytes: c.MaxRSSBytes, SysSeconds: ms(c.SysSeconds), UserSeconds: ms(c.UserSeconds),
		WallSeconds: ms(c.WallSeconds), run: *c}
}

// Slurm is the Slurm array task an attempt ran as, as show and status
// print it.
type Slurm struct {
	JobID      int64  `json:"jobId"`
	ArrayIndex int    `json:"arrayIndex"`
	State      string `json:"state,omitempty"` // "" until a poll has seen the task
}

// NewSlurm converts an attempt's task; nil stays nil.
func NewSlurm(t *db.SlurmTask) *Slurm {
	if t == nil {
		return nil
	}
	return &Slurm{JobID: t.JobID, ArrayIndex: t.ArrayIndex, State: t.State}
}

// Text is the task as Slurm names it, then its state when seen:
// "12345_7 (RUNNING)". A nil task is "".
func (s *Slurm) Text() string {
	if s == nil {
		return ""
	}
	t := strconv.FormatInt(s.JobID, 10) + "_" + strconv.Itoa(s.ArrayIndex)
	if s.State != "" {
		t += " (" + s.State + ")"
	}
	return t
}

// NewJob shapes h for show: the orders' states, the attempts, and each
// outcome read through Fill and encoded as outcomes encodes it.
func NewJob(h *db.JobHistory) (*Job, error) {
	j := &Job{Job: h.Job, Attempts: []Attempt{}, Outcomes: h.Outcomes, Code: h.Code, Envs: newEnvs(h.Envs)}
	if len(h.Progress) > 0 {
		j.Progress = metricsview.Summaries(h.Progress)
	}
	verdicts := make(map[[2]int64]*Verdict, len(h.Prunes))
	for _, p := range h.Prunes {
		verdicts[[2]int64{p.OrderID, int64(p.Attempt)}] = NewVerdict(p)
	}
	costs := make(map[[2]int64]*run.Cost, len(h.Outcomes))
	for _, o := range h.Outcomes {
		costs[[2]int64{o.OrderID, int64(o.Attempt)}] = o.Cost
	}
	arts := newArtifacts(h.Artifacts)
	for i, o := range h.Orders {
		j.Orders = append(j.Orders, map[string]any{"orderId": o.ID, "state": o.State, "attempt": o.Attempt, "priority": o.Priority})
		for _, a := range h.Attempts[i] {
			j.Attempts = append(j.Attempts, Attempt{
				OrderID: o.ID, Attempt: a.Attempt, State: string(a.State), Host: a.Host, Slot: a.Slot,
				RunDir: a.RunDir, PID: a.PID, Slurm: NewSlurm(a.Slurm), ExitCode: a.ExitCode, Error: a.Error,
				AssignedAt: timeText(a.AssignedAt), StartedAt: timeText(a.StartedAt), FinishedAt: timeText(a.FinishedAt),
				Pruned: verdicts[[2]int64{o.ID, int64(a.Attempt)}], Cost: newCost(costs[[2]int64{o.ID, int64(a.Attempt)}]),
				Artifacts: arts[[2]int64{o.ID, int64(a.Attempt)}],
			})
		}
	}
	if h.Sweep != nil {
		j.Sweep = &SweepRef{ID: h.Sweep.ID, Name: h.Sweep.Name}
	}
	var enc Encoder
	j.Objects = make([]json.RawMessage, len(j.Outcomes))
	for i := range j.Outcomes {
		Fill(&j.Outcomes[i])
		var err error
		if j.Objects[i], err = enc.Object(&j.Outcomes[i]); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// createdText is when the job was submitted, as show prints it.
func (j *Job) createdText() string { return j.CreatedAt.UTC().Format(time.RFC3339) }

// Write writes the job in format: the JSON object, the attempts as CSV, or
// as text its header line, its spec, the attempts table and each
// outcome's object.
func (j *Job) Write(w io.Writer, format string) error {
	switch format {
	case FormatJSON:
		return render.JSON(w, j.JSON())
	case FormatCSV:
		t := j.AttemptsTable(format)
		return render.CSV(w, t.Keys, t.Rows)
	}
	fmt.Fprintf(w, "Job %d  project %s  script %s", j.ID, j.Project, j.Script)
	if j.DataFile != "" {
		fmt.Fprintf(w, "  data %s", j.DataFile)
	}
	if j.Sweep != nil {
		fmt.Fprintf(w, "  sweep %d (%s)", j.Sweep.ID, j.Sweep.Name)
	}
	fmt.Fprintf(w, "  priority %d  submitted %s\n", j.Priority, j.createdText())
	obj := j.objective()
	fmt.Fprintf(w, "Objective: %s (%s)\n", obj, obj.Better())
	if !j.Pruner.IsZero() {
		fmt.Fprintf(w, "Pruner: %s\n", j.Pruner)
	}
	j.writeCode(w)
	fmt.Fprintln(w)
	if err := writeIndented(w, j.Spec); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(j.Attempts) == 0 {
		fmt.Fprintln(w, "No attempts yet: the job is waiting in the queue.")
		return nil
	}
	if err := render.WriteTable(w, j.AttemptsTable(format)); err != nil {
		return err
	}
	j.writeVerdicts(w, obj.Name)
	if err := j.writeArtifacts(w); err != nil {
		return err
	}
	j.writeEnvs(w)
	for i := range j.Outcomes {
		o := &j.Outcomes[i]
		fmt.Fprintln(w)
		value := obj.Name + " not reported"
		if v := ObjectiveValue(o); v != nil {
			value = obj.Name + " " + FormatNumber(v, FormatTable)
		}
		if o.Superseded != "" {
			fmt.Fprintf(w, "Outcome of order %d attempt %d, %s (kept, does not count: %s):\n", o.OrderID, o.Attempt, value, o.Superseded)
		} else {
			fmt.Fprintf(w, "Outcome of order %d attempt %d, %s:\n", o.OrderID, o.Attempt, value)
		}
		if err := render.JSON(w, j.Objects[i]); err != nil {
			return err
		}
	}
	if len(j.Progress) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	return metricsview.WriteSummaries(w, j.Progress)
}

// writeVerdicts writes, after a blank line, a line per pruned attempt
// saying why its pruner stopped it; nothing when none was pruned.
func (j *Job) writeVerdicts(w io.Writer, name string) {
	first := true
	for _, a := range j.Attempts {
		if a.Pruned == nil {
			continue
		}
		if first {
			fmt.Fprintln(w)
			first = false
		}
		fmt.Fprintf(w, "Pruned: order %d attempt %d %s\n", a.OrderID, a.Attempt, a.Pruned.Text(name))
	}
}

// writeIndented writes the spec indented, or as it is when it is not JSON.
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

// objective is what the job's runs rank by; objective.Default for a job
// made by hand without one (the database gives every job one).
func (j *Job) objective() objective.Objective {
	if j.Objective == (objective.Objective{}) {
		return objective.Default
	}
	return j.Objective
}

// JSON is show's -o json object.
func (j *Job) JSON() map[string]any {
	m := map[string]any{
		"jobId": j.ID, "projectName": j.Project, "scriptName": j.Script, "dataFileName": j.DataFile,
		"priority": j.Priority, "createdAt": j.createdText(), "objective": j.objective(),
		"spec": json.RawMessage(j.Spec), "orders": j.Orders, "attempts": j.Attempts, "outcomes": j.Objects,
	}
	// Only a job of a sweep gets the key: the JSON of every other job
	// stays as it was.
	if j.Sweep != nil {
		m["sweep"] = j.Sweep
	}
	if !j.Pruner.IsZero() {
		m["pruner"] = j.Pruner.String()
	}
	if len(j.Progress) > 0 {
		m["progress"] = j.Progress
	}
	// Only where recorded, so the JSON of older jobs stays as it was.
	if j.Code != nil {
		m["code"] = provenance.CodeJSON(j.Code)
	}
	if len(j.Envs) > 0 {
		m["environments"] = j.Envs
	}
	return m
}

// AttemptsTable is the table of the job's attempts. The CSV of a job with
// a pruned attempt ends with the verdict's columns (verdictKeys), empty
// for the attempts not pruned; the table has the verdict's words in ERROR
// and Write prints them whole below it.
func (j *Job) AttemptsTable(format string) render.Table {
	t := render.Table{
		Headers: []string{"ORDER", "ATTEMPT", "STATE", "HOST", "SLOT", "STARTED", "FINISHED", "EXIT", "ERROR"},
		Keys:    []string{"orderId", "attempt", "state", "host", "slot", "startedAt", "finishedAt", "exitCode", "error"},
		Numeric: map[int]bool{0: true, 1: true, 7: true},
	}
	// The SLURM column (after SLOT) only when an attempt went to Slurm, so
	// that the table and CSV of every other job stay as they were.
	const slurmCol = 5
	withSlurm := slices.ContainsFunc(j.Attempts, func(a Attempt) bool { return a.Slurm != nil })
	if withSlurm {
		t.Headers = slices.Insert(t.Headers, slurmCol, "SLURM")
		t.Keys = slices.Insert(t.Keys, slurmCol, "slurm")
		t.Numeric = map[int]bool{0: true, 1: true, 8: true}
	}
	// The verdict's columns only in CSV, and only when an attempt was
	// pruned, so that every other job's CSV stays as it was.
	withVerdicts := format == FormatCSV && slices.ContainsFunc(j.Attempts, func(a Attempt) bool { return a.Pruned != nil })
	if withVerdicts {
		t.Keys = append(t.Keys, verdictKeys...)
		t.Headers = append(t.Headers, verdictKeys...)
	}
	// The cost's columns (after EXIT) only when an attempt has one, so
	// that the table and CSV of an older queue's jobs stay as they were.
	withCost := slices.ContainsFunc(j.Attempts, func(a Attempt) bool { return a.Cost != nil })
	costAt := slices.Index(t.Keys, "exitCode") + 1
	if withCost {
		t.Headers = slices.Insert(t.Headers, costAt, "CPU", "WALL", "PEAK RSS", "GPU")
		t.Keys = slices.Insert(t.Keys, costAt, "cpuSeconds", "wallSeconds", "peakRssBytes", "gpuSeconds")
		for i := costAt; i < costAt+4; i++ {
			t.Numeric[i] = true
		}
	}
	// The code's and environments' columns only in CSV, and only where
	// recorded.
	withEnvs, withCode := format == FormatCSV && len(j.Envs) > 0, format == FormatCSV && j.Code != nil
	if withEnvs {
		t.Keys, t.Headers = append(t.Keys, envKeys...), append(t.Headers, envKeys...)
	}
	if withCode {
		t.Keys, t.Headers = append(t.Keys, codeKeys...), append(t.Headers, codeKeys...)
	}
	// The artifacts' column only in CSV, and only when an attempt listed
	// some, so that every other job's CSV stays as it was.
	withArtifacts := format == FormatCSV && slices.ContainsFunc(j.Attempts, func(a Attempt) bool { return a.Artifacts != nil && len(a.Artifacts.Files) > 0 })
	if withArtifacts {
		t.Keys, t.Headers = append(t.Keys, "artifacts"), append(t.Headers, "artifacts")
	}
	for _, a := range j.Attempts {
		exit := ""
		if a.ExitCode != nil {
			exit = strconv.Itoa(*a.ExitCode)
		}
		row := []string{strconv.FormatInt(a.OrderID, 10), strconv.Itoa(a.Attempt), a.State, a.Host, a.Slot,
			deref(a.StartedAt), deref(a.FinishedAt), exit, OneLine(a.Error, format)}
		if withSlurm {
			row = slices.Insert(row, slurmCol, a.Slurm.Text())
		}
		if withCost {
			cells := make([]string, 0, 4)
			for _, name := range []string{"cpu", "wall", "peakRss", "gpu"} {
				var c *run.Cost
				if a.Cost != nil {
					c = &a.Cost.run
				}
				cells = append(cells, costCell(name, c, format).V)
			}
			row = slices.Insert(row, costAt, cells...)
		}
		if withVerdicts {
			row = append(row, a.Pruned.csvCells()...)
		}
		if withEnvs {
			row = append(row, j.envCells(a.OrderID, a.Attempt)...)
		}
		if withCode {
			row = append(row, j.codeCells()...)
		}
		if withArtifacts {
			row = append(row, artifactsCell(a.Artifacts))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// timeText is t in RFC 3339, UTC; nil (JSON null) when t is zero.
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
