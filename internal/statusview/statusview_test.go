package statusview

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engines"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/outcomeview"
	"github.com/mljob/mljob/internal/render"
)

func TestBuild(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := db.QueueStatus{
		Projects: []db.ProjectCounts{
			{Project: "mnist", Counts: map[db.OrderState]int{db.StateRunning: 1, db.StateAssigned: 1, db.StateSucceeded: 2}, Total: 4},
			{Project: "wine", Counts: map[db.OrderState]int{db.StateUnassigned: 3}, Total: 3},
		},
		Active: []db.Order{
			{ID: 7, JobID: 3, Project: "mnist", State: db.StateRunning, Host: "gpu1", Slot: "0", Attempt: 2,
				AssignedAt: now.Add(-time.Hour), StartedAt: now.Add(-90 * time.Second)},
			{ID: 8, JobID: 4, Project: "mnist", State: db.StateAssigned, Host: "campus", Slot: "1", Attempt: 1,
				AssignedAt: now.Add(-10 * time.Second), Slurm: &db.SlurmTask{JobID: 100, ArrayIndex: 2}},
		},
		HostStatus: map[string]string{"gpu1": "down", "campus": "up"},
	}
	projects, active := Build(st, now)
	if len(projects) != 2 || projects[1].ProjectName != "wine" || projects[1].Counts["unassigned"] != 3 || len(projects[1].Active) != 0 || projects[1].Active == nil {
		t.Fatalf("projects %+v", projects)
	}
	m := projects[0]
	if len(m.Active) != 2 || m.Active[0].ElapsedSeconds != 90 || m.Active[0].HostStatus != "down" || m.Active[0].Slurm != nil ||
		*m.Active[1].Slurm != (outcomeview.Slurm{JobID: 100, ArrayIndex: 2}) {
		t.Errorf("mnist's active orders %+v", m.Active)
	}
	want := [][]string{
		{"7", "3", "mnist", "running (host unreachable)", "gpu1", "0", "1m30s"},
		{"8", "4", "mnist", "assigned", "campus", "1", "10s"},
	}
	if !slices.EqualFunc(active.Rows, want, slices.Equal) {
		t.Errorf("active rows\n%q\nwant\n%q", active.Rows, want)
	}

	counts := CountsTable(projects)
	if want := []string{"PROJECT", "unassigned", "assigned", "running", "succeeded", "failed", "cancelled", "pruned", "total"}; !slices.Equal(counts.Headers, want) {
		t.Errorf("headers %q, want %q", counts.Headers, want)
	}
	if want := []string{"mnist", "0", "1", "1", "2", "0", "0", "0", "4"}; !slices.Equal(counts.Rows[0], want) {
		t.Errorf("row %q, want %q", counts.Rows[0], want)
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteSlurmCounts(t *testing.T) {
	tests := []struct {
		name   string
		counts map[string]engines.QueueCount
		want   string
	}{
		{name: "no Slurm", counts: map[string]engines.QueueCount{}, want: ""},
		{name: "by host name", counts: map[string]engines.QueueCount{"zeta": {Running: 4}, "campus": {Pending: 12, Running: 4}},
			want: "\ncampus: Slurm 12 pending, 4 running\nzeta: Slurm 0 pending, 4 running\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := WriteSlurmCounts(&out, tt.counts); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got %q, want %q", out.String(), tt.want)
			}
		})
	}
	t.Run("failing writer", func(t *testing.T) {
		err := WriteSlurmCounts(errWriter{}, map[string]engines.QueueCount{"campus": {Pending: 1}})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("WriteSlurmCounts = %v, want the write error", err)
		}
	})
}

