package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/prune"
)

var asha = prune.Rule{Kind: "asha", MinStep: 1, Reduction: 3}

// mustSubmitStudy queues n jobs of one sweep-less study (project p,
// objective valLoss:min) with the asha rule, and claims and starts each.
func mustSubmitStudy(tb testing.TB, db *DB, project string, n int) []*Claim {
	tb.Helper()
	ctx := context.Background()
	jobs := make([]NewJob, n)
	for i := range jobs {
		jobs[i] = NewJob{Project: project, Script: "nn.py", Spec: []byte(`{"projectName":"` + project + `"}`),
			Objective: objective.Objective{Name: "valLoss", Goal: objective.Minimize}, Pruner: asha}
	}
	if _, err := db.SubmitJobs(ctx, jobs); err != nil {
		tb.Fatal(err)
	}
	var out []*Claim
	for range n {
		c := mustClaim(tb, db, "h")
		if err := db.MarkRunning(ctx, c.Order.ID, c.Order.Attempt, "/w/runs/x", 1); err != nil {
			tb.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// judgeWith returns a judge that records value at rung and prunes when
// prune is set, after reading the competing values at rung into *seen.
func judgeWith(rung int, value float64, doPrune bool, seen *[]float64) func(func(int) ([]float64, error)) (prune.Decision, error) {
	return func(competing func(int) ([]float64, error)) (prune.Decision, error) {
		vs, err := competing(rung)
		if err != nil {
			return prune.Decision{}, err
		}
		*seen = vs
		return prune.Decision{Prune: doPrune, Rung: rung, Step: 3, Value: value, Cutoff: 0.5, Rank: 2, Of: 2,
			Records: []prune.RungValue{{Rung: rung, Value: value}}}, nil
	}
}

func reasonOf(d prune.Decision) string { return "pruned at rung" }

// TestJudgeRung: rungs are stored and read back as the competing values of
// the same study only, a verdict prunes the order, its outcome ends the
// attempt pruned, and an order that moved on is not judged.
func TestJudgeRung(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	cs := mustSubmitStudy(t, db, "p", 3)
	other := mustSubmitStudy(t, db, "q", 1) // another study: never compared
	var seen []float64

	if _, pruned, err := db.JudgeRung(ctx, Pruning{OrderID: other[0].Order.ID, Attempt: 1, Series: ""}, reasonOf, judgeWith(0, 0.1, false, &seen)); err != nil || pruned {
		t.Fatalf("judge other study: pruned %v, %v", pruned, err)
	}
	if _, pruned, err := db.JudgeRung(ctx, Pruning{OrderID: cs[0].Order.ID, Attempt: 1}, reasonOf, judgeWith(0, 0.4, false, &seen)); err != nil || pruned || len(seen) != 0 {
		t.Fatalf("first run: pruned %v, saw %v, %v", pruned, seen, err)
	}
	// Another series of the same study is not compared either.
	if _, _, err := db.JudgeRung(ctx, Pruning{OrderID: cs[2].Order.ID, Attempt: 1, Series: "fold1"}, reasonOf, judgeWith(0, 0.2, false, &seen)); err != nil || len(seen) != 0 {
		t.Fatalf("other series: saw %v, %v", seen, err)
	}
	d, pruned, err := db.JudgeRung(ctx, Pruning{OrderID: cs[1].Order.ID, Attempt: 1}, reasonOf, judgeWith(0, 0.9, true, &seen))
	if err != nil || !pruned || !d.Prune || !slices.Equal(seen, []float64{0.4}) {
		t.Fatalf("second run: decision %+v pruned %v, saw %v, %v", d, pruned, seen, err)
	}
	if o := orderByID(t, db, cs[1].Order.ID); o.State != StatePruned || o.LastError != "pruned at rung" || o.FinishedAt.IsZero() {
		t.Fatalf("pruned order = %+v", o)
	}
	st, err := db.PruneState(ctx, cs[1].Order.ID, 1, "valLoss")
	if err != nil || st.NextRung != 1 || !st.HasSeries || st.Series != "" || !st.Pruned {
		t.Fatalf("PruneState = %+v, %v", st, err)
	}
	recs, err := db.Prunes(ctx, cs[1].Order.ID)
	if err != nil || len(recs) != 1 || recs[0].Rung != 0 || recs[0].Value != 0.9 || recs[0].Cutoff != 0.5 ||
		recs[0].Rank != 2 || recs[0].Of != 2 || recs[0].Rule != asha {
		t.Fatalf("Prunes = %+v, %v", recs, err)
	}

	// Judged again (a second dispatcher, a replayed point): nothing new.
	if _, pruned, err := db.JudgeRung(ctx, Pruning{OrderID: cs[1].Order.ID, Attempt: 1}, reasonOf, judgeWith(1, 0.9, true, &seen)); err != nil || pruned {
		t.Fatalf("judging a pruned order: pruned %v, %v", pruned, err)
	}
	if n := countRows(t, db, "prune_rungs"); n != 4 {
		t.Errorf("%d rungs stored, want 4", n)
	}

	// Its run's outcome ends the attempt pruned; the order stays pruned.
	if _, err := db.RecordOutcome(ctx, Outcome{OrderID: cs[1].Order.ID, Attempt: 1, Error: "pruned at rung (killed)"}); err != nil {
		t.Fatal(err)
	}
	if o := orderByID(t, db, cs[1].Order.ID); o.State != StatePruned {
		t.Errorf("order after its outcome: %s", o.State)
	}
	if st := attemptState(t, db, cs[1].Order.ID, 1); st != StatePruned {
		t.Errorf("attempt after its outcome: %s", st)
	}

	// retry skips pruned orders unless asked.
	got, err := db.RetryOrders(ctx, Selection{Project: "p"}, StateFailed, StateCancelled)
	if err != nil || len(got) != 0 {
		t.Fatalf("retry failed/cancelled = %v, %v", got, err)
	}
	got, err = db.RetryOrders(ctx, Selection{Project: "p"}, StatePruned)
	if err != nil || len(got) != 1 || got[0].ID != cs[1].Order.ID {
		t.Fatalf("retry pruned = %v, %v", got, err)
	}
	if _, err := db.RetryOrders(ctx, Selection{Project: "p"}, StateRunning); err == nil {
		t.Error("retrying running orders was not refused")
	}
}

func attemptState(tb testing.TB, db *DB, orderID int64, attempt int) OrderState {
	tb.Helper()
	var s OrderState
	if err := db.sql.QueryRow(`SELECT state FROM attempts WHERE order_id = ? AND attempt = ?`, orderID, attempt).Scan(&s); err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestPruneAdopted: a pruned order whose run still goes on is adopted
// (so that its run is killed), and Prune leaves an order that moved on.
func TestPruneAdopted(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	cs := mustSubmitStudy(t, db, "p", 2)
	pruned, err := db.Prune(ctx, Pruning{OrderID: cs[0].Order.ID, Attempt: 1, Decision: prune.Decision{Rung: -1, Value: math.NaN(), Cutoff: math.NaN()}, Reason: "median"})
	if err != nil || !pruned {
		t.Fatalf("Prune = %v, %v", pruned, err)
	}
	recs, err := db.Prunes(ctx, cs[0].Order.ID)
	if err != nil || len(recs) != 1 || recs[0].Rung != -1 || !math.IsNaN(recs[0].Value) || !math.IsNaN(recs[0].Cutoff) {
		t.Fatalf("Prunes = %+v, %v", recs, err)
	}
	if _, err := db.RecordOutcome(ctx, Outcome{OrderID: cs[1].Order.ID, Attempt: 1, Succeeded: true}); err != nil {
		t.Fatal(err)
	}
	if pruned, err := db.Prune(ctx, Pruning{OrderID: cs[1].Order.ID, Attempt: 1}); err != nil || pruned {
		t.Fatalf("Prune of a succeeded order = %v, %v", pruned, err)
	}
	adopted, err := db.AdoptOrders(ctx, "other-dispatcher", "h", time.Now())
	if err != nil || len(adopted) != 1 || adopted[0].Order.ID != cs[0].Order.ID || adopted[0].Order.State != StatePruned ||
		adopted[0].Job.Pruner != asha {
		t.Fatalf("AdoptOrders = %+v, %v", adopted, err)
	}
}

// TestStudyCurves: the median rule's curves are the succeeded attempts'
// of the study, one map each, empty for one without the curve.
func TestStudyCurves(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	cs := mustSubmitStudy(t, db, "p", 3)
	at := time.Now()
	save := func(c *Claim, pts ...MetricPoint) {
		t.Helper()
		for i := range pts {
			pts[i].Name, pts[i].Idx, pts[i].At = "valLoss", int64(i), at
		}
		if err := db.SaveProgress(ctx, ProgressBatch{OrderID: c.Order.ID, Attempt: 1, Offset: 10, Lines: int64(len(pts)), Points: pts}); err != nil {
			t.Fatal(err)
		}
	}
	save(cs[0], MetricPoint{Step: 1, Value: 0.5}, MetricPoint{Step: 2, Value: 0.4}, MetricPoint{Step: 2, Value: 0.9}) // a step printed twice: the first counts
	save(cs[1], MetricPoint{Step: 1, Value: 0.7})
	for _, c := range cs[:2] {
		if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: true}); err != nil {
			t.Fatal(err)
		}
	}
	curves, err := db.StudyCurves(ctx, cs[2].Order.ID, "", "valLoss", nil)
	one, two := AttemptRef{cs[0].Order.ID, 1}, AttemptRef{cs[1].Order.ID, 1}
	if err != nil || len(curves) != 2 || curves[one][2] != 0.4 || curves[two][1] != 0.7 || len(curves[two]) != 1 {
		t.Fatalf("StudyCurves = %v, %v", curves, err)
	}
	if curves, err := db.StudyCurves(ctx, cs[2].Order.ID, "fold0", "valLoss", nil); err != nil || len(curves) != 2 || len(curves[one]) != 0 {
		t.Fatalf("StudyCurves of another series = %v, %v", curves, err)
	}
	// What the caller has read is not read again.
	if again, err := db.StudyCurves(ctx, cs[2].Order.ID, "", "valLoss", map[AttemptRef]map[float64]float64{one: nil}); err != nil ||
		len(again) != 1 || again[two] == nil {
		t.Fatalf("StudyCurves with one known = %v, %v", again, err)
	}
}

// TestMigrateToPruned: version 14 rebuilds orders and attempts for the
// pruned state; every row, reference and index survives, and foreign keys
// are enforced again afterwards.
func TestMigrateToPruned(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mljob.db")
	raw := mustCreateAtVersion(t, path, 13)
	const at = "2026-03-01T12:00:00.000000000Z"
	for _, q := range []string{
		`INSERT INTO jobs (id, project, script, spec, created_at) VALUES (1, 'p', 'nn.py', '{}', '` + at + `'), (2, 'p', 'nn.py', '{}', '` + at + `')`,
		`INSERT INTO orders (id, job_id, state, priority, attempt, host, created_at, infra_failures, sched_task) VALUES (1, 1, 'succeeded', 3, 2, 'h', '` + at + `', 1, '7_1'), (2, 2, 'unassigned', 0, 0, NULL, '` + at + `', 0, NULL)`,
		`INSERT INTO attempts (order_id, attempt, host, slot, state, assigned_at, abandoned) VALUES (1, 1, 'h', '0', 'failed', '` + at + `', 1), (1, 2, 'h', '1', 'succeeded', '` + at + `', 0)`,
		`INSERT INTO outcomes (order_id, attempt, job_id, succeeded, loss, created_at) VALUES (1, 2, 1, 1, 2.5, '` + at + `')`,
		`INSERT INTO metrics (order_id, attempt, series, name, idx, step, value, at) VALUES (1, 2, '', 'loss', 0, 1, 0.5, '` + at + `')`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	before := dumpTables(t, raw)
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	db := mustOpenPath(t, path)
	if after := dumpTables(t, db.sql); !slices.Equal(before, after) {
		t.Fatalf("rows changed:\nbefore %v\nafter  %v", before, after)
	}
	if o := orderByID(t, db, 1); o.Attempt != 2 || o.InfraFailures != 1 {
		t.Errorf("order 1 after migration = %+v", o)
	}
	var idx int
	if err := db.sql.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND name IN
		('orders_claim', 'orders_state', 'orders_job', 'attempts_abandoned')`).Scan(&idx); err != nil || idx != 4 {
		t.Errorf("indexes after migration: %d, %v", idx, err)
	}
	// Foreign keys are on again, on every connection.
	for range 3 {
		_, err := db.sql.ExecContext(ctx, `INSERT INTO attempts (order_id, attempt, state) VALUES (99, 1, 'running')`)
		if err == nil {
			t.Fatal("an attempt of a missing order was stored after the migration")
		}
	}
	if _, err := db.sql.ExecContext(ctx, `UPDATE orders SET state = 'pruned' WHERE id = 2`); err != nil {
		t.Errorf("pruned refused: %v", err)
	}
	if _, err := db.sql.ExecContext(ctx, `UPDATE orders SET state = 'bogus' WHERE id = 2`); err == nil {
		t.Error("a bogus state was stored")
	}
}

// dumpTables renders orders, attempts, outcomes and metrics row by row.
func dumpTables(tb testing.TB, q *sql.DB) []string {
	tb.Helper()
	var out []string
	for _, table := range []string{"orders", "attempts", "outcomes", "metrics"} {
		rows, err := q.Query(`SELECT * FROM ` + table + ` ORDER BY 1, 2`)
		if err != nil {
			tb.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			row := table
			for i, c := range cols {
				row += fmt.Sprintf(" %s=%v", c, vals[i])
			}
			out = append(out, row)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}
