package sweep

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/tpe"
)

const tpeFile = `
base: job.json
method: tpe
trials: 40
parallel: 4
seed: 7
space:
  opt.lr: log:1e-4:1e-1
  hiddenLayers.0.dropout: lin:0:0.5
  batch: int:16:256
  opt.name: choice:adam,rmsprop
`

// TestParseFileTPE: a tpe sweep file's keys land in the spec, and its
// space maps onto the sampler's dimensions in order.
func TestParseFileTPE(t *testing.T) {
	f, err := ParseFile([]byte(tpeFile))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Spec
	if !s.TPE() || s.Trials != 40 || s.Parallel != 4 || s.Seed != 7 || !f.HasSeed || len(s.Ranges) != 4 {
		t.Fatalf("spec %+v", s)
	}
	if n, err := s.Size(); err != nil || n != 40 {
		t.Errorf("Size = %d, %v; want the budget 40", n, err)
	}
	if _, err := s.Plan(); err == nil {
		t.Error("Plan of a tpe spec: no error, want one (the dispatcher proposes its points)")
	}
	dims, err := s.Space()
	if err != nil {
		t.Fatal(err)
	}
	want := []tpe.Dim{
		{Name: "opt.lr", Kind: tpe.Float, Low: 1e-4, High: 1e-1, Log: true},
		{Name: "hiddenLayers.0.dropout", Kind: tpe.Float, Low: 0, High: 0.5},
		{Name: "batch", Kind: tpe.Int, Low: 16, High: 256},
		{Name: "opt.name", Kind: tpe.Categorical, Choices: 2},
	}
	for i := range want {
		if dims[i] != want[i] {
			t.Errorf("dim %d = %+v, want %+v", i, dims[i], want[i])
		}
	}
	// The space survives its stored form.
	js, err := s.SpaceJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSpace(js)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range back {
		if r.Path.String() != s.Ranges[i].Path.String() || r.String() != s.Ranges[i].String() {
			t.Errorf("range %d read back as %s=%s, want %s=%s", i, r.Path, r, s.Ranges[i].Path, s.Ranges[i])
		}
	}
}

