package prune

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/objective"
)

var nan = math.NaN()

// sameFloat is equality with NaN equal to NaN.
func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

func TestParseFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rule
		err  string // a part of the error; "" for none
	}{
		{in: "asha", want: Rule{Kind: "asha", MinStep: 1, Reduction: 3}},
		{in: "asha:minStep=2,reduction=4", want: Rule{Kind: "asha", MinStep: 2, Reduction: 4}},
		{in: "asha:minStep=0.5, minEarlyStoppingRate=1,series=fold0", want: Rule{Kind: "asha", MinStep: 0.5, Reduction: 3, MinEarlyStoppingRate: 1, Series: "fold0"}},
		{in: "median", want: Rule{Kind: "median", StartupRuns: 5}},
		{in: "median:startupRuns=0,warmupSteps=2", want: Rule{Kind: "median", WarmupSteps: 2}},
		{in: "none", want: Rule{}},
		{in: "", err: "names no rule"},
		{in: "hyperband", err: `unknown rule "hyperband"; want asha, median or none`},
		{in: "none:reduction=2", err: "none takes no settings"},
		{in: "asha:startupRuns=5", err: `asha has no setting "startupRuns"; want minStep, reduction, minEarlyStoppingRate, series, metric`},
		{in: "median:reduction=2", err: `median has no setting "reduction"; want startupRuns, warmupSteps, series, metric`},
		{in: "asha:reduction", err: `"reduction" is not KEY=VALUE`},
		{in: "asha:reduction=2.5", err: `reduction="2.5" is not a whole number`},
		{in: "asha:minStep=NaN", err: `minStep="NaN" is not a number`},
		{in: "asha:minStep=0x10", err: `minStep="0x10" is not a number`},
		{in: "asha:reduction=1", err: "reduction 1 must be 2 or more"},
		{in: "asha:minStep=-1", err: "minStep -1 must be a number above 0"},
		{in: "asha:minEarlyStoppingRate=-1", err: "minEarlyStoppingRate -1 must be 0 or more"},
		{in: "median:startupRuns=-2", err: "startupRuns -2 must be 0 or more"},
		{in: "median:warmupSteps=-1", err: "warmupSteps -1 must be a number, 0 or more"},
		{in: "asha:reduction=2,reduction=3", err: "reduction given twice"},
		{in: "asha:series=", err: "series is empty"},
		{in: "median:metric=valLoss,series=fold1", want: Rule{Kind: "median", StartupRuns: 5, Series: "fold1", Metric: "valLoss"}},
		{in: "asha:metric=", err: "metric is empty"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseFlag(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrBad) {
					t.Fatalf("ParseFlag(%q) = %+v, %v; want an ErrBad error containing %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseFlag(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			back, err := ParseFlag(got.String())
			if err != nil || back != got {
				t.Errorf("ParseFlag(%q) (String of it) = %+v, %v; want %+v", got.String(), back, err, got)
			}
		})
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		r    Rule
		want string
	}{
		{Rule{}, "none"},
		{Rule{Kind: "asha"}, "asha:minStep=1,reduction=3,minEarlyStoppingRate=0"},
		{Rule{Kind: "asha", MinStep: 0.5, Reduction: 2, MinEarlyStoppingRate: 1, Series: "f0"}, "asha:minStep=0.5,reduction=2,minEarlyStoppingRate=1,series=f0"},
		{Rule{Kind: "median", StartupRuns: 5}, "median:startupRuns=5,warmupSteps=0"},
		{Rule{Kind: "asha", Metric: "valLoss"}, "asha:minStep=1,reduction=3,minEarlyStoppingRate=0,metric=valLoss"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Rule
		err  string
	}{
		{"none", Rule{}, ""},
		{"asha zero settings are defaults", Rule{Kind: "asha"}, ""},
		{"median startup 0", Rule{Kind: "median"}, ""},
		{"settings without rule", Rule{Reduction: 3}, "settings without a rule"},
		{"unknown rule", Rule{Kind: "ASHA"}, `unknown rule "ASHA"`},
		{"asha given median's", Rule{Kind: "asha", StartupRuns: 5}, "startupRuns and warmupSteps are median's"},
		{"median given asha's", Rule{Kind: "median", Reduction: 3}, "are asha's"},
		{"infinite minStep", Rule{Kind: "asha", MinStep: math.Inf(1)}, "minStep +Inf must be a number above 0"},
		{"NaN warmup", Rule{Kind: "median", WarmupSteps: nan}, "warmupSteps NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.Validate()
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestJudged(t *testing.T) {
	if got := (Rule{Kind: "asha"}).Judged("cvMse"); got != "cvMse" {
		t.Errorf("without metric: Judged = %q, want the objective cvMse", got)
	}
	if got := (Rule{Kind: "asha", Metric: "valLoss"}).Judged("cvMse"); got != "valLoss" {
		t.Errorf("with metric: Judged = %q, want valLoss", got)
	}
}

// TestRuleJSON keeps the queue's format: the keys the lead's jobs.pruner
// column holds.
func TestRuleJSON(t *testing.T) {
	r := Rule{Kind: "asha", MinStep: 1, Reduction: 3, Series: "fold0"}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"rule":"asha","minStep":1,"reduction":3,"series":"fold0"}`; string(b) != want {
		t.Fatalf("json %s, want %s", b, want)
	}
	var back Rule
	if err := json.Unmarshal(b, &back); err != nil || back != r {
		t.Fatalf("read back %+v, %v", back, err)
	}
}

func TestRungStep(t *testing.T) {
	r := Rule{Kind: "asha", MinStep: 2, Reduction: 3, MinEarlyStoppingRate: 1}
	for k, want := range []float64{6, 18, 54, 162} {
		if got := r.RungStep(k); got != want {
			t.Errorf("RungStep(%d) = %v, want %v", k, got, want)
		}
	}
	if got := (Rule{Kind: "asha"}).RungStep(2); got != 9 {
		t.Errorf("defaults: RungStep(2) = %v, want 9", got)
	}
}

func TestASHA(t *testing.T) {
	eta2 := Rule{Kind: "asha", MinStep: 1, Reduction: 2}
	rungs := func(m map[int][]float64) func(int) ([]float64, error) {
		return func(k int) ([]float64, error) { return m[k], nil }
	}
	for _, tc := range []struct {
		name  string
		r     Rule
		goal  objective.Goal
		next  int
		step  float64
		value float64
		other map[int][]float64
		want  Decision
	}{
		{name: "below the first rung decides nothing", r: Rule{Kind: "asha", MinStep: 2, Reduction: 2}, next: 0, step: 1, value: 5,
			want: Decision{Rung: -1, Step: 1, Value: 5, Cutoff: nan}},
		{name: "NaN below a rung is not pruned", r: Rule{Kind: "asha", MinStep: 2, Reduction: 2}, step: 1, value: nan,
			want: Decision{Rung: -1, Step: 1, Value: nan, Cutoff: nan}},
		{name: "NaN at a rung is pruned, not recorded", r: eta2, step: 1, value: nan,
			want: Decision{Prune: true, Rung: 0, Step: 1, Value: nan, Cutoff: nan}},
		// Alone at rung 0: values {5}, idx = 1/2-1 = -1 → 0, cutoff 5; passes.
		{name: "first run passes its rung", r: eta2, step: 1, value: 5,
			want: Decision{Rung: 0, Step: 1, Value: 5, Cutoff: 5, Rank: 1, Of: 1, Records: []RungValue{{0, 5}}}},
		// Rung 0 (step 1) holds 3 and 4 of others: {3,4,5}, idx 3/2-1 = 0, cutoff 3: 5 > 3 pruned.
		{name: "worse than the best of three", r: eta2, step: 1, value: 5, other: map[int][]float64{0: {3, 4}},
			want: Decision{Prune: true, Rung: 0, Step: 1, Value: 5, Cutoff: 3, Rank: 3, Of: 3, Records: []RungValue{{0, 5}}}},
		// {3,4,2,5}: idx 4/2-1 = 1, sorted 2,3,4,5 → cutoff 3; 3 <= 3 survives (a tie).
		{name: "a tie with the cutoff survives", r: eta2, step: 1, value: 3, other: map[int][]float64{0: {4, 2, 5}},
			want: Decision{Rung: 0, Step: 1, Value: 3, Cutoff: 3, Rank: 2, Of: 4, Records: []RungValue{{0, 3}}}},
		// Maximize: {3,4,2,5,3}, idx 5/2-1 = 1, sorted[-2] = 4; 3 < 4 pruned; rank: 4 and 5 better → 3.
		{name: "maximize", r: eta2, goal: objective.Maximize, step: 1, value: 3, other: map[int][]float64{0: {4, 2, 5, 3}},
			want: Decision{Prune: true, Rung: 0, Step: 1, Value: 3, Cutoff: 4, Rank: 3, Of: 5, Records: []RungValue{{0, 3}}}},
		// Step 5 passes rungs 0 (1), 1 (2), 2 (4), judged with the value at step 5 each time:
		// rung 0 {9, 1} cutoff 1 passes; rung 1 {2, 1} cutoff 1 passes; rung 2 {0.5, 1} cutoff 0.5: pruned.
		{name: "one report passes several rungs", r: eta2, step: 5, value: 1, other: map[int][]float64{0: {9}, 1: {2}, 2: {0.5}},
			want: Decision{Prune: true, Rung: 2, Step: 5, Value: 1, Cutoff: 0.5, Rank: 2, Of: 2, Records: []RungValue{{0, 1}, {1, 1}, {2, 1}}}},
		// Rungs 0 and 1 done; next 2 is at step 4 (η=2): step 4 reaches it, step 8 would reach 3.
		{name: "starts at the next rung", r: eta2, next: 2, step: 4, value: 7, other: map[int][]float64{0: {0}, 2: {8}},
			want: Decision{Rung: 2, Step: 4, Value: 7, Cutoff: 7, Rank: 1, Of: 2, Records: []RungValue{{2, 7}}}},
		// η=3, min early stopping rate 1: rung 0 at step 3.
		{name: "min early stopping rate", r: Rule{Kind: "asha", MinEarlyStoppingRate: 1}, step: 2.9, value: 7,
			want: Decision{Rung: -1, Step: 2.9, Value: 7, Cutoff: nan}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			goal := tc.goal
			if goal == "" {
				goal = objective.Minimize
			}
			got, err := tc.r.ASHA(goal, tc.next, tc.step, tc.value, rungs(tc.other))
			if err != nil {
				t.Fatal(err)
			}
			if !sameDecision(got, tc.want) {
				t.Fatalf("ASHA = %+v\nwant   %+v", got, tc.want)
			}
		})
	}
}

func TestASHAErrors(t *testing.T) {
	r := Rule{Kind: "asha"}
	none := func(int) ([]float64, error) { return nil, nil }
	if _, err := r.ASHA(objective.Minimize, 0, math.Inf(1), 1, none); err == nil {
		t.Error("an infinite step: no error")
	}
	if _, err := r.ASHA(objective.Minimize, 0, nan, 1, none); err == nil {
		t.Error("a NaN step: no error")
	}
	boom := errors.New("queue gone")
	_, err := r.ASHA(objective.Minimize, 0, 1, 1, func(int) ([]float64, error) { return nil, boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "rung 0") {
		t.Errorf("competing's error came back as %v", err)
	}
}

func TestMedian(t *testing.T) {
	m0 := Rule{Kind: "median"}
	pts := func(vs ...float64) []Point { // steps 0, 1, 2, ...
		c := make([]Point, len(vs))
		for i, v := range vs {
			c[i] = Point{Step: float64(i), Value: v}
		}
		return c
	}
	done := []map[float64]float64{{0: 1, 1: 2}, {0: 3, 1: 4}, {0: 5}}
	for _, tc := range []struct {
		name      string
		r         Rule
		goal      objective.Goal
		curve     []Point
		completed []map[float64]float64
		want      Decision
	}{
		{name: "no completed run", r: m0, curve: pts(9), want: Decision{Rung: -1, Value: nan, Cutoff: nan}},
		{name: "fewer completed than startup", r: Rule{Kind: "median", StartupRuns: 4}, curve: pts(9), completed: done,
			want: Decision{Rung: -1, Value: nan, Cutoff: nan}},
		{name: "warmup", r: Rule{Kind: "median", WarmupSteps: 2}, curve: pts(9, 9), completed: done,
			want: Decision{Rung: -1, Step: 1, Value: nan, Cutoff: nan}},
		// Step 0: values 1, 3, 5 → median 3; best 4 > 3 pruned.
		{name: "worse than the median", r: m0, curve: pts(4), completed: done,
			want: Decision{Prune: true, Rung: -1, Value: 4, Cutoff: 3, Of: 3}},
		{name: "a tie is kept", r: m0, curve: pts(3), completed: done,
			want: Decision{Rung: -1, Value: 3, Cutoff: 3, Of: 3}},
		// Step 1: values 2, 4 (the third has no step 1) → 3; best over its steps is 2.5 (step 0).
		{name: "best over the run's steps, runs without the step ignored", r: m0, curve: pts(2.5, 9), completed: done,
			want: Decision{Rung: -1, Step: 1, Value: 2.5, Cutoff: 3, Of: 2}},
		{name: "maximize", r: m0, goal: objective.Maximize, curve: pts(2.5, 2.9), completed: done,
			want: Decision{Prune: true, Rung: -1, Step: 1, Value: 2.9, Cutoff: 3, Of: 2}},
		{name: "all NaN is pruned", r: m0, curve: pts(nan, nan), completed: done,
			want: Decision{Prune: true, Rung: -1, Step: 1, Value: nan, Cutoff: nan}},
		{name: "NaNs skipped in the best", r: m0, curve: pts(nan, 1), completed: done,
			want: Decision{Rung: -1, Step: 1, Value: 1, Cutoff: 3, Of: 2}},
		{name: "no completed run has the step", r: m0, curve: pts(9, 9, 9), completed: done,
			want: Decision{Rung: -1, Step: 2, Value: 9, Cutoff: nan}},
		{name: "completed NaNs ignored", r: m0, curve: pts(9), completed: []map[float64]float64{{0: nan}, {0: 10}},
			want: Decision{Rung: -1, Value: 9, Cutoff: 10, Of: 1}},
		// numpy's median of {1, 2, +Inf} is NaN: lerp(2, Inf, 0) = 2 + Inf·0.
		{name: "an infinity makes numpy's median NaN", r: m0, curve: pts(9), completed: []map[float64]float64{{0: 1}, {0: 2}, {0: math.Inf(1)}},
			want: Decision{Rung: -1, Value: 9, Cutoff: nan, Of: 3}},
		// A step reported twice: the first value counts (9), not the second (0).
		{name: "a repeated step keeps its first value", r: m0, curve: []Point{{0, 9}, {0, 0}}, completed: done,
			want: Decision{Prune: true, Rung: -1, Value: 9, Cutoff: 3, Of: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			goal := tc.goal
			if goal == "" {
				goal = objective.Minimize
			}
			if got := tc.r.Median(goal, tc.curve, tc.completed); !sameDecision(got, tc.want) {
				t.Fatalf("Median = %+v\nwant     %+v", got, tc.want)
			}
		})
	}
}

func TestMedianValue(t *testing.T) {
	for _, tc := range []struct {
		vals []float64
		want float64
	}{
		{[]float64{4}, 4},
		{[]float64{3, 1}, 2},
		{[]float64{0.2, 2.1}, 1.15}, // numpy: 2.1 − 1.9·0.5; (0.2+2.1)/2 is 1.1500000000000001
		{[]float64{5, 1, 3}, 3},
		{[]float64{math.Inf(1)}, nan},
		{[]float64{math.Inf(-1), 1}, math.Inf(-1)}, // 1 − Inf·0.5
		{[]float64{1, math.Inf(1)}, nan},           // Inf − Inf·0.5
		{[]float64{1, 2, 3, math.Inf(1)}, 2.5},
	} {
		if got := median(tc.vals); !sameFloat(got, tc.want) {
			t.Errorf("median(%v) = %v, want %v", tc.vals, got, tc.want)
		}
	}
}

func sameDecision(a, b Decision) bool {
	return a.Prune == b.Prune && a.Rung == b.Rung && a.Step == b.Step && sameFloat(a.Value, b.Value) &&
		sameFloat(a.Cutoff, b.Cutoff) && a.Rank == b.Rank && a.Of == b.Of &&
		(len(a.Records) == 0 && len(b.Records) == 0 || reflect.DeepEqual(a.Records, b.Records))
}

// TestVerdict: the three kinds of verdict in words.
func TestVerdict(t *testing.T) {
	asha := Rule{Kind: KindASHA, MinStep: 1, Reduction: 3}
	median := Rule{Kind: KindMedian, StartupRuns: 5}
	tests := []struct {
		name   string
		rule   Rule
		series string
		d      Decision
		want   string
	}{
		{"asha ranked", asha, "fold0", Decision{Rung: 2, Step: 9, Value: 0.53, Cutoff: 0.41, Rank: 5, Of: 7},
			"at step 9 (rung 2) of series fold0: valLoss 0.53 ranked 5 of 7, the cutoff was 0.41 (asha:minStep=1,reduction=3,minEarlyStoppingRate=0)"},
		{"asha NaN", asha, "", Decision{Rung: 0, Step: 1, Value: math.NaN(), Cutoff: math.NaN()},
			"at step 1 (rung 0): valLoss is not a number (asha:minStep=1,reduction=3,minEarlyStoppingRate=0)"},
		{"median", median, "", Decision{Rung: -1, Step: 4, Value: 1.0 / 3, Cutoff: 0.25, Of: 6},
			"at step 4: best valLoss 0.333333 is worse than the median 0.25 of 6 finished runs (median:startupRuns=5,warmupSteps=0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verdict(tt.rule, "valLoss", tt.series, tt.d); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
