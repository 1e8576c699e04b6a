package outcomeview

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/render"
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
	j := &Job{Job: h.Job, Attempts: []Attempt{}, Outcomes: h.Outcomes}
	for i, o := range h.Orders {
		j.Orders = append(j.Orders, map[string]any{"orderId": o.ID, "state": o.State, "attempt": o.Attempt, "priority": o.Priority})
		for _, a := range h.Attempts[i] {
			j.Attempts = append(j.Attempts, Attempt{
				OrderID: o.ID, Attempt: a.Attempt, State: string(a.State), Host: a.Host, Slot: a.Slot,
				RunDir: a.RunDir, PID: a.PID, Slurm: NewSlurm(a.Slurm), ExitCode: a.ExitCode, Error: a.Error,
				AssignedAt: timeText(a.AssignedAt), StartedAt: timeText(a.StartedAt), FinishedAt: timeText(a.FinishedAt),
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

// CreatedText is when the job was submitted, as show prints it.
func (j *Job) CreatedText() string { return j.CreatedAt.UTC().Format(time.RFC3339) }

// JSON is show's -o json object.
func (j *Job) JSON() map[string]any {
	m := map[string]any{
		"jobId": j.ID, "projectName": j.Project, "scriptName": j.Script, "dataFileName": j.DataFile,
		"priority": j.Priority, "createdAt": j.CreatedText(),
		"spec": json.RawMessage(j.Spec), "orders": j.Orders, "attempts": j.Attempts, "outcomes": j.Objects,
	}
	// Only a job of a sweep gets the key: the JSON of every other job
	// stays as it was.
	if j.Sweep != nil {
		m["sweep"] = j.Sweep
	}
	return m
}

// AttemptsTable is the table of the job's attempts.
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
