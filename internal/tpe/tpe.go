package tpe

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Kind is the type of a search-space dimension.
type Kind int

// The kinds of dimension: a real number, an integer and a choice among a
// fixed number of options.
const (
	Float Kind = iota
	Int
	Categorical
)

// String names the kind as errors print it.
func (k Kind) String() string {
	switch k {
	case Float:
		return "float"
	case Int:
		return "int"
	case Categorical:
		return "categorical"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Dim is one dimension of the search space.
type Dim struct {
	Name      string
	Kind      Kind
	Low, High float64 // Float and Int (both bounds included for Int)
	Log       bool    // Float and Int: sampled in log space (Low > 0)
	Choices   int     // Categorical: how many choices
}

// State is where a trial stands, as the sampler sees it.
type State int

// The trial states: Complete trials count with their objective, Pruned ones
// with their last intermediate value ranked by the step it reached, Running
// ones only under Options.ConstantLiar, Failed ones never.
const (
	Complete State = iota
	Pruned
	Running
	Failed
)

// Trial is one finished or running trial of the study.
type Trial struct {
	Number int
	Params []float64 // one per Dim: the value (Float, Int) or the choice's index (Categorical)
	State  State
	Value  float64 // Complete: the objective; Pruned: its last intermediate value
	Step   int64   // Pruned: the step of Value; negative when it reported none
}

// Options are the sampler's settings; DefaultOptions gives Optuna 3.1's.
type Options struct {
	Maximize     bool
	Seed         uint64
	Startup      int     // random trials before the model is used (Optuna n_startup_trials)
	EICandidates int     // candidates drawn from the good group's estimator per dimension
	PriorWeight  float64 // weight of the prior kernel (> 0)
	MagicClip    bool    // Optuna consider_magic_clip: bandwidth ≥ range/min(100, 1+n)
	Endpoints    bool    // Optuna consider_endpoints
	ConstantLiar bool    // running trials count as the worst value (for parallel proposals)
}

// DefaultOptions are Optuna 3.1's TPESampler defaults: 10 startup trials,
// 24 EI candidates, prior weight 1, magic clip on, endpoints off,
// minimising, seed 0.
func DefaultOptions() Options {
	return Options{Startup: 10, EICandidates: 24, PriorWeight: 1, MagicClip: true}
}

// Sampler proposes trials by TPE. It holds no state between calls beyond its
// space and options, so it is safe for concurrent use.
type Sampler struct {
	space []Dim
	opts  Options
}

// ErrBadSpace is wrapped by every error New returns for an unusable space.
var ErrBadSpace = errors.New("bad search space")

// New checks the space and options and returns a sampler.
func New(space []Dim, opts Options) (*Sampler, error) {
	if len(space) == 0 {
		return nil, fmt.Errorf("%w: no dimensions; give at least one parameter to search", ErrBadSpace)
	}
	seen := make(map[string]bool, len(space))
	for i, d := range space {
		if err := checkDim(d); err != nil {
			return nil, fmt.Errorf("%w: dimension %d (%q): %v", ErrBadSpace, i, d.Name, err)
		}
		if seen[d.Name] {
			return nil, fmt.Errorf("%w: dimension %q appears twice; name each parameter once", ErrBadSpace, d.Name)
		}
		seen[d.Name] = true
	}
	if err := checkOptions(opts); err != nil {
		return nil, err
	}
	return &Sampler{space: slices.Clone(space), opts: opts}, nil
}

// checkDim says what is wrong with one dimension, if anything.
func checkDim(d Dim) error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch d.Kind {
	case Categorical:
		if d.Choices < 1 {
			return fmt.Errorf("categorical with %d choices; give at least one", d.Choices)
		}
		return nil
	case Float, Int:
	default:
		return fmt.Errorf("unknown kind %v; use Float, Int or Categorical", d.Kind)
	}
	switch {
	case !finite(d.Low) || !finite(d.High):
		return fmt.Errorf("bounds [%g, %g] are not finite numbers", d.Low, d.High)
	case d.Kind == Float && !(d.Low < d.High):
		return fmt.Errorf("low %g is not below high %g; give low < high", d.Low, d.High)
	case d.Kind == Int && (d.Low != math.Trunc(d.Low) || d.High != math.Trunc(d.High)):
		return fmt.Errorf("int bounds [%g, %g] are not integers", d.Low, d.High)
	case d.Kind == Int && d.Low > d.High:
		return fmt.Errorf("low %g is above high %g; give low ≤ high", d.Low, d.High)
	case d.Log && d.Low <= 0:
		return fmt.Errorf("log scale needs low > 0, got %g; use a linear range or a positive low", d.Low)
	}
	return nil
}

// checkOptions refuses settings the estimator cannot work with.
func checkOptions(o Options) error {
	switch {
	case o.Startup < 0:
		return fmt.Errorf("startup trials %d is negative; use 0 or more (default 10)", o.Startup)
	case o.EICandidates < 1:
		return fmt.Errorf("EI candidates %d: need at least 1 (default 24)", o.EICandidates)
	case !(o.PriorWeight > 0) || math.IsInf(o.PriorWeight, 0):
		return fmt.Errorf("prior weight %g: need a finite number > 0 (default 1)", o.PriorWeight)
	}
	return nil
}

// Space returns a copy of the sampler's dimensions.
func (s *Sampler) Space() []Dim { return slices.Clone(s.space) }

// rng is the random source of trial number: PCG seeded by (Seed, number),
// so a proposal depends on neither the order of calls nor on other trials'
// draws — a restarted dispatcher or a second one proposes the same point.
func (s *Sampler) rng(number int) *rand.Rand {
	return rand.New(rand.NewPCG(s.opts.Seed, uint64(number)^0x9e3779b97f4a7c15))
}

// Propose returns the parameters of trial `number` given every trial so far.
// Deterministic: the same (seed, number, trials) gives the same point on
// every platform, whatever the order of trials. Trials whose Number equals
// number, Failed trials, Complete trials with a NaN value and trials whose
// Params do not fit the space are ignored.
func (s *Sampler) Propose(number int, trials []Trial) []float64 {
	rng := s.rng(number)
	obs := s.observations(number, trials)
	n := 0
	for _, o := range obs {
		if o.state != Running {
			n++
		}
	}
	out := make([]float64, len(s.space))
	if n < s.opts.Startup || n == 0 {
		for i, d := range s.space {
			out[i] = randomValue(rng, d)
		}
		return out
	}
	below, above := split(obs, defaultGamma(n))
	for i, d := range s.space {
		out[i] = s.proposeDim(rng, i, d, below, above)
	}
	return out
}

// randomValue is Optuna's RandomSampler: uniform in the (log) range, an
// Int widened by half a step on each side and rounded.
func randomValue(rng *rand.Rand, d Dim) float64 {
	if d.Kind == Categorical {
		return float64(rng.IntN(d.Choices))
	}
	b := dimBounds(d)
	return fromInternal(d, b.low+rng.Float64()*(b.high-b.low))
}

// proposeDim draws EICandidates points from the good group's estimator of
// dimension i and returns the one with the highest l(x)/g(x).
func (s *Sampler) proposeDim(rng *rand.Rand, i int, d Dim, below, above []obs) float64 {
	lo, ab := column(d, i, below), column(d, i, above)
	var cands []float64
	var logL, logG func(float64) float64
	if d.Kind == Categorical {
		l, g := newCatParzen(d.Choices, lo, s.opts), newCatParzen(d.Choices, ab, s.opts)
		cands, logL, logG = l.sample(rng, s.opts.EICandidates), l.logPDF, g.logPDF
	} else {
		b := dimBounds(d)
		l, g := newNumParzen(b, lo, s.opts), newNumParzen(b, ab, s.opts)
		cands = l.sample(rng, s.opts.EICandidates)
		// Int: the candidate is rounded before it is scored, as Optuna does.
		for k, x := range cands {
			cands[k] = toInternal(d, fromInternal(d, x))
		}
		scratch := make([]float64, max(len(l.mus), len(g.mus)))
		logL = func(x float64) float64 { return l.logPDF(x, scratch[:len(l.mus)]) }
		logG = func(x float64) float64 { return g.logPDF(x, scratch[:len(g.mus)]) }
	}
	best, bestScore := 0, math.Inf(-1)
	for k, x := range cands {
		if score := logL(x) - logG(x); score > bestScore {
			best, bestScore = k, score
		}
	}
	if d.Kind == Categorical {
		return cands[best]
	}
	return fromInternal(d, cands[best])
}

// column is dimension i of each observation, in kernel space.
func column(d Dim, i int, obs []obs) []float64 {
	out := make([]float64, len(obs))
	for k, o := range obs {
		out[k] = toInternal(d, o.params[i])
	}
	return out
}