// TestSweeps: each project lists its sweeps' progress, a loose group's
// sweep null; the table names the objective with its goal and the best
// run, "-" before one has a value; pruned runs count as done, apart from
// failed ones.
func TestSweeps(t *testing.T) {
	acc := objective.Objective{Name: "acc", Goal: objective.Maximize}
	counts := func(queued, running, succeeded, failed, cancelled, pruned int) map[db.OrderState]int {
		return map[db.OrderState]int{db.StateUnassigned: queued, db.StateAssigned: 1, db.StateRunning: running - 1,
			db.StateSucceeded: succeeded, db.StateFailed: failed, db.StateCancelled: cancelled, db.StatePruned: pruned}
	}
	st := db.QueueStatus{
		Projects: []db.ProjectCounts{{Project: "wine", Total: 12}, {Project: "mnist", Total: 1}},
		Sweeps: []db.SweepProgress{
			{Project: "wine", SweepID: 3, Sweep: "wine-lr", Objective: acc, Counts: counts(3, 2, 4, 1, 1, 2), Total: 13,
				Best: &db.BestOutcome{Value: 0.912345678, JobID: 17, OrderID: 18, Attempt: 2}},
			{Project: "wine", Objective: objective.Default, Counts: counts(0, 1, 0, 0, 0, 0), Total: 1},
		},
	}
	projects, _ := Build(st, time.Now())
	w := projects[0].Sweeps
	if len(w) != 2 || len(projects[1].Sweeps) != 0 || projects[1].Sweeps == nil {
		t.Fatalf("sweeps %+v and %+v, want wine's two and mnist's none ([])", w, projects[1].Sweeps)
	}
	if s := w[0]; *s.SweepID != 3 || *s.SweepName != "wine-lr" || s.Done != 8 || s.Succeeded != 4 || s.Failed != 1 ||
		s.Cancelled != 1 || s.Pruned != 2 || s.Running != 2 || s.Queued != 3 || s.Total != 13 ||
		*s.Best != (Best{Value: 0.912345678, JobID: 17, OrderID: 18, Attempt: 2}) {
		t.Errorf("wine-lr %+v (best %+v)", s, s.Best)
	}
	if s := w[1]; s.SweepID != nil || s.SweepName != nil || s.Best != nil || s.Running != 1 {
		t.Errorf("loose jobs %+v, want no sweep, no best, 1 running", s)
	}
	table := SweepsTable(projects)
	want := [][]string{
		{"wine", "wine-lr", "acc:max", "8", "1", "2", "2", "3", "13", "0.912346", "17"},
		{"wine", NoSweep, "loss:min", "0", "0", "0", "1", "0", "1", "-", "-"},
	}
	if !slices.EqualFunc(table.Rows, want, slices.Equal) {
		t.Errorf("rows\n%q\nwant\n%q", table.Rows, want)
	}
	var out bytes.Buffer
	if err := render.JSON(&out, projects[0].Sweeps[1]); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"sweepId": null,`) || !strings.Contains(out.String(), `"best": null`) {
		t.Errorf("loose jobs in JSON:\n%s\nwant sweepId and best null", out.String())
	}
}

// TestRegisteredStudy: a tpe sweep registered but not dispatched yet has
// no order; status shows its project with zero counts and the sweep at
// 0 of its budget, not "The queue is empty".
func TestRegisteredStudy(t *testing.T) {
	zero := map[db.OrderState]int{}
	for _, s := range db.OrderStates {
		zero[s] = 0
	}
	st := db.QueueStatus{
		Sweeps: []db.SweepProgress{{Project: "wine", SweepID: 4, Sweep: "wine-tpe", Objective: objective.Default, Counts: zero, Budget: 40}},
	}
	var out, errOut bytes.Buffer
	if err := Write(&out, &errOut, st, time.Now(), render.FormatTable); err != nil {
		t.Fatal(err)
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr %q, want nothing", errOut.String())
	}
	projects, _ := Build(st, time.Now())
	if len(projects) != 1 || projects[0].ProjectName != "wine" || projects[0].Total != 0 || len(projects[0].Sweeps) != 1 {
		t.Fatalf("projects %+v, want wine with its sweep", projects)
	}
	table := SweepsTable(projects)
	want := [][]string{{"wine", "wine-tpe", "loss:min", "0/40", "0", "0", "0", "0", "40", "-", "-"}}
	if !slices.EqualFunc(table.Rows, want, slices.Equal) {
		t.Errorf("rows\n%q\nwant\n%q", table.Rows, want)
	}
	if !strings.Contains(out.String(), "wine-tpe") || !strings.Contains(out.String(), "0/40") {
		t.Errorf("status:\n%s\nwant wine-tpe at 0/40", out.String())
	}
}
