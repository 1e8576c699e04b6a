package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
)

// MaxJobs bounds the size of one sweep: a typo in a grid (or a product of
// long lists) should fail at once, not fill the disk.
const MaxJobs = 1_000_000

// ErrTooBig is returned by Plan when a sweep would have more than MaxJobs
// jobs.
var ErrTooBig = errors.New("sweep too big")

// Method is how a sweep picks its points.
type Method string

// The methods: a grid and random draws are planned at submit (the empty
// Method is either, by what the spec has); tpe proposes each point in the
// dispatcher from the outcomes so far (see internal/tpe).
const (
	MethodGrid   Method = "grid"
	MethodRandom Method = "random"
	MethodTPE    Method = "tpe"
)

// Spec is a sweep: what varies and how.
type Spec struct {
	// Method is how points are picked; "" is grid and/or random, by
	// which parts are given.
	Method Method
	// Trials is a tpe sweep's budget: how many runs in all.
	Trials int
	// Parallel is how many of a tpe sweep's runs may be in flight at
	// once; 0 means as many as there are free slots.
	Parallel int
	// ConstantLiar makes a tpe sweep's sampler count its trials in flight
	// as the worst value (tpe.Options.ConstantLiar) instead of leaving them
	// out, Optuna 3.1's default.
	ConstantLiar bool
	// Grid is crossed in order, its last axis varying fastest.
	Grid []Axis
	// Random is how many points to draw from Ranges; 0 means no random
	// part. Each point is crossed with the whole grid.
	Random int
	Ranges []Range
	// Seed seeds the PCG that draws the random points: the same seed gives
	// the same points on every platform.
	Seed uint64
	// AllowNew lets a path name a field the base job lacks: it is added as
	// the last member of the deepest object that exists.
	AllowNew bool
}

// Varies reports whether the spec changes anything (it has a grid or a
// random part, or is a tpe search).
func (s *Spec) Varies() bool { return len(s.Grid) > 0 || s.Random > 0 || s.TPE() }

// TPE reports whether the sweep is a model-based search, whose points the
// dispatcher proposes one at a time (see Space and Trial).
func (s *Spec) TPE() bool { return s.Method == MethodTPE }

// Paths returns the paths the spec sets, grid first, in the order given.
func (s *Spec) Paths() []Path {
	ps := make([]Path, 0, len(s.Grid)+len(s.Ranges))
	for _, a := range s.Grid {
		ps = append(ps, a.Path)
	}
	for _, r := range s.Ranges {
		ps = append(ps, r.Path)
	}
	return ps
}

// Size checks the spec and returns how many points it has: ErrSyntax when
// its parts do not fit together, ErrTooBig when that is more than MaxJobs.
// It only counts: nothing is drawn or allocated.
func (s *Spec) Size() (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	if s.TPE() {
		if s.Trials > MaxJobs {
			return 0, errf(ErrTooBig, "sweep too big: trials %d is more than the limit of %d", s.Trials, MaxJobs)
		}
		return s.Trials, nil
	}
	n := big.NewInt(int64(max(s.Random, 1)))
	for _, a := range s.Grid {
		if len(a.Values) == 0 {
			return 0, errf(ErrSyntax, "grid %s has no values", a.Path)
		}
		n.Mul(n, big.NewInt(int64(len(a.Values))))
	}
	if n.Cmp(big.NewInt(MaxJobs)) > 0 {
		return 0, errf(ErrTooBig, "sweep too big: %s jobs, more than the limit of %d", n, MaxJobs)
	}
	return int(n.Int64()), nil
}

// CheckTotal refuses a submit of inputs base jobs, each expanded into
// perInput jobs, when that makes more than MaxJobs jobs in all.
func CheckTotal(inputs, perInput int) error {
	n := new(big.Int).Mul(big.NewInt(int64(inputs)), big.NewInt(int64(max(perInput, 1))))
	if n.Cmp(big.NewInt(MaxJobs)) <= 0 {
		return nil
	}
	if perInput <= 1 {
		return errf(ErrTooBig, "too many jobs: %d, more than the limit of %d", inputs, MaxJobs)
	}
	return errf(ErrTooBig, "sweep too big: %d input jobs × %d = %s jobs, more than the limit of %d", inputs, perInput, n, MaxJobs)
}

