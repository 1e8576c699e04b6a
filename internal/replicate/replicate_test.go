package replicate

import (
	"math"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/fieldcheck"
	"github.com/mljob/mljob/internal/objective"
)

func TestSpecs(t *testing.T) {
	def := int64(42)
	tests := []struct {
		name  string
		spec  string
		seeds []fieldcheck.Seed
		skip  int
		want  []string
		err   string
	}{
		{name: "default field, present", spec: `{"x": 1, "seed": 7}`, seeds: SeedFields(nil),
			want: []string{`{"x": 1, "seed": 8}`, `{"x": 1, "seed": 9}`}},
		{name: "default field, absent: added from 0", spec: `{"x": 1}`, seeds: SeedFields(nil),
			want: []string{`{"x": 1, "seed": 1}`, `{"x": 1, "seed": 2}`}},
		{name: "declared default, after earlier replicates", spec: `{"seed": 3}`, skip: 2,
			seeds: []fieldcheck.Seed{{Path: "seed"}, {Path: "splitSeed", Default: &def}},
			want:  []string{`{"seed": 6, "splitSeed": 45}`, `{"seed": 7, "splitSeed": 46}`}},
		{name: "not a whole number", spec: `{"seed": 1.5}`, seeds: SeedFields(nil), err: "seed field seed is 1.5, not a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Specs([]byte(tt.spec), tt.seeds, tt.skip, 2)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Specs error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d specs, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if string(got[i]) != tt.want[i] {
					t.Errorf("spec %d = %s, want %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	v := func(f float64) *float64 { return &f }
	nan := math.NaN()
	minimize := objective.Objective{Name: "loss", Goal: objective.Minimize}
	maximize := objective.Objective{Name: "acc", Goal: objective.Maximize}
	sources := []Source{{JobID: 1, Rank: 1, Jobs: []int64{10, 11}}, {JobID: 2, Rank: 2, Jobs: []int64{20, 21}}}
	tests := []struct {
		name      string
		obj       objective.Objective
		values    map[int64]*float64
		holds     bool
		means     []float64
		ns        []int
		missing   []int
		rankByMin []int
	}{
		{name: "holds", obj: minimize,
			values: map[int64]*float64{1: v(1), 10: v(2), 11: v(3), 2: v(2), 20: v(4), 21: v(6)},
			holds:  true, means: []float64{2, 4}, ns: []int{3, 3}, missing: []int{0, 0}, rankByMin: []int{1, 2}},
		{name: "the winner was luck", obj: minimize,
			values: map[int64]*float64{1: v(1), 10: v(9), 11: v(8), 2: v(2), 20: v(3), 21: v(4)},
			holds:  false, means: []float64{6, 3}, ns: []int{3, 3}, missing: []int{0, 0}, rankByMin: []int{2, 1}},
		{name: "maximize, a replicate missing and a NaN", obj: maximize,
			values: map[int64]*float64{1: v(0.9), 10: v(0.7), 2: v(0.8), 20: &nan, 21: v(0.8)},
			holds:  true, means: []float64{0.8, 0.8}, ns: []int{2, 2}, missing: []int{1, 1}, rankByMin: []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarize(tt.obj, sources, tt.values)
			if s.Holds != tt.holds {
				t.Errorf("Holds = %v, want %v", s.Holds, tt.holds)
			}
			for i, c := range s.Configs {
				if math.Abs(c.Mean-tt.means[i]) > 1e-12 || c.N != tt.ns[i] || c.Missing != tt.missing[i] || c.RankByMean != tt.rankByMin[i] {
					t.Errorf("config %d = %+v, want mean %v, n %d, missing %d, rank by mean %d", i, c, tt.means[i], tt.ns[i], tt.missing[i], tt.rankByMin[i])
				}
			}
		})
	}
	// The sample standard deviation: 1, 2, 3 → 1.
	s := Summarize(minimize, sources[:1], map[int64]*float64{1: v(1), 10: v(2), 11: v(3)})
	if c := s.Configs[0]; c.SD != 1 || len(c.Values) != 3 || c.Jobs[0] != 1 {
		t.Errorf("config = %+v, want SD 1 over the source's value and two replicates'", c)
	}
}