// TestTrialJob: a proposed point becomes one job, with each value at its
// path, and the point kept is what the job got.
func TestTrialJob(t *testing.T) {
	f, err := ParseFile([]byte(tpeFile))
	if err != nil {
		t.Fatal(err)
	}
	plan, kept, err := f.Spec.Trial([]float64{0.001234567891, 0.5000000001, 99.6, 1})
	if err != nil {
		t.Fatal(err)
	}
	base := `{"opt": {"lr": 0.1, "name": "sgd"}, "batch": 32, "hiddenLayers": [{"dropout": 0.2}]}`
	jobs, err := plan.Apply([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"opt": {"lr": 0.00123457, "name": "rmsprop"}, "batch": 100, "hiddenLayers": [{"dropout": 0.5}]}`
	if len(jobs) != 1 || string(jobs[0]) != want {
		t.Errorf("job = %s\nwant  %s", jobs, want)
	}
	wantKept := []float64{0.00123457, 0.5, 100, 1}
	for i := range wantKept {
		if kept[i] != wantKept[i] {
			t.Errorf("kept[%d] = %v, want %v", i, kept[i], wantKept[i])
		}
	}
	if _, _, err := f.Spec.Trial([]float64{0.01, 0.1, 20, 2}); err == nil {
		t.Error("choice index 2 of 2: no error")
	}
}

// TestParseFileTPEErrors: the combinations a tpe sweep refuses, each with
// what to do instead.
func TestParseFileTPEErrors(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"unknown method", "method: bayes\n", `unknown method "bayes"`},
		{"tpe with grid", "method: tpe\ntrials: 5\nspace: {a: lin:0:1}\ngrid: {b: [1, 2]}\n", "method tpe takes no grid"},
		{"tpe with random", "method: tpe\ntrials: 5\nrandom: 3\nspace: {a: lin:0:1}\n", "method tpe takes no random"},
		{"tpe without trials", "method: tpe\nspace: {a: lin:0:1}\n", "add trials: N"},
		{"tpe with zero trials", "method: tpe\ntrials: 0\nspace: {a: lin:0:1}\n", "add trials: N"},
		{"tpe without space", "method: tpe\ntrials: 5\n", "needs a space"},
		{"tpe with ranges", "method: tpe\ntrials: 5\nranges: {a: lin:0:1}\n", "rename the key to space"},
		{"tpe bad range", "method: tpe\ntrials: 5\nspace: {a: lin:2:1}\n", "LO 2 is above HI 1"},
		{"tpe empty range", "method: tpe\ntrials: 5\nspace: {a: lin:1:1}\n", "single value"},
		{"tpe fractional trials", "method: tpe\ntrials: 2.5\nspace: {a: lin:0:1}\n", `trials: want a whole number, not "2.5"`},
		{"tpe zero parallel", "method: tpe\ntrials: 5\nparallel: 0\nspace: {a: lin:0:1}\n", "parallel: want at least 1"},
		{"tpe too big", "method: tpe\ntrials: 2000000\nspace: {a: lin:0:1}\n", "more than the limit"},
		{"trials without tpe", "random: 3\ntrials: 5\nranges: {a: lin:0:1}\n", "trials: is the budget of method: tpe"},
		{"parallel without tpe", "random: 3\nparallel: 2\nranges: {a: lin:0:1}\n", "parallel: applies to method: tpe"},
		{"space without tpe", "random: 3\nspace: {a: lin:0:1}\n", "space: is what method: tpe searches"},
		{"grid method without grid", "method: grid\nrandom: 3\nranges: {a: lin:0:1}\n", "method grid needs a grid"},
		{"random method without random", "method: random\ngrid: {a: [1]}\n", "method random needs random: N"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFile([]byte("base: job.json\n" + tt.file))
			if err == nil {
				_, err = f.Spec.Size()
			}
			if err == nil || !(errors.Is(err, ErrSyntax) || errors.Is(err, ErrTooBig)) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestParseFileConstantLiar: constantLiar takes YAML's true or false,
// defaults to off, reaches the sampler, and is refused outside method tpe
// or with any other value, with the line and what to do.
func TestParseFileConstantLiar(t *testing.T) {
	const tpeHead = "base: job.json\nmethod: tpe\ntrials: 5\nspace: {a: lin:0:1}\n"
	tests := []struct {
		name, file string
		want       bool
		err        string // a part of the error; "" for none
	}{
		{name: "true", file: tpeHead + "constantLiar: true\n", want: true},
		{name: "false", file: tpeHead + "constantLiar: false\n", want: false},
		{name: "absent", file: tpeHead, want: false},
		{name: "number", file: tpeHead + "constantLiar: 1\n", err: `line 5: constantLiar: want true or false, not "1"`},
		{name: "yes", file: tpeHead + "constantLiar: yes\n", err: `line 5: constantLiar: want true or false, not "yes"`},
		{name: "quoted", file: tpeHead + "constantLiar: \"true\"\n", err: `constantLiar: want true or false, not "true"`},
		{name: "list", file: tpeHead + "constantLiar: [true]\n", err: "line 5: constantLiar: want true or false"},
		{name: "method random", file: "base: job.json\nmethod: random\nrandom: 3\nranges: {a: lin:0:1}\nconstantLiar: true\n",
			err: "line 5: constantLiar: applies to method: tpe only; add method: tpe, or drop it"},
		{name: "no method", file: "base: job.json\ngrid: {a: [1, 2]}\nconstantLiar: false\n",
			err: "line 3: constantLiar: applies to method: tpe only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFile([]byte(tt.file))
			if tt.err != "" {
				if err == nil || !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want a syntax error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Spec.ConstantLiar != tt.want {
				t.Errorf("ConstantLiar = %v, want %v", f.Spec.ConstantLiar, tt.want)
			}
			if def, err := f.Spec.Definition(); err != nil || strings.Contains(string(def), `"constantLiar"`) != tt.want {
				t.Errorf("definition %s (%v): constantLiar recorded %v, want %v", def, err, !tt.want, tt.want)
			}
		})
	}
}

// TestSamplerConstantLiar: the spec's ConstantLiar is the sampler's. With
// a running trial the two samplers propose differently; without one the
// same (the liar only changes how running trials count).
func TestSamplerConstantLiar(t *testing.T) {
	f, err := ParseFile([]byte(tpeFile))
	if err != nil {
		t.Fatal(err)
	}
	history := func(running bool) []tpe.Trial {
		var trials []tpe.Trial
		for i := range 20 {
			p := []float64{1e-3 * float64(i+1), 0.02 * float64(i), float64(16 + 10*i), float64(i % 2)}
			tr := tpe.Trial{Number: i, Params: p, State: tpe.Complete, Value: float64((i * 7) % 20)}
			if running && i%3 == 0 {
				tr.State, tr.Value = tpe.Running, 0
			}
			trials = append(trials, tr)
		}
		return trials
	}
	propose := func(liar bool, trials []tpe.Trial) []float64 {
		s := f.Spec
		s.ConstantLiar = liar
		sm, err := s.Sampler(false)
		if err != nil {
			t.Fatal(err)
		}
		return sm.Propose(len(trials), trials)
	}
	if on, off := propose(true, history(true)), propose(false, history(true)); slices.Equal(on, off) {
		t.Errorf("with running trials, liar on and off both propose %v", on)
	}
	if on, off := propose(true, history(false)), propose(false, history(false)); !slices.Equal(on, off) {
		t.Errorf("without running trials, liar on proposes %v, off %v", on, off)
	}
}