// check refuses specs whose parts do not fit together.
func (s *Spec) check() error {
	if err := s.checkMethod(); err != nil {
		return err
	}
	if s.Random < 0 {
		return errf(ErrSyntax, "--random must be at least 1, got %d", s.Random)
	}
	if s.Random > 0 && len(s.Ranges) == 0 {
		return errf(ErrSyntax, "random draws need at least one range (--range PATH=lin:LO:HI)")
	}
	if s.Random == 0 && len(s.Ranges) > 0 && !s.TPE() {
		return errf(ErrSyntax, "ranges need a number of random draws (--random N)")
	}
	seen := map[string]bool{}
	for _, p := range s.Paths() {
		if seen[p.text] {
			return errf(ErrSyntax, "path %s is set twice", p)
		}
		seen[p.text] = true
	}
	return nil
}

// checkMethod refuses parts that do not go with the spec's method.
func (s *Spec) checkMethod() error {
	switch s.Method {
	case MethodTPE:
		switch {
		case len(s.Grid) > 0:
			return errf(ErrSyntax, "method tpe takes no grid; give each list of values as a choice:A,B,... range in space:")
		case s.Random > 0:
			return errf(ErrSyntax, "method tpe takes no random: N; its budget is trials: N")
		case s.Trials <= 0:
			return errf(ErrSyntax, "method tpe needs a budget: add trials: N (how many runs in all)")
		case len(s.Ranges) == 0:
			return errf(ErrSyntax, "method tpe needs a space: give at least one PATH: lin:LO:HI, log:LO:HI, int:LO:HI or choice:A,B,... under space:")
		}
		for _, r := range s.Ranges {
			if (r.Kind == Lin || r.Kind == Log) && !(r.Lo < r.Hi) {
				return errf(ErrSyntax, "space %s: %s is a single value; give LO < HI, or set the value in the base job", r.Path, r.text)
			}
		}
	case MethodGrid:
		if s.Random > 0 || len(s.Grid) == 0 {
			return errf(ErrSyntax, "method grid needs a grid: and no random: N; use method: random for random draws")
		}
	case MethodRandom:
		if s.Random == 0 {
			return errf(ErrSyntax, "method random needs random: N (how many points to draw from ranges:)")
		}
	case "":
	default:
		return errf(ErrSyntax, "unknown method %q; want grid, random or tpe", s.Method)
	}
	if !s.TPE() && (s.Trials > 0 || s.Parallel > 0) {
		return errf(ErrSyntax, "trials and parallel are for method: tpe")
	}
	return nil
}

// Plan is a sweep with its points drawn: Points[i][k] is the value of
// Paths[k] in job i.
type Plan struct {
	Paths    []Path
	Points   [][]json.RawMessage
	AllowNew bool
}

// Plan draws the random points and crosses them with the grid. The random
// point is the outer loop: jobs [0, G) share the first random point, where
// G is the grid's size.
func (s *Spec) Plan() (*Plan, error) {
	n, err := s.Size()
	if err != nil {
		return nil, err
	}
	if s.TPE() {
		return nil, errf(ErrSyntax, "method tpe has no plan: the dispatcher proposes its points")
	}
	p := &Plan{Paths: s.Paths(), Points: make([][]json.RawMessage, 0, n), AllowNew: s.AllowNew}
	// The second PCG word is fixed so that --seed is one number; changing
	// it would change every sweep drawn so far.
	rng := rand.New(rand.NewPCG(s.Seed, 0x6d6c6a6f62737765)) // "mljobswe"
	width := len(p.Paths)
	for range max(s.Random, 1) {
		drawn := make([]json.RawMessage, len(s.Ranges))
		for k, r := range s.Ranges {
			drawn[k] = r.draw(rng)
		}
		idx := make([]int, len(s.Grid)) // an odometer over the grid
		for {
			pt := make([]json.RawMessage, 0, width)
			for k, a := range s.Grid {
				pt = append(pt, a.Values[idx[k]])
			}
			p.Points = append(p.Points, append(pt, drawn...))
			k := len(idx) - 1
			for ; k >= 0; k-- {
				idx[k]++
				if idx[k] < len(s.Grid[k].Values) {
					break
				}
				idx[k] = 0
			}
			if k < 0 {
				break
			}
		}
	}
	return p, nil
}

