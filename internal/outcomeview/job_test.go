package outcomeview

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/prune"
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

// TestVerdictText: the verdict in words names the step, the rung when the
// rule has rungs, the series when named, the value (NaN when it was not a
// number), the rank or how many runs it was compared with, the cutoff when
// there was one, and the rule.
func TestVerdictText(t *testing.T) {
	asha := prune.Rule{Kind: prune.KindASHA}
	median := prune.Rule{Kind: prune.KindMedian, StartupRuns: 5}
	tests := []struct {
		name string
		rec  db.PruneRecord
		want string
	}{
		{"asha", db.PruneRecord{Rule: asha, Series: "fold0", Rung: 2, Step: 9, Value: 0.53, Cutoff: 0.41, Rank: 5, Of: 7},
			"at step 9 (rung 2) of series fold0: valLoss 0.53 ranked 5 of 7, the cutoff was 0.41 (asha:minStep=1,reduction=3,minEarlyStoppingRate=0)"},
		{"asha NaN", db.PruneRecord{Rule: asha, Rung: 0, Step: 1, Value: math.NaN(), Cutoff: math.NaN()},
			"at step 1 (rung 0): valLoss is not a number (asha:minStep=1,reduction=3,minEarlyStoppingRate=0)"},
		{"median", db.PruneRecord{Rule: median, Rung: -1, Step: 4.5, Value: 1.25, Cutoff: 1, Of: 5},
			"at step 4.5: best valLoss 1.25 is worse than the median 1 of 5 finished runs (median:startupRuns=5,warmupSteps=0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewVerdict(tt.rec).Text("valLoss"); got != tt.want {
				t.Errorf("Text = %q\nwant   %q", got, tt.want)
			}
		})
	}
}

// TestJobPruned: a pruned attempt carries its verdict in JSON and in the
// CSV's verdict columns, which only a job with a pruned attempt has; the
// text names the job's pruner and the verdict.
func TestJobPruned(t *testing.T) {
	asha := prune.Rule{Kind: prune.KindASHA, MinStep: 2}
	h := &db.JobHistory{
		Job:    db.Job{ID: 4, Project: "p", Spec: []byte(`{}`), Pruner: asha},
		Orders: []db.Order{{ID: 3, Attempt: 2}},
		Attempts: [][]db.Attempt{{
			{Attempt: 1, State: db.StateFailed, Error: "exit status 1"},
			{Attempt: 2, State: db.StatePruned, Error: "pruned at step 6"},
		}},
		Prunes: []db.PruneRecord{{OrderID: 3, Attempt: 2, Rule: asha, Rung: 1, Step: 6, Value: 0.9, Cutoff: 0.5, Rank: 3, Of: 3}},
	}
	j, err := NewJob(h)
	if err != nil {
		t.Fatal(err)
	}
	if j.Attempts[0].Pruned != nil || j.Attempts[1].Pruned == nil || *j.Attempts[1].Pruned.Rung != 1 {
		t.Fatalf("verdicts = %+v, %+v; want only attempt 2's, at rung 1", j.Attempts[0].Pruned, j.Attempts[1].Pruned)
	}
	csv := j.AttemptsTable(FormatCSV)
	wantRow := []string{"3", "2", "pruned", "", "", "", "", "", "pruned at step 6",
		"asha:minStep=2,reduction=3,minEarlyStoppingRate=0", "", "1", "6", "0.9", "0.5", "3", "3"}
	if len(csv.Keys) != 17 || !reflect.DeepEqual(csv.Rows[1], wantRow) || csv.Rows[0][9] != "" {
		t.Errorf("CSV keys %v, rows %q; want 17 keys, attempt 2's row %q", csv.Keys, csv.Rows, wantRow)
	}
	if tbl := j.AttemptsTable(FormatTable); len(tbl.Headers) != 9 {
		t.Errorf("table headers = %v, want the 9 without the verdict's", tbl.Headers)
	}
	if got := j.JSON()["pruner"]; got != "asha:minStep=2,reduction=3,minEarlyStoppingRate=0" {
		t.Errorf(`JSON "pruner" = %v`, got)
	}
	var text strings.Builder
	if err := j.Write(&text, FormatTable); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Pruner: asha:minStep=2,reduction=3,minEarlyStoppingRate=0\n",
		"Pruned: order 3 attempt 2 at step 6 (rung 1): loss 0.9 ranked 3 of 3, the cutoff was 0.5 (asha:minStep=2,"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}
