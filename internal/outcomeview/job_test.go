package outcomeview

import (
	"reflect"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
)

// TestJobAttemptsTable: the SLURM column comes after SLOT only when an
// attempt went to Slurm, naming the task and its state as last seen.
func TestJobAttemptsTable(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	plain := db.Attempt{Attempt: 1, State: db.StateRunning, Host: "h", Slot: "0", StartedAt: at}
	inSlurm := plain
	inSlurm.Slurm = &db.SlurmTask{JobID: 12345, ArrayIndex: 7, State: "RUNNING"}
	tests := []struct {
		name     string
		attempts []db.Attempt
		headers  int
		row      []string
	}{
		{"no slurm", []db.Attempt{plain}, 9, []string{"3", "1", "running", "h", "0", "2026-03-01T12:00:00Z", "", "", ""}},
		{"slurm", []db.Attempt{inSlurm}, 10, []string{"3", "1", "running", "h", "0", "12345_7 (RUNNING)", "2026-03-01T12:00:00Z", "", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := NewJob(&db.JobHistory{Orders: []db.Order{{ID: 3}}, Attempts: [][]db.Attempt{tt.attempts}})
			if err != nil {
				t.Fatal(err)
			}
			tbl := j.AttemptsTable(FormatTable)
			if len(tbl.Headers) != tt.headers || len(tbl.Rows) != 1 || !reflect.DeepEqual(tbl.Rows[0], tt.row) {
				t.Errorf("headers %v, rows %q; want %d headers and row %q", tbl.Headers, tbl.Rows, tt.headers, tt.row)
			}
			if _, ok := j.JSON()["sweep"]; ok {
				t.Errorf("JSON of a job outside a sweep has a sweep key")
			}
		})
	}
}

func TestSlurmText(t *testing.T) {
	tests := []struct {
		task *db.SlurmTask
		want string
	}{
		{nil, ""},
		{&db.SlurmTask{JobID: 12346, ArrayIndex: 1}, "12346_1"},
		{&db.SlurmTask{JobID: 12345, ArrayIndex: 0, State: "NODE_FAIL"}, "12345_0 (NODE_FAIL)"},
	}
	for _, tt := range tests {
		if got := NewSlurm(tt.task).Text(); got != tt.want {
			t.Errorf("NewSlurm(%+v).Text() = %q, want %q", tt.task, got, tt.want)
		}
	}
}