// Apply makes one job per point from base, a JSON object. Every path must
// be in base unless AllowNew; the error names the path.
func (p *Plan) Apply(base []byte) ([][]byte, error) {
	if !json.Valid(base) {
		return nil, errors.New("base job is not valid JSON")
	}
	ts := make([]target, 0, len(p.Paths))
	for k, path := range p.Paths {
		t, err := locate(base, path, p.AllowNew)
		if err != nil {
			return nil, fmt.Errorf("path %s: %w", path, err)
		}
		t.slot = k
		ts = append(ts, t)
	}
	slices.SortStableFunc(ts, func(a, b target) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return a.end - b.end
	})
	for i := 1; i < len(ts); i++ {
		a, b := ts[i-1], ts[i]
		if b.start < a.end {
			return nil, errf(ErrSyntax, "paths %s and %s overlap: set one or the other", p.Paths[a.slot], p.Paths[b.slot])
		}
		if a.newKey != "" && a.start == b.start && a.newKey == b.newKey {
			return nil, errf(ErrSyntax, "paths %s and %s both add %q: add it to the base job", p.Paths[a.slot], p.Paths[b.slot], a.newKey)
		}
	}
	extra := 0
	for _, t := range ts {
		extra += len(t.prefix) + len(t.suffix) - (t.end - t.start)
	}
	jobs := make([][]byte, len(p.Points))
	for i, pt := range p.Points {
		size := len(base) + extra
		for _, v := range pt {
			size += len(v)
		}
		out := make([]byte, 0, size)
		prev := 0
		for _, t := range ts {
			out = append(out, base[prev:t.start]...)
			out = append(out, t.prefix...)
			out = append(out, pt[t.slot]...)
			out = append(out, t.suffix...)
			prev = t.end
		}
		jobs[i] = append(out, base[prev:]...)
	}
	return jobs, nil
}

// Definition returns the spec as JSON, the record kept with a sweep:
// {"grid":[{"path":P,"values":[...]}],"random":N,"ranges":[{"path":P,
// "range":"log:1e-4:1"}],"seed":S,"allowNew":true}, parts left out when
// unused. The seed is kept only with a random part, where it matters.
func (s *Spec) Definition() (json.RawMessage, error) {
	type axis struct {
		Path   string            `json:"path"`
		Values []json.RawMessage `json:"values"`
	}
	type rng struct {
		Path  string `json:"path"`
		Range string `json:"range"`
	}
	var d struct {
		Method   Method  `json:"method,omitempty"`
		Trials   int     `json:"trials,omitempty"`
		Parallel int     `json:"parallel,omitempty"`
		Liar     bool    `json:"constantLiar,omitempty"`
		Grid     []axis  `json:"grid,omitempty"`
		Random   int     `json:"random,omitempty"`
		Ranges   []rng   `json:"ranges,omitempty"`
		Seed     *uint64 `json:"seed,omitempty"`
		AllowNew bool    `json:"allowNew,omitempty"`
	}
	for _, a := range s.Grid {
		d.Grid = append(d.Grid, axis{a.Path.text, a.Values})
	}
	for _, r := range s.Ranges {
		d.Ranges = append(d.Ranges, rng{r.Path.text, r.text})
	}
	d.Random, d.AllowNew = s.Random, s.AllowNew
	d.Method, d.Trials, d.Parallel, d.Liar = s.Method, s.Trials, s.Parallel, s.ConstantLiar
	if s.Random > 0 || s.TPE() {
		d.Seed = &s.Seed
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("sweep definition: %w", err)
	}
	return b, nil
}
