package report

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/testutil"
)

// TestImportance checks eta squared on small cases worked by hand.
func TestImportance(t *testing.T) {
	num := Param{Path: "x", Numeric: true}
	cat := Param{Path: "c"}
	pts := func(vals []float64, xs ...[]any) []Point {
		out := make([]Point, len(vals))
		for i, v := range vals {
			out[i] = Point{Value: v}
			for _, x := range xs {
				out[i].Values = append(out[i].Values, x[i])
			}
		}
		return out
	}
	tests := []struct {
		name   string
		params []Param
		points []Point
		want   map[string]float64 // eta squared by parameter
		first  string
	}{
		{
			// Two categories, means 1 and 3 around a grand mean of 2: the
			// bins explain all of it.
			name: "category explains all", params: []Param{cat},
			points: pts([]float64{1, 1, 3, 3}, []any{"a", "a", "b", "b"}),
			want:   map[string]float64{"c": 1}, first: "c",
		},
		{
			// Bin means equal: nothing explained.
			name: "category explains nothing", params: []Param{cat},
			points: pts([]float64{1, 3, 1, 3}, []any{"a", "a", "b", "b"}),
			want:   map[string]float64{"c": 0}, first: "c",
		},
		{
			// x's two values split 1,2 | 4,5: means 1.5 and 4.5 around 3;
			// between = 4·2.25 = 9, total = 4+1+1+4 = 10. c splits
			// 1,4 | 2,5: means 2.5 and 3.5, between = 4·0.25 = 1.
			name: "number over category", params: []Param{cat, num},
			points: pts([]float64{1, 2, 4, 5}, []any{"a", "b", "a", "b"}, []any{0.1, 0.1, 0.9, 0.9}),
			want:   map[string]float64{"x": 0.9, "c": 0.1}, first: "x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := importance(tt.params, tt.points)
			if len(got) != len(tt.params) || got[0].Param != tt.first {
				t.Fatalf("importance %+v, want %s first of %d", got, tt.first, len(tt.params))
			}
			var sum float64
			for _, m := range got {
				if math.Abs(m.EtaSq-tt.want[m.Param]) > 1e-12 {
					t.Errorf("%s: eta² %g, want %g", m.Param, m.EtaSq, tt.want[m.Param])
				}
				sum += m.Share
			}
			if sum != 0 && math.Abs(sum-1) > 1e-12 {
				t.Errorf("shares sum to %g, want 1", sum)
			}
		})
	}
}

// TestBinOfQuantiles checks that a number with many values is cut into
// maxBins bins of equal count, equal values together.
func TestBinOfQuantiles(t *testing.T) {
	var points []Point
	for i := range 20 {
		points = append(points, Point{Values: []any{float64(i * i)}})
	}
	points = append(points, Point{Values: []any{0.0}}) // a tie with the first
	bins := binOf(Param{Path: "x", Numeric: true}, 0, points)
	counts := map[int]int{}
	for _, b := range bins {
		counts[b]++
	}
	if len(counts) != maxBins {
		t.Errorf("bins %v, want %d of them", counts, maxBins)
	}
	if bins[0] != bins[20] {
		t.Errorf("equal values in bins %d and %d", bins[0], bins[20])
	}
	if !slices.IsSorted(bins[:20]) {
		t.Errorf("bins %v do not follow the values' order", bins[:20])
	}
}

// TestSearchSections builds the page of the synthetic search from the
// queue: the history follows the order the outcomes were recorded in, its
// best-so-far line never gets worse, and driver ranks first by importance.
func TestSearchSections(t *testing.T) {
	store := testutil.MustOpenDB(t)
	runs := searchRuns(30)
	order := shuffled(len(runs), 3)
	ids := mustSeedSearch(t, store, runs, order)
	rows, err := store.Outcomes(context.Background(), db.OutcomeFilter{Project: searchProject})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Build(rows, Options{Project: searchProject, Now: reportTime})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Groups) != 1 {
		t.Fatalf("%d groups, want 1", len(r.Groups))
	}
	c := r.Groups[0].chart
	if len(c.History) != len(runs) {
		t.Fatalf("history of %d runs, want %d", len(c.History), len(runs))
	}
	o := objective.Objective{Name: "score", Goal: objective.Minimize}
	best := math.Inf(1)
	for k, h := range c.History {
		if want := ids[order[k]]; h.JobID != want {
			t.Errorf("run %d to end is job %d, want job %d", k+1, h.JobID, want)
		}
		if o.Beats(h.Value, best) {
			best = h.Value
		}
		if h.Best != best || h.N != k+1 {
			t.Errorf("history point %d: %+v, want best so far %g", k, h, best)
		}
	}
	imp := r.Groups[0].Importance
	if len(imp) != 3 || imp[0].Param != "driver" {
		t.Fatalf("importance %+v, want driver first of 3", imp)
	}
	if imp[0].Share < 2*imp[1].Share {
		t.Errorf("driver's share %g is not clearly above %s's %g", imp[0].Share, imp[1].Param, imp[1].Share)
	}
}
