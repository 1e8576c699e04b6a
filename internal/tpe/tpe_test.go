package tpe

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestDefaultGamma(t *testing.T) {
	for _, c := range []struct{ n, want int }{{0, 0}, {1, 1}, {10, 1}, {11, 2}, {100, 10}, {241, 25}, {1000, 25}} {
		if got := defaultGamma(c.n); got != c.want {
			t.Errorf("defaultGamma(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

func TestDefaultWeights(t *testing.T) {
	cases := []struct {
		name string
		n    int
		want []float64
	}{
		{"none", 0, []float64{}},
		{"flat below 25", 3, []float64{1, 1, 1}},
		{"flat at 25", 25, slices.Repeat([]float64{1}, 25)},
		// numpy.linspace(1/26, 1, num=1) is [1/26]
		{"one ramp point", 26, append([]float64{1.0 / 26}, slices.Repeat([]float64{1}, 25)...)},
		// linspace(1/28, 1, 3) = 1/28, (1/28+1)/2, 1
		{"three ramp points", 28, append([]float64{1.0 / 28, (1.0/28 + 1) / 2, 1}, slices.Repeat([]float64{1}, 25)...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := defaultWeights(c.n)
			if len(got) != len(c.want) {
				t.Fatalf("%d weights, want %d", len(got), len(c.want))
			}
			for i := range got {
				if math.Abs(got[i]-c.want[i]) > 1e-15 {
					t.Errorf("weight %d = %v, want %v", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestNdtri(t *testing.T) {
	// Φ⁻¹ against Φ over the whole range, tails included.
	for _, p := range []float64{1e-300, 1e-100, 1e-20, 1e-10, 0.001, 0.02, 0.3, 0.5, 0.7, 0.98, 0.999, 1 - 1e-10} {
		x := ndtri(p)
		var back float64
		if x < 0 {
			back = ndtr(x)
		} else {
			back = 1 - ndtr(-x)
		}
		if math.Abs(back-p) > 1e-13*p && math.Abs(back-p) > 1e-15 {
			t.Errorf("ndtr(ndtri(%g)) = %g (x=%g)", p, back, x)
		}
	}
	if !math.IsInf(ndtri(0), -1) || !math.IsInf(ndtri(1), 1) {
		t.Errorf("ndtri(0), ndtri(1) = %v, %v; want -Inf, +Inf", ndtri(0), ndtri(1))
	}
}

func TestLogGaussMassTails(t *testing.T) {
	cases := []struct {
		name string
		a, b float64
		want float64
	}{
		{"whole line", math.Inf(-1), math.Inf(1), 0},
		{"half", 0, math.Inf(1), math.Log(0.5)},
		{"central", -1, 1, math.Log(0.6826894921370859)},
		// Φ(-40) where Φ underflows: log Φ(-40) = -804.6084420137538 (mpmath)
		{"far left tail", math.Inf(-1), -40, -804.6084420137538},
		{"far right tail", 40, math.Inf(1), -804.6084420137538},
	}
	for _, c := range cases {
		if got := logGaussMass(c.a, c.b); math.Abs(got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s: logGaussMass(%g, %g) = %.16g, want %.16g", c.name, c.a, c.b, got, c.want)
		}
	}
}

func TestTruncNormPPFStaysInside(t *testing.T) {
	for _, ab := range [][2]float64{{-100, 0.5}, {-0.5, 100}, {-1, 1}, {-3, 0}, {0, 3}, {-1e-3, 99}} {
		prev := math.Inf(-1)
		for q := 0.0; q < 1; q += 1.0 / 64 {
			x := truncNormPPF(q, ab[0], ab[1])
			if x < ab[0] || x > ab[1] || x < prev {
				t.Fatalf("ppf(%g, %v) = %g: outside or not increasing (prev %g)", q, ab, x, prev)
			}
			prev = x
		}
	}
}

var testSpace = []Dim{
	{Name: "x", Kind: Float, Low: -5, High: 10},
	{Name: "lr", Kind: Float, Low: 1e-5, High: 1e-1, Log: true},
	{Name: "n", Kind: Int, Low: 16, High: 256},
	{Name: "w", Kind: Int, Low: 1, High: 64, Log: true},
	{Name: "opt", Kind: Categorical, Choices: 3},
}

// history runs n sequential trials of a toy objective through s.
func history(s *Sampler, n int) []Trial {
	var trials []Trial
	for i := range n {
		p := s.Propose(i, trials)
		v := math.Abs(p[0]-2) + math.Abs(math.Log10(p[1])+3) + math.Abs(p[2]-100)/100 + p[4]
		trials = append(trials, Trial{Number: i, Params: p, Value: v})
	}
	return trials
}

func TestProposeIsInTheSpace(t *testing.T) {
	s := mustNew(t, testSpace, DefaultOptions())
	for _, tr := range history(s, 60) {
		if !s.fits(tr.Params) {
			t.Fatalf("trial %d: %v outside the space", tr.Number, tr.Params)
		}
		for i, d := range testSpace {
			if d.Kind != Float && tr.Params[i] != math.Trunc(tr.Params[i]) {
				t.Errorf("trial %d: %s = %v is not an integer", tr.Number, d.Name, tr.Params[i])
			}
		}
	}
}

func TestProposeIsDeterministic(t *testing.T) {
	opts := DefaultOptions()
	opts.Seed = 7
	a, b := mustNew(t, testSpace, opts), mustNew(t, testSpace, opts)
	ha, hb := history(a, 30), history(b, 30)
	for i := range ha {
		if !slices.Equal(ha[i].Params, hb[i].Params) {
			t.Fatalf("trial %d: %v and %v from the same seed", i, ha[i].Params, hb[i].Params)
		}
	}
	// Neither the order of the trials nor earlier calls change a proposal.
	want := a.Propose(30, ha)
	rev := slices.Clone(ha)
	slices.Reverse(rev)
	b.Propose(31, hb)
	if got := b.Propose(30, rev); !slices.Equal(got, want) {
		t.Errorf("reversed trials: %v, want %v", got, want)
	}
	// Another seed, another point.
	opts.Seed = 8
	if got := mustNew(t, testSpace, opts).Propose(30, ha); slices.Equal(got, want) {
		t.Errorf("seeds 7 and 8 proposed the same point %v", got)
	}
	// Another trial number, another point.
	if got := a.Propose(31, ha); slices.Equal(got, want) {
		t.Errorf("trials 30 and 31 proposed the same point %v", got)
	}
}

// TestProposeLearns checks the model is used after startup: with a 1-D
// objective whose optimum is at x = 2 on [-5, 10], model-based proposals
// fall near it far more often than the startup's uniform ones would (a
// uniform point lands within 1 of 2 with probability 2/15).
func TestProposeLearns(t *testing.T) {
	s := mustNew(t, []Dim{{Name: "x", Kind: Float, Low: -5, High: 10}}, DefaultOptions())
	var trials []Trial
	near := 0
	for i := range 100 {
		p := s.Propose(i, trials)
		if i >= 50 && math.Abs(p[0]-2) < 1 {
			near++
		}
		trials = append(trials, Trial{Number: i, Params: p, Value: (p[0] - 2) * (p[0] - 2)})
	}
	if near < 25 {
		t.Errorf("%d of the last 50 proposals within 1 of the optimum; uniform would give ~7", near)
	}
}

func TestStartupIsRandom(t *testing.T) {
	opts := DefaultOptions()
	opts.Startup = 5
	s := mustNew(t, []Dim{{Name: "x", Kind: Float, Low: 0, High: 1}}, opts)
	// Four complete trials, all at 0.5 and one failed and one running: still
	// startup, so the point is the uniform draw of this trial's stream.
	var trials []Trial
	for i := range 4 {
		trials = append(trials, Trial{Number: i, Params: []float64{0.5}, Value: 1})
	}
	trials = append(trials, Trial{Number: 4, Params: []float64{0.5}, State: Failed}, Trial{Number: 5, Params: []float64{0.5}, State: Running})
	want := s.rng(6).Float64()
	if got := s.Propose(6, trials); got[0] != want {
		t.Errorf("startup proposal %v, want the uniform draw %v", got[0], want)
	}
}

func TestIgnoredTrials(t *testing.T) {
	s := mustNew(t, testSpace, DefaultOptions())
	base := history(s, 20)
	want := s.Propose(20, base)
	extra := []Trial{
		{Number: 100, Params: []float64{1}, Value: -1e9},                                // wrong length
		{Number: 101, Params: []float64{11, 1e-3, 20, 2, 0}, Value: -1e9},               // x above High
		{Number: 102, Params: []float64{1, 1e-3, 20, 2, 3}, Value: -1e9},                // no choice 3
		{Number: 103, Params: []float64{1, 1e-3, 20, 2, 0}, Value: -1e9, State: Failed}, // failed
		{Number: 104, Params: []float64{1, 1e-3, 20, 2, 0}, Value: math.NaN()},          // NaN objective
		{Number: 105, Params: []float64{1, 1e-3, 20, 2, 0}, State: Running},             // running, no liar
		{Number: 20, Params: []float64{1, 1e-3, 20, 2, 0}, Value: -1e9, State: Running}, // the trial itself
		{Number: 106, Params: []float64{math.NaN(), 1e-3, 20, 2, 0}, Value: -1e9},       // NaN parameter
	}
	if got := s.Propose(20, append(slices.Clone(base), extra...)); !slices.Equal(got, want) {
		t.Errorf("ignored trials changed the proposal: %v, want %v", got, want)
	}
	// A trial that counts does change it (the assertion above can fail).
	counted := Trial{Number: 107, Params: []float64{9.9, 0.09, 250, 60, 2}, Value: -1e9}
	if got := s.Propose(20, append(slices.Clone(base), counted)); slices.Equal(got, want) {
		t.Errorf("a new best trial left the proposal at %v", got)
	}
}

func TestConstantLiar(t *testing.T) {
	opts := DefaultOptions()
	opts.ConstantLiar = true
	s := mustNew(t, []Dim{{Name: "x", Kind: Float, Low: 0, High: 1}}, opts)
	var trials []Trial
	for i := range 20 {
		trials = append(trials, Trial{Number: i, Params: []float64{float64(i) / 20}, Value: float64(i)})
	}
	obs := s.observations(99, append(trials, Trial{Number: 20, Params: []float64{0.01}, State: Running}))
	below, above := split(obs, defaultGamma(20))
	if len(below) != 2 || below[0].number != 0 || below[1].number != 1 {
		t.Fatalf("below = %v, want trials 0 and 1", below)
	}
	if last := above[len(above)-1]; last.number != 20 || !math.IsInf(last.value, 1) {
		t.Errorf("the running trial is %+v, want it in the bad group as +Inf", last)
	}
}

func TestPrunedRanking(t *testing.T) {
	s := mustNew(t, []Dim{{Name: "x", Kind: Float, Low: 0, High: 1}}, DefaultOptions())
	trials := []Trial{
		{Number: 0, Params: []float64{0}, State: Pruned, Value: -100, Step: 3}, // good value, early stop
		{Number: 1, Params: []float64{0}, State: Complete, Value: 5},
		{Number: 2, Params: []float64{0}, State: Pruned, Value: 1, Step: 9},
		{Number: 3, Params: []float64{0}, State: Pruned, Value: math.NaN(), Step: 9},
		{Number: 4, Params: []float64{0}, State: Pruned, Value: 0, Step: -1},
		{Number: 5, Params: []float64{0}, State: Pruned, Value: 0.5, Step: 9},
	}
	obs := s.observations(99, trials)
	// split returns each group in number order; rank by splitting at each size.
	var ranked []int
	for k := 1; k <= len(obs); k++ {
		b, _ := split(obs, k)
		for _, o := range b {
			if !slices.Contains(ranked, o.number) {
				ranked = append(ranked, o.number)
			}
		}
	}
	if want := []int{1, 5, 2, 3, 0, 4}; !slices.Equal(ranked, want) {
		t.Errorf("rank %v, want %v (complete, then by step reached, then value)", ranked, want)
	}
}

func TestNewRefusesBadSpaces(t *testing.T) {
	cases := []struct {
		name  string
		space []Dim
		opts  func(*Options)
		want  string
	}{
		{"no dims", nil, nil, "no dimensions"},
		{"empty float range", []Dim{{Name: "x", Low: 1, High: 1}}, nil, "not below high"},
		{"inverted", []Dim{{Name: "x", Low: 2, High: 1}}, nil, "not below high"},
		{"NaN bound", []Dim{{Name: "x", Low: math.NaN(), High: 1}}, nil, "not finite"},
		{"infinite bound", []Dim{{Name: "x", Low: 0, High: math.Inf(1)}}, nil, "not finite"},
		{"log at zero", []Dim{{Name: "x", Low: 0, High: 1, Log: true}}, nil, "log scale needs low > 0"},
		{"int log at zero", []Dim{{Name: "x", Kind: Int, Low: 0, High: 8, Log: true}}, nil, "log scale needs low > 0"},
		{"fractional int", []Dim{{Name: "x", Kind: Int, Low: 0.5, High: 8}}, nil, "not integers"},
		{"inverted int", []Dim{{Name: "x", Kind: Int, Low: 9, High: 8}}, nil, "above high"},
		{"no choices", []Dim{{Name: "x", Kind: Categorical}}, nil, "0 choices"},
		{"unknown kind", []Dim{{Name: "x", Kind: Kind(9), Low: 0, High: 1}}, nil, "unknown kind"},
		{"duplicate", []Dim{{Name: "x", Low: 0, High: 1}, {Name: "x", Low: 0, High: 1}}, nil, "appears twice"},
		{"no candidates", []Dim{{Name: "x", Low: 0, High: 1}}, func(o *Options) { o.EICandidates = 0 }, "EI candidates"},
		{"zero prior", []Dim{{Name: "x", Low: 0, High: 1}}, func(o *Options) { o.PriorWeight = 0 }, "prior weight"},
		{"negative startup", []Dim{{Name: "x", Low: 0, High: 1}}, func(o *Options) { o.Startup = -1 }, "startup"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := DefaultOptions()
			if c.opts != nil {
				c.opts(&opts)
			}
			_, err := New(c.space, opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want an error with %q", err, c.want)
			}
			if c.opts == nil && !errors.Is(err, ErrBadSpace) {
				t.Errorf("%v does not wrap ErrBadSpace", err)
			}
		})
	}
	if _, err := New([]Dim{{Name: "one", Kind: Int, Low: 3, High: 3}, {Name: "c", Kind: Categorical, Choices: 1}}, DefaultOptions()); err != nil {
		t.Errorf("a one-point int and a one-choice categorical are valid: %v", err)
	}
}

func mustNew(tb testing.TB, space []Dim, opts Options) *Sampler {
	tb.Helper()
	s, err := New(space, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// benchTrials is n finished trials of a 3-parameter space (a float, a log
// float and a categorical, as the latency figure).
func benchTrials(s *Sampler, n int) []Trial {
	opts := s.opts
	opts.Startup = n + 1 // random points: the history's shape is not what is timed
	r := &Sampler{space: s.space, opts: opts}
	var trials []Trial
	for i := range n {
		p := r.Propose(i, nil)
		trials = append(trials, Trial{Number: i, Params: p, Value: p[0]*p[0] + math.Log(p[1]) + p[2]})
	}
	return trials
}

var benchSpace = []Dim{
	{Name: "x", Kind: Float, Low: -5, High: 5},
	{Name: "lr", Kind: Float, Low: 1e-5, High: 1e-1, Log: true},
	{Name: "opt", Kind: Categorical, Choices: 3},
}

func benchmarkPropose(b *testing.B, n int) {
	s := mustNew(b, benchSpace, DefaultOptions())
	trials := benchTrials(s, n)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.Propose(n+i, trials)
	}
}

func BenchmarkPropose100(b *testing.B)   { benchmarkPropose(b, 100) }
func BenchmarkPropose1000(b *testing.B)  { benchmarkPropose(b, 1000) }
func BenchmarkPropose10000(b *testing.B) { benchmarkPropose(b, 10000) }

// TestParallelProposalsDiffer: without the constant liar, trials in flight
// are left out of the model, so eight trials proposed from one history
// (parallel: 8) differ only by their own random streams; they must still
// be eight different points, not one point eight times.
func TestParallelProposalsDiffer(t *testing.T) {
	s := mustNew(t, testSpace, DefaultOptions())
	done := history(s, 30)
	trials := slices.Clone(done)
	var xs []float64
	for n := 30; n < 38; n++ {
		p := s.Propose(n, trials)
		for _, tr := range trials[len(done):] {
			if slices.Equal(tr.Params, p) {
				t.Fatalf("trial %d proposed %v, the point of trial %d in flight", n, p, tr.Number)
			}
		}
		xs = append(xs, p[0])
		trials = append(trials, Trial{Number: n, Params: p, State: Running})
	}
	slices.Sort(xs)
	if len(slices.Compact(xs)) != 8 {
		t.Errorf("x of the eight proposals %v: want eight different values", xs)
	}
}
