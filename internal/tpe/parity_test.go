package tpe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"slices"
	"testing"

	"github.com/mljob/mljob/internal/testdep"
)

// systemPython sees Debian's python3-* packages (python3-optuna); the
// python3 first on PATH may be a build that sees none of them.
const systemPython = "/usr/bin/python3"

// estCase is one estimator to build on both sides.
type estCase struct {
	Dim       dimJSON   `json:"dim"`
	Obs       []float64 `json:"obs"`
	Points    []float64 `json:"points"`
	MagicClip bool      `json:"magicClip"`
	Endpoints bool      `json:"endpoints"`
}

type dimJSON struct {
	Kind    string  `json:"kind"`
	Low     float64 `json:"low"`
	High    float64 `json:"high"`
	Log     bool    `json:"log"`
	Choices int     `json:"choices"`
}

func (d dimJSON) dim() Dim {
	k := map[string]Kind{"float": Float, "int": Int, "categorical": Categorical}[d.Kind]
	return Dim{Name: "x", Kind: k, Low: d.Low, High: d.High, Log: d.Log, Choices: d.Choices}
}

// splitCase is one study whose trials both sides rank.
type splitCase struct {
	Maximize bool        `json:"maximize"`
	Liar     bool        `json:"liar"`
	Trials   []splitTria `json:"trials"`
}

type splitTria struct {
	State string  `json:"state"`
	X     float64 `json:"x"`
	Value float64 `json:"value"`
	Step  int64   `json:"step"`
}

type estWant struct {
	Weights []float64   `json:"weights"`
	LogPdf  []float64   `json:"logPdf"`
	Mus     []float64   `json:"mus"`
	Sigmas  []float64   `json:"sigmas"`
	Probs   [][]float64 `json:"probs"`
}

type splitWant struct {
	N     int   `json:"n"`
	Below []int `json:"below"`
}

// genEstimators covers every kind, log and linear, with 0 to 120
// observations (below and above the weight ramp's 25, below and above magic
// clip's 100), repeated values, values on the bounds, and both clip and
// endpoint settings.
func genEstimators(rng *rand.Rand) []estCase {
	// Narrow integer ranges repeat values, and numpy orders equal values
	// as it likes above 16 (see below), so they stop at 15 observations;
	// the wide ones test integers at every size.
	dims := []struct {
		d    dimJSON
		maxN int
	}{
		{dimJSON{Kind: "float", Low: -5, High: 10}, 1000},
		{dimJSON{Kind: "float", Low: 1e-5, High: 1e-1, Log: true}, 1000},
		{dimJSON{Kind: "int", Low: 16, High: 256}, 15},
		{dimJSON{Kind: "int", Low: 0, High: 10_000_000}, 1000},
		{dimJSON{Kind: "int", Low: 1, High: 1}, 15},
		{dimJSON{Kind: "int", Low: 1, High: 1000, Log: true}, 15},
		{dimJSON{Kind: "int", Low: 1000, High: 1e12, Log: true}, 1000},
		{dimJSON{Kind: "categorical", Choices: 1}, 1000},
		{dimJSON{Kind: "categorical", Choices: 4}, 1000},
	}
	var out []estCase
	for _, dd := range dims {
		d := dd.d
		for _, n := range []int{0, 1, 2, 3, 7, 15, 24, 25, 26, 60, 120} {
			if n > dd.maxN {
				continue
			}
			for _, flags := range [][2]bool{{true, false}, {false, false}, {true, true}} {
				c := estCase{Dim: d, MagicClip: flags[0], Endpoints: flags[1]}
				for range n {
					c.Obs = append(c.Obs, genValue(rng, d))
				}
				if n > 4 {
					c.Obs[2] = bound(d, rng.IntN(2) == 0)
				}
				if n > 4 && n < 16 {
					// A tie, only where numpy's argsort is an insertion
					// sort (stable, as here): above 16 it is introsort or
					// SIMD and orders equal values as it likes.
					c.Obs[1] = c.Obs[0]
				}
				for range 30 {
					c.Points = append(c.Points, genValue(rng, d))
				}
				c.Points = append(c.Points, bound(d, true), bound(d, false))
				out = append(out, c)
			}
		}
	}
	return out
}

func genValue(rng *rand.Rand, d dimJSON) float64 {
	return randomValue(rng, d.dim())
}

func bound(d dimJSON, low bool) float64 {
	switch {
	case d.Kind == "categorical" && low:
		return 0
	case d.Kind == "categorical":
		return float64(d.Choices - 1)
	case low:
		return d.Low
	}
	return d.High
}

// genSplits mixes complete, pruned (at several steps, with NaN, with no
// report), running and failed trials, with ties, for both goals and with
// and without the constant liar.
func genSplits(rng *rand.Rand) []splitCase {
	var out []splitCase
	for _, n := range []int{1, 5, 10, 11, 30, 80, 300} {
		for _, max := range []bool{false, true} {
			for _, liar := range []bool{false, true} {
				c := splitCase{Maximize: max, Liar: liar}
				for range n {
					t := splitTria{X: rng.Float64(), Value: math.Round(rng.NormFloat64()*4) / 2, Step: int64(rng.IntN(4)) * 3}
					t.State = []string{"complete", "complete", "pruned", "running", "failed"}[rng.IntN(5)]
					if t.State == "pruned" && rng.IntN(6) == 0 {
						t.Step = -1
					}
					if t.State == "pruned" && rng.IntN(6) == 0 {
						t.Value = math.NaN()
					}
					c.Trials = append(c.Trials, t)
				}
				out = append(out, c)
			}
		}
	}
	return out
}

