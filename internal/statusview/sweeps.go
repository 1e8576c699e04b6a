package statusview

import (
	"slices"
	"strconv"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/render"
)

// NoSweep is the SWEEP cell of a project's jobs outside any sweep.
const NoSweep = "(no sweep)"

// Sweep is how far one sweep has got, in mljob status -o json; SweepID and
// SweepName are null for a project's jobs outside any sweep. Those may
// have several objectives: each is a Sweep of its own, so that a best is
// never ranked against another objective's.
type Sweep struct {
	SweepID   *int64              `json:"sweepId"`
	SweepName *string             `json:"sweepName"`
	Objective objective.Objective `json:"objective"`
	// Done counts the orders that ended: Succeeded, Failed, Cancelled and
	// Pruned (stopped early by their pruner, counted apart from failures).
	// Running counts those assigned or running, Queued those unassigned.
	Done      int `json:"done"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Cancelled int `json:"cancelled"`
	Pruned    int `json:"pruned"`
	Running   int `json:"running"`
	Queued    int `json:"queued"`
	Total     int `json:"total"`
	// Budget is a tpe sweep's trials in all (Total counts those made so
	// far); left out for other sweeps.
	Budget int `json:"budget,omitempty"`
	// CPUHours and GPUHours are what the group's attempts cost (every
	// attempt with a cost: failed, pruned and cancelled ones too); left
	// out while none is known.
	CPUHours float64 `json:"cpuHours,omitempty"`
	GPUHours float64 `json:"gpuHours,omitempty"`
	// Best is the succeeded run with the best value of Objective so far;
	// null before one has a value.
	Best *Best `json:"best"`
}

// Best is a sweep's leading run: its value of the objective and whose it
// is.
type Best struct {
	Value   float64 `json:"value"`
	JobID   int64   `json:"jobId"`
	OrderID int64   `json:"orderId"`
	Attempt int     `json:"attempt"`
}

// NewSweep is p as status shows it.
func NewSweep(p db.SweepProgress) Sweep {
	s := Sweep{Objective: p.Objective, Done: p.Done(), Succeeded: p.Counts[db.StateSucceeded],
		Failed: p.Counts[db.StateFailed], Cancelled: p.Counts[db.StateCancelled], Pruned: p.Counts[db.StatePruned],
		Running: p.Running(), Queued: p.Queued(), Total: p.Total, Budget: p.Budget,
		CPUHours: p.CPUSeconds / 3600, GPUHours: p.GPUSeconds / 3600}
	if p.SweepID != 0 {
		id, name := p.SweepID, p.Sweep
		s.SweepID, s.SweepName = &id, &name
	}
	if b := p.Best; b != nil {
		s.Best = &Best{Value: b.Value, JobID: b.JobID, OrderID: b.OrderID, Attempt: b.Attempt}
	}
	return s
}

// SweepsTable is the progress table: a row per sweep, and per project's
// jobs outside sweeps, with its objective ("cvMse:min": the goal says
// which way is better), its counts (a tpe sweep's DONE as done/budget,
// its TOTAL the budget) (pruned apart from failed) and its
// best run so far.
func SweepsTable(projects []*Project) render.Table {
	t := render.Table{
		Headers: []string{"PROJECT", "SWEEP", "OBJECTIVE", "DONE", "FAILED", "PRUNED", "RUNNING", "QUEUED", "TOTAL", "BEST", "JOB"},
		Numeric: map[int]bool{3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true, 10: true},
	}
	// The cost columns (after TOTAL) only once some attempt's cost is
	// known, so that a queue without costs shows what it always did.
	const costCol = 9
	withCost := false
	for _, p := range projects {
		for _, s := range p.Sweeps {
			withCost = withCost || s.CPUHours > 0 || s.GPUHours > 0
		}
	}
	if withCost {
		t.Headers = slices.Insert(t.Headers, costCol, "CPU-H", "GPU-H")
		for i := costCol; i < len(t.Headers); i++ {
			t.Numeric[i] = true
		}
	}
	for _, p := range projects {
		for _, s := range p.Sweeps {
			name := NoSweep
			if s.SweepName != nil {
				name = *s.SweepName
			}
			best, job := "-", "-"
			if s.Best != nil {
				best, job = FormatValue(s.Best.Value), strconv.FormatInt(s.Best.JobID, 10)
			}
			done, total := strconv.Itoa(s.Done), strconv.Itoa(s.Total)
			if s.Budget > 0 { // a tpe sweep: trials done of its budget
				done, total = done+"/"+strconv.Itoa(s.Budget), strconv.Itoa(s.Budget)
			}
			t.Rows = append(t.Rows, []string{p.ProjectName, name, s.Objective.String(),
				done, strconv.Itoa(s.Failed), strconv.Itoa(s.Pruned), strconv.Itoa(s.Running), strconv.Itoa(s.Queued),
				total, best, job})
			if withCost {
				row := &t.Rows[len(t.Rows)-1]
				*row = slices.Insert(*row, costCol, FormatHours(s.CPUHours), FormatHours(s.GPUHours))
			}
		}
	}
	return t
}

// FormatValue shows an objective's value with six significant digits, as
// the outcomes table shows a loss, so that the two can be matched.
func FormatValue(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// FormatHours shows CPU- or GPU-hours with two decimals ("0.00" for a
// few seconds' work).
func FormatHours(h float64) string { return strconv.FormatFloat(h, 'f', 2, 64) }
