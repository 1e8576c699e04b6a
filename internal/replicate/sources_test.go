package replicate_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/replicate"
	"github.com/mljob/mljob/internal/testutil"
)

// seedRuns submits one job per loss (nil: the run reports none; project
// from projects, "p" when empty) and records a succeeded outcome of each.
func seedRuns(tb testing.TB, store *db.DB, losses []*float64, projects ...string) {
	tb.Helper()
	ctx := context.Background()
	jobs := make([]db.NewJob, len(losses))
	for i := range losses {
		project := "p"
		if i < len(projects) {
			project = projects[i]
		}
		jobs[i] = db.NewJob{Project: project, Script: "nn.py",
			Spec: []byte(`{"projectName":"` + project + `","scriptName":"nn.py","i":` + strconv.Itoa(i) + `}`)}
	}
	if _, err := store.SubmitJobs(ctx, jobs); err != nil {
		tb.Fatal(err)
	}
	for _, loss := range losses {
		c, err := store.ClaimOrder(ctx, "h", "0", "d")
		if err != nil {
			tb.Fatal(err)
		}
		o := db.Outcome{OrderID: c.Order.ID, Attempt: c.Order.Attempt, Succeeded: true, JSON: []byte(`{"status": 200}`)}
		if loss != nil {
			o.Loss, o.JSON = loss, []byte(`{"status": 200, "loss": `+strconv.FormatFloat(*loss, 'g', -1, 64)+`}`)
		}
		if _, err := store.RecordOutcome(ctx, o); err != nil {
			tb.Fatal(err)
		}
	}
}

func ptr(x float64) *float64 { return &x }

// TestSources: named jobs are ranked best first by their objective, as a
// sweep's runs are; a request that cannot be served is a *RequestError
// naming what is wrong.
func TestSources(t *testing.T) {
	store := testutil.MustOpenDB(t)
	// Jobs 1-3 of project p (losses 0.5, 0.2, 0.9), job 4 without a loss,
	// job 5 of project q.
	seedRuns(t, store, []*float64{ptr(0.5), ptr(0.2), ptr(0.9), nil, ptr(0.1)}, "p", "p", "p", "p", "q")
	tests := []struct {
		name string
		jobs []int64
		want []int64 // the picks' jobs, best first
		err  string
	}{
		{name: "ranked by loss", jobs: []int64{1, 2, 3}, want: []int64{2, 1, 3}},
		{name: "one job", jobs: []int64{3}, want: []int64{3}},
		{name: "unknown job", jobs: []int64{1, 99}, err: "no job 99 in the queue"},
		{name: "no value", jobs: []int64{1, 4}, err: "job 4 has no succeeded run with a value of its objective"},
		{name: "two projects", jobs: []int64{1, 5}, err: "the jobs named are of more than one project"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			picks, obj, sweepID, err := replicate.Sources(context.Background(), store, replicate.Request{Jobs: tt.jobs})
			if tt.err != "" {
				var re *replicate.RequestError
				if !errors.As(err, &re) || re.Msg != tt.err || re.Hint == "" {
					t.Fatalf("Sources(%v) = %v, want a RequestError %q with a hint", tt.jobs, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for i, p := range picks {
				got = append(got, p.JobID)
				if p.Rank != i+1 {
					t.Errorf("pick %d has rank %d", i, p.Rank)
				}
			}
			if !slices.Equal(got, tt.want) || obj != (objective.Objective{Name: "loss", Goal: objective.Minimize}) || sweepID != 0 {
				t.Errorf("Sources(%v) = %v by %v, sweep %d; want %v by loss:min, sweep 0", tt.jobs, got, obj, sweepID, tt.want)
			}
		})
	}
}

// TestSourcesUnknownSweep: an unknown sweep is db's error, for the caller
// to offer the known ones.
func TestSourcesUnknownSweep(t *testing.T) {
	store := testutil.MustOpenDB(t)
	seedRuns(t, store, []*float64{ptr(1)})
	_, _, _, err := replicate.Sources(context.Background(), store, replicate.Request{Sweep: "nope", Top: 1})
	if e := (*db.UnknownSweepError)(nil); !errors.As(err, &e) {
		t.Fatalf("Sources of an unknown sweep: %v, want a *db.UnknownSweepError", err)
	}
}

// TestSortRows: best first by each row's own goal, rows without a value
// last, equals in their order.
func TestSortRows(t *testing.T) {
	lossMin := objective.Objective{Name: "loss", Goal: objective.Minimize}
	accMax := objective.Objective{Name: "acc", Goal: objective.Maximize}
	tests := []struct {
		name   string
		obj    objective.Objective
		values []*float64
		want   []int64 // the rows' JobIDs after the sort (JobID i+1 holds values[i])
	}{
		{name: "minimize", obj: lossMin, values: []*float64{ptr(3), nil, ptr(1), ptr(2)}, want: []int64{3, 4, 1, 2}},
		{name: "maximize", obj: accMax, values: []*float64{ptr(0.1), ptr(0.9), nil, ptr(0.5)}, want: []int64{2, 4, 1, 3}},
		{name: "ties keep their order", obj: lossMin, values: []*float64{nil, ptr(1), ptr(1), nil}, want: []int64{2, 3, 1, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := make([]db.OutcomeRow, len(tt.values))
			for i, v := range tt.values {
				rows[i].JobID, rows[i].Objective, rows[i].ObjectiveValue = int64(i+1), tt.obj, v
			}
			replicate.SortRows(rows)
			var got []int64
			for _, r := range rows {
				got = append(got, r.JobID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("SortRows = %v, want %v", got, tt.want)
			}
		})
	}
}