// MarshalJSON writes a NaN value as null (JSON has no NaN; the script
// reads null back as NaN).
func (t splitTria) MarshalJSON() ([]byte, error) {
	v := "null"
	if !math.IsNaN(t.Value) {
		v = fmt.Sprint(t.Value)
	}
	return fmt.Appendf(nil, `{"state":%q,"x":%v,"value":%s,"step":%d}`, t.State, t.X, v, t.Step), nil
}

func runOptuna(t *testing.T, ests []estCase, splits []splitCase) ([]estWant, []splitWant) {
	t.Helper()
	in, err := json.Marshal(map[string]any{"estimators": ests, "splits": splits})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(systemPython, "testdata/optuna_parzen.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("optuna_parzen.py: %v\n%s", err, stderr.String())
	}
	var res struct {
		Version    string      `json:"version"`
		Estimators []estWant   `json:"estimators"`
		Splits     []splitWant `json:"splits"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("optuna_parzen.py's output: %v", err)
	}
	if len(res.Estimators) != len(ests) || len(res.Splits) != len(splits) {
		t.Fatalf("optuna_parzen.py answered %d estimators and %d splits, want %d and %d",
			len(res.Estimators), len(res.Splits), len(ests), len(splits))
	}
	t.Logf("Optuna %s", res.Version)
	return res.Estimators, res.Splits
}

// TestParzenParityWithOptuna builds the same estimators as Optuna's own
// _ParzenEstimator and compares kernel weights, means, bandwidths,
// categorical probabilities and the log density at points, and ranks the
// same studies into the good and bad groups as _get_observation_pairs and
// _split_observation_pairs do.
func TestParzenParityWithOptuna(t *testing.T) {
	testdep.SkipShort(t, "Python with Optuna (seconds)")
	testdep.RequirePythonModule(t, systemPython, "optuna", "apt-get install python3-optuna (scripts/install-deps.sh test)")
	rng := rand.New(rand.NewPCG(16, 1))
	ests, splits := genEstimators(rng), genSplits(rng)
	wantE, wantS := runOptuna(t, ests, splits)
	values := 0
	for i, c := range ests {
		values += compareEstimator(t, fmt.Sprintf("estimator %d (%+v, n=%d)", i, c.Dim, len(c.Obs)), c, wantE[i])
	}
	for i, c := range splits {
		compareSplit(t, i, c, wantS[i])
	}
	t.Logf("%d estimators, %d values compared; %d studies split", len(ests), values, len(splits))
}

func compareEstimator(t *testing.T, name string, c estCase, want estWant) int {
	t.Helper()
	d := c.Dim.dim()
	opts := DefaultOptions()
	opts.MagicClip, opts.Endpoints = c.MagicClip, c.Endpoints
	obs := make([]float64, len(c.Obs))
	for i, v := range c.Obs {
		obs[i] = toInternal(d, v)
	}
	n := 0
	var logPDF func(float64) float64
	if d.Kind == Categorical {
		p := newCatParzen(d.Choices, obs, opts)
		n += closeAll(t, name+" weights", p.weights, want.Weights)
		for k := range want.Probs {
			n += closeAll(t, fmt.Sprintf("%s probs[%d]", name, k), p.kernel(k), want.Probs[k])
		}
		logPDF = p.logPDF
	} else {
		p := newNumParzen(dimBounds(d), obs, opts)
		n += closeAll(t, name+" weights", p.weights, want.Weights)
		n += closeAll(t, name+" mus", p.mus, want.Mus)
		n += closeAll(t, name+" sigmas", p.sigmas, want.Sigmas)
		scratch := make([]float64, len(p.mus))
		logPDF = func(x float64) float64 { return p.logPDF(x, scratch) }
	}
	got := make([]float64, len(c.Points))
	for i, x := range c.Points {
		got[i] = logPDF(toInternal(d, x))
	}
	return n + closeAll(t, name+" log pdf", got, want.LogPdf)
}

// closeAll compares element-wise to a relative (or, near 0, absolute)
// tolerance of 1e-9: the same formulas, different libm and summation order.
func closeAll(t *testing.T, what string, got, want []float64) int {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, Optuna %d", what, len(got), len(want))
		return 0
	}
	for i := range got {
		if d := math.Abs(got[i] - want[i]); d > 1e-9*math.Max(1, math.Abs(want[i])) || math.IsNaN(d) && got[i] != want[i] {
			t.Errorf("%s[%d] = %.17g, Optuna %.17g", what, i, got[i], want[i])
		}
	}
	return len(got)
}

func compareSplit(t *testing.T, i int, c splitCase, want splitWant) {
	t.Helper()
	opts := DefaultOptions()
	opts.Maximize, opts.ConstantLiar = c.Maximize, c.Liar
	s, err := New([]Dim{{Name: "x", Kind: Float, Low: 0, High: 1}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var trials []Trial
	for k, tr := range c.Trials {
		st := map[string]State{"complete": Complete, "pruned": Pruned, "running": Running, "failed": Failed}[tr.State]
		trials = append(trials, Trial{Number: k, Params: []float64{tr.X}, State: st, Value: tr.Value, Step: tr.Step})
	}
	obs := s.observations(-1, trials)
	n := 0
	for _, o := range obs {
		if o.state != Running {
			n++
		}
	}
	below, _ := split(obs, defaultGamma(n))
	var got []int
	for _, o := range below {
		got = append(got, o.number)
	}
	if n != want.N || !slices.Equal(got, want.Below) {
		t.Errorf("split %d (%d trials, maximize %v, liar %v): n=%d below %v; Optuna n=%d below %v",
			i, len(c.Trials), c.Maximize, c.Liar, n, got, want.N, want.Below)
	}
}
