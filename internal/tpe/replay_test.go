package tpe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"testing"

	"github.com/mljob/mljob/internal/testdep"
)

// replayBranin is the Branin function, where make bench-search once showed
// a gap to Optuna.
func replayBranin(p []float64) float64 {
	x1, x2 := p[0], p[1]
	b, c, t := 5.1/(4*math.Pi*math.Pi), 5/math.Pi, 1/(8*math.Pi)
	return math.Pow(x2-b*x1*x1+c*x1-6, 2) + 10*(1-t)*math.Cos(x1) + 10
}

var braninSpace = []Dim{{Name: "x1", Kind: Float, Low: -5, High: 10}, {Name: "x2", Kind: Float, Low: 0, High: 15}}

func dimJSONOf(d Dim) dimJSON {
	k := map[Kind]string{Float: "float", Int: "int", Categorical: "categorical"}[d.Kind]
	return dimJSON{Kind: k, Low: d.Low, High: d.High, Log: d.Log, Choices: d.Choices}
}

// replayOptuna asks Optuna's TPESampler(seed=s) for the next point after
// each history, once per seed.
func replayOptuna(t *testing.T, space []Dim, hists [][]Trial, seeds []uint64) [][][]float64 {
	t.Helper()
	type caseJSON struct {
		Trials [][2]any `json:"trials"`
	}
	var dims []dimJSON
	for _, d := range space {
		dims = append(dims, dimJSONOf(d))
	}
	var cases []caseJSON
	for _, h := range hists {
		var c caseJSON
		for _, tr := range h {
			c.Trials = append(c.Trials, [2]any{tr.Params, tr.Value})
		}
		cases = append(cases, c)
	}
	in, err := json.Marshal(map[string]any{"space": dims, "cases": cases, "seeds": seeds})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(systemPython, "testdata/optuna_replay.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("optuna_replay.py: %v\n%s", err, stderr.String())
	}
	var res struct {
		Version string        `json:"version"`
		Cases   [][][]float64 `json:"cases"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("optuna_replay.py's output: %v", err)
	}
	if len(res.Cases) != len(hists) {
		t.Fatalf("optuna_replay.py answered %d cases, want %d", len(res.Cases), len(hists))
	}
	return res.Cases
}

// ksTwoSample is the two-sample Kolmogorov-Smirnov statistic D and its
// asymptotic p-value (Stephens' small-sample correction). With ties, as
// for integer and categorical dimensions, the p-value is conservative.
func ksTwoSample(a, b []float64) (d, p float64) {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		x := math.Min(a[i], b[j])
		for i < len(a) && a[i] == x {
			i++
		}
		for j < len(b) && b[j] == x {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	ne := float64(len(a)*len(b)) / float64(len(a)+len(b))
	lambda := (math.Sqrt(ne) + 0.12 + 0.11/math.Sqrt(ne)) * d
	if lambda < 0.3 {
		return d, 1 // Q_KS(0.3) > 0.99999, and the series below converges slowly
	}
	for k := 1; k <= 100; k++ {
		p += 2 * math.Pow(-1, float64(k-1)) * math.Exp(-2*float64(k*k)*lambda*lambda)
	}
	return d, math.Min(math.Max(p, 0), 1)
}

func TestKSTwoSample(t *testing.T) {
	var a, b, shifted []float64
	for i := range 200 {
		a = append(a, float64(i))
		b = append(b, float64(i)+0.5)
		shifted = append(shifted, float64(i)+60)
	}
	if d, p := ksTwoSample(a, a); d != 0 || p != 1 {
		t.Errorf("same sample: D = %v, p = %v; want 0 and 1", d, p)
	}
	if d, p := ksTwoSample(a, b); d > 0.01 || p < 0.99 {
		t.Errorf("interleaved samples: D = %v, p = %v; want D ≤ 1/200 and p near 1", d, p)
	}
	// 60 of 200 apart: D = 0.3, p ≈ 1.8e-8 (scipy's asymptotic ks_2samp)
	if d, p := ksTwoSample(a, shifted); math.Abs(d-0.3) > 1e-12 || p > 1e-6 {
		t.Errorf("shifted sample: D = %v, p = %v; want 0.3 and p < 1e-6", d, p)
	}
}

// replayCase is one study replayed through both samplers: its space, the
// objective that made its history, and the history lengths to replay.
type replayCase struct {
	name  string
	space []Dim
	f     func([]float64) float64
	at    []int
}

// TestProposalsMatchOptuna replays the same histories through Propose and
// through Optuna's TPESampler, once per seed on each side, and compares
// the distribution of the proposals dimension by dimension (two-sample
// Kolmogorov-Smirnov). The parity test checks the estimators are the same;
// this checks what is built around them is too: the startup count, the
// good/bad split, sampling the candidates from l(x) (kernel choice and
// truncated normal), rounding and log space, and picking the best of 24 by
// log l - log g. Both sides are seeded, so the result is the same on every
// run; a dimension fails at p < 0.001, except where equal values meet
// numpy's unstable sort (see tiesReordered).
func TestProposalsMatchOptuna(t *testing.T) {
	testdep.SkipShort(t, "Python with Optuna (seconds)")
	testdep.RequirePythonModule(t, systemPython, "optuna", "apt-get install python3-optuna (scripts/install-deps.sh test)")
	const reps = 400
	cases := []replayCase{
		{name: "branin", space: braninSpace, f: replayBranin, at: []int{10, 20, 40, 70, 99}},
		{name: "mixed", space: testSpace, f: func(p []float64) float64 {
			return math.Abs(p[0]-2) + math.Abs(math.Log10(p[1])+3) + math.Abs(p[2]-100)/100 + math.Abs(math.Log2(p[3])-3) + p[4]
		}, at: []int{30, 99}},
	}
	seeds := make([]uint64, reps)
	for i := range seeds {
		seeds[i] = uint64(1000 + i)
	}
	for _, c := range cases {
		opts := DefaultOptions()
		opts.Seed = 1
		s := mustNew(t, c.space, opts)
		var full []Trial
		for i := range slices.Max(c.at) {
			p := s.Propose(i, full)
			full = append(full, Trial{Number: i, Params: p, Value: c.f(p)})
		}
		var hists [][]Trial
		for _, n := range c.at {
			hists = append(hists, full[:n])
		}
		want := replayOptuna(t, c.space, hists, seeds)
		for h, hist := range hists {
			got := make([][]float64, reps)
			for r, seed := range seeds {
				o := opts
				o.Seed = seed
				got[r] = mustNew(t, c.space, o).Propose(len(hist), hist)
			}
			for i, d := range c.space {
				g, w := make([]float64, reps), make([]float64, reps)
				for r := range reps {
					g[r], w[r] = got[r][i], want[h][r][i]
				}
				stat, p := ksTwoSample(g, w)
				msg := fmt.Sprintf("%s after %d trials, %s: KS D = %.3f, p = %.3g; median %.4g (Optuna %.4g), deciles %.4g-%.4g (Optuna %.4g-%.4g)",
					c.name, len(hist), d.Name, stat, p, quantileOf(g, .5), quantileOf(w, .5),
					quantileOf(g, .1), quantileOf(g, .9), quantileOf(w, .1), quantileOf(w, .9))
				switch {
				case p >= 1e-3:
					t.Log(msg)
				case tiesReordered(hist, i):
					// a documented difference (doc.go): not a failure
					t.Log(msg + " (equal values among more than 16 trials: numpy orders their bandwidths differently)")
				default:
					t.Error(msg)
				}
			}
		}
	}
}

// tiesReordered reports whether dimension i of hist repeats a value in a
// history long enough (over 16 trials) for numpy's argsort to order equal
// values its own way, so that Optuna gives their kernels' bandwidths to
// other trials, of other weights, than Propose does.
func tiesReordered(hist []Trial, i int) bool {
	if len(hist) <= 16 {
		return false
	}
	seen := map[float64]bool{}
	for _, tr := range hist {
		if seen[tr.Params[i]] {
			return true
		}
		seen[tr.Params[i]] = true
	}
	return false
}

// quantileOf is the q-quantile of xs (the nearest rank below).
func quantileOf(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}
