package db

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
)

// TestMetricCurves: every (series, name) an attempt stored, once each, in
// order; none for an attempt without points.
func TestMetricCurves(t *testing.T) {
	ctx := context.Background()
	db := mustOpenPath(t, filepath.Join(t.TempDir(), "mljob.db"))
	mustSubmit(t, db, "p", 0)
	o := mustClaim(t, db, "gpu1").Order
	var pts []MetricPoint
	for _, s := range []string{"fold2", "", "fold1"} {
		for _, n := range []string{"valLoss", "loss", "lr"} {
			for i := range int64(5) {
				pts = append(pts, MetricPoint{Series: s, Name: n, Idx: i, Step: float64(i), Value: 1})
			}
		}
	}
	if err := db.SaveProgress(ctx, ProgressBatch{OrderID: o.ID, Attempt: o.Attempt, Points: pts}); err != nil {
		t.Fatal(err)
	}
	got, err := db.MetricCurves(ctx, o.ID, o.Attempt)
	if err != nil {
		t.Fatal(err)
	}
	var want []MetricCurve
	for _, s := range []string{"", "fold1", "fold2"} {
		for _, n := range []string{"loss", "lr", "valLoss"} {
			want = append(want, MetricCurve{s, n})
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("curves %v, want %v", got, want)
	}
	if none, err := db.MetricCurves(ctx, o.ID, 2); err != nil || len(none) != 0 {
		t.Errorf("curves of an attempt with none: %v, %v", none, err)
	}
}
