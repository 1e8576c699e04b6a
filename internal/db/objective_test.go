package db

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mljob/mljob/internal/objective"
)

// mustRunObjectives submits one job per objective and records its
// Outcome line; job i gets id i+1.
func mustRunObjectives(tb testing.TB, db *DB, project string, objs []objective.Objective, lines []string) {
	tb.Helper()
	ctx := context.Background()
	for _, o := range objs {
		if _, err := db.Submit(ctx, []NewJob{{Project: project, Script: "nn.py", Spec: []byte(`{}`), Objective: o}},
			SubmitOptions{}); err != nil {
			tb.Fatal(err)
		}
	}
	for range objs {
		c := mustClaim(tb, db, "h")
		if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: true,
			JSON: []byte(lines[c.Order.JobID-1])}); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestObjectiveRanking(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	acc := objective.Objective{Name: "acc", Goal: objective.Maximize}
	mse := objective.Objective{Name: "val.mse", Goal: objective.Minimize}
	mustRunObjectives(t, db, "p", []objective.Objective{acc, mse, acc, {}, mse, acc, mse}, []string{
		`{"acc": 0.7, "loss": 9}`,      // 1
		`{"val": {"mse": 3}}`,          // 2
		`{"acc": 0.9, "loss": 1}`,      // 3
		`{"loss": 0.5}`,                // 4: the default, loss:min
		`{"val": {"mse": "1.5"}}`,      // 5: a numeric string, as loss is read
		`{"acc": "NaN"}`,               // 6: no value
		`{"val": {"mse": 2}, "x": []}`, // 7
	})
	rows, err := db.Outcomes(ctx, OutcomeFilter{JobID: 5})
	if err != nil || len(rows) != 1 || rows[0].Objective != mse || rows[0].ObjectiveValue == nil || *rows[0].ObjectiveValue != 1.5 {
		t.Fatalf("job 5: %+v, %v", rows, err)
	}
	if j, err := db.Job(ctx, 4); err != nil || j.Objective != objective.Default {
		t.Fatalf("job without an objective: %+v, %v; want %v", j.Objective, err, objective.Default)
	}
	for _, tc := range []struct {
		name string
		f    OutcomeFilter
		want []int64
	}{
		// Grouped by objective (acc:max, loss:min, val.mse:min), each best
		// first, the one without a value last in its group.
		{"objective", OutcomeFilter{Sort: "objective"}, []int64{3, 1, 6, 4, 5, 7, 2}},
		{"-objective", OutcomeFilter{Sort: "-objective"}, []int64{1, 3, 6, 4, 2, 7, 5}},
		// One best per objective: never ranked across them.
		{"best", OutcomeFilter{Best: true}, []int64{3, 4, 5}},
		{"best with limit", OutcomeFilter{Best: true, Limit: 1}, []int64{3}},
		{"worst", OutcomeFilter{Best: true, Sort: "-objective"}, []int64{1, 4, 2}},
	} {
		rows, err := db.Outcomes(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []int64
		for _, r := range rows {
			got = append(got, r.JobID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: jobs %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSubmitRefusesBadObjective(t *testing.T) {
	db := MustOpenDB(t)
	_, err := db.Submit(context.Background(), []NewJob{{Project: "p", Script: "nn.py", Spec: []byte(`{}`),
		Objective: objective.Objective{Name: "loss", Goal: "sideways"}}}, SubmitOptions{})
	if !errors.Is(err, objective.ErrBad) {
		t.Fatalf("err = %v, want objective.ErrBad", err)
	}
	if n := countRows(t, db, "jobs"); n != 0 {
		t.Errorf("%d jobs stored after a refused submit", n)
	}
}

// TestMigrateToObjective: outcomes recorded before objectives rank by
// their loss, and their jobs read as loss:min.
func TestMigrateToObjective(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mljob.db")
	raw := mustCreateAtVersion(t, path, 12)
	const at = "2026-03-01T12:00:00.000000000Z"
	for _, q := range []string{
		`INSERT INTO jobs (id, project, script, spec, created_at) VALUES (1, 'p', 'nn.py', '{}', '` + at + `'), (2, 'p', 'nn.py', '{}', '` + at + `')`,
		`INSERT INTO orders (id, job_id, state, priority, attempt, created_at) VALUES (1, 1, 'succeeded', 0, 1, '` + at + `'), (2, 2, 'succeeded', 0, 1, '` + at + `')`,
		`INSERT INTO attempts (order_id, attempt, host, slot, state, assigned_at) VALUES (1, 1, 'h', '0', 'succeeded', '` + at + `'), (2, 1, 'h', '0', 'succeeded', '` + at + `')`,
		`INSERT INTO outcomes (order_id, attempt, job_id, succeeded, loss, created_at) VALUES (1, 1, 1, 1, 2.5, '` + at + `'), (2, 1, 2, 1, 0.5, '` + at + `')`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	db := mustOpenPath(t, path)
	rows, err := db.Outcomes(ctx, OutcomeFilter{Sort: "objective"})
	if err != nil || len(rows) != 2 || rows[0].JobID != 2 || rows[0].Objective != objective.Default ||
		rows[0].ObjectiveValue == nil || math.Abs(*rows[0].ObjectiveValue-0.5) > 0 {
		t.Fatalf("rows after migration: %+v, %v", rows, err)
	}
}
