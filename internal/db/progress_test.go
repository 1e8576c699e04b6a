package db

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"testing"
	"time"
)

// TestSaveProgressRoundTrip: points, removals (one point, a thinning), the
// offset, lines and skips go in batch by batch and read back as written.
func TestSaveProgressRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := mustOpenPath(t, filepath.Join(t.TempDir(), "mljob.db"))
	mustSubmit(t, db, "p", 0)
	c := mustClaim(t, db, "gpu1")
	o := c.Order
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var pts []MetricPoint
	for i := range int64(20) {
		pts = append(pts, MetricPoint{Name: "loss", Idx: i, Step: float64(i), Value: float64(20 - i), At: at})
	}
	pts = append(pts, MetricPoint{Series: "fold1", Name: "loss", Idx: 0, Step: 0.5, Value: 7, At: at})
	err := db.SaveProgress(ctx, ProgressBatch{OrderID: o.ID, Attempt: o.Attempt, Offset: 100, Lines: 21,
		Skipped: map[string]int64{"step went backwards": 2}, Points: pts})
	if err != nil {
		t.Fatal(err)
	}
	// Thin the grid from 10 on to every 4th, keeping 19 and 11; drop 3.
	err = db.SaveProgress(ctx, ProgressBatch{OrderID: o.ID, Attempt: o.Attempt, Offset: 250, Lines: 1,
		Skipped: map[string]int64{"step went backwards": 1, "value not finite": 4},
		Ops:     []MetricOp{{Name: "loss", Idx: 3}, {Name: "loss", Stride: 4, From: 10, Keep: []int64{19, 11}}},
		Points:  []MetricPoint{{Name: "loss", Idx: 20, Step: 20, Value: 0}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Metrics(ctx, MetricFilter{OrderID: o.ID, Attempt: o.Attempt, Name: "loss"})
	if err != nil {
		t.Fatal(err)
	}
	var idx []int64
	for _, p := range got {
		if p.Series == "" {
			idx = append(idx, p.Idx)
		}
	}
	want := []int64{0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 14, 18, 19, 20}
	if len(got) != len(want)+1 || !equalInts(idx, want) {
		t.Fatalf("points %v (%d in all), want %v and fold1's", idx, len(got), want)
	}
	if last := got[len(want)-1]; !got[0].At.Equal(at) || last.Idx != 20 || last.At.IsZero() {
		t.Errorf("times %v, %v (point %d): want the one given, and the save's", got[0].At, last.At, last.Idx)
	}
	empty := ""
	if only, _ := db.Metrics(ctx, MetricFilter{OrderID: o.ID, Attempt: o.Attempt, Series: &empty}); len(only) != len(want) {
		t.Errorf("series \"\": %d points, want %d", len(only), len(want))
	}
	st, err := db.Progress(ctx, o.ID, o.Attempt)
	if err != nil {
		t.Fatal(err)
	}
	if st.Offset != 250 || st.Lines != 22 || len(st.Curves) != 2 {
		t.Fatalf("state %+v", st)
	}
	lc := st.Curves[0] // "" sorts first
	if lc.N != 21 || lc.LastStep != 20 || lc.Min.Idx != 20 || lc.Max.Idx != 0 || lc.Max.Value != 20 {
		t.Errorf("curve %+v", lc)
	}
	sums, err := db.ProgressSummaries(ctx, []int64{o.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 1 || sums[0].Lines != 22 || sums[0].Points != int64(len(got)) || sums[0].Offset != 250 ||
		!maps.Equal(sums[0].Skipped, map[string]int64{"step went backwards": 3, "value not finite": 4}) {
		t.Errorf("summaries %+v", sums)
	}
	if err := db.SaveProgress(ctx, ProgressBatch{OrderID: o.ID, Attempt: 2}); !errors.Is(err, ErrStaleAttempt) {
		t.Errorf("progress of an attempt never claimed: %v, want ErrStaleAttempt", err)
	}
	if st, err := db.Progress(ctx, o.ID, 2); err != nil || st.Offset != 0 || len(st.Curves) != 0 {
		t.Errorf("progress of an attempt with none: %+v, %v", st, err)
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestMigrateToProgress: a queue file at version 11, with an attempt in
// flight, opens at the new version with its rows as they were, and takes
// progress for that attempt.
func TestMigrateToProgress(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mljob.db")
	raw := mustCreateAtVersion(t, path, 11)
	const at = "2026-03-01T12:00:00.000000000Z"
	for _, q := range []string{
		`INSERT INTO jobs (id, project, script, spec, created_at) VALUES (1, 'p', 'nn.py', '{}', '` + at + `')`,
		`INSERT INTO orders (id, job_id, state, priority, attempt, host, slot, created_at, assigned_at, started_at)
			VALUES (1, 1, 'running', 0, 1, 'gpu1', '0', '` + at + `', '` + at + `', '` + at + `')`,
		`INSERT INTO attempts (order_id, attempt, host, slot, state, assigned_at, started_at)
			VALUES (1, 1, 'gpu1', '0', 'running', '` + at + `', '` + at + `')`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	db := mustOpenPath(t, path)
	steps, _ := parseSchema(schemaSQL)
	if _, version, err := readIDs(ctx, db.sql); err != nil || version != len(steps) || version < 12 {
		t.Fatalf("user_version = %d, %v; want %d", version, err, len(steps))
	}
	if o := mustOrder(t, db, 1); o.State != StateRunning || o.Host != "gpu1" {
		t.Errorf("order = %+v", o)
	}
	if st, err := db.Progress(ctx, 1, 1); err != nil || st.Offset != 0 {
		t.Fatalf("progress before any: %+v, %v", st, err)
	}
	err := db.SaveProgress(ctx, ProgressBatch{OrderID: 1, Attempt: 1, Offset: 40, Lines: 1,
		Points: []MetricPoint{{Name: "loss", Step: 1, Value: 0.5}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Metrics(ctx, MetricFilter{OrderID: 1, Attempt: 1})
	if err != nil || len(got) != 1 || got[0].Value != 0.5 || got[0].At.IsZero() {
		t.Fatalf("metrics %+v, %v", got, err)
	}
}
