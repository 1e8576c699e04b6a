package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/prune"
)

const base = `{
  "projectName": "wine",
  "scriptName": "nn.py",
  "hiddenLayers": [
    {"activation": "relu", "dropout": 0.2},
    {"activation": "relu", "dropout": 0.2}
  ],
  "opt": {"name": "adam", "lr": 0.1},
  "empty": {},
  "esc\u0061ped": 1,
  "dot.key": 5,
  "tag": "x"
}`

// mustGrid parses grid flags.
func mustGrid(tb testing.TB, args ...string) []Axis {
	tb.Helper()
	var out []Axis
	for _, a := range args {
		ax, err := ParseGrid(a)
		if err != nil {
			tb.Fatalf("ParseGrid(%q): %v", a, err)
		}
		out = append(out, ax)
	}
	return out
}

// mustRanges parses range flags.
func mustRanges(tb testing.TB, args ...string) []Range {
	tb.Helper()
	var out []Range
	for _, a := range args {
		r, err := ParseRange(a)
		if err != nil {
			tb.Fatalf("ParseRange(%q): %v", a, err)
		}
		out = append(out, r)
	}
	return out
}

// expand plans s and applies it to b.
func expand(s *Spec, b string) ([]string, error) {
	p, err := s.Plan()
	if err != nil {
		return nil, err
	}
	jobs, err := p.Apply([]byte(b))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(jobs))
	for i, j := range jobs {
		if !json.Valid(j) {
			return nil, fmt.Errorf("job %d is not valid JSON: %s", i, j)
		}
		out[i] = string(j)
	}
	return out, nil
}

// field decodes job and returns the value at the dotted path.
func field(tb testing.TB, job, path string) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal([]byte(job), &v); err != nil {
		tb.Fatal(err)
	}
	p, err := ParsePath(path)
	if err != nil {
		tb.Fatal(err)
	}
	for _, seg := range p.segs {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			var i int
			fmt.Sscan(seg, &i)
			v = x[i]
		default:
			tb.Fatalf("%s: %s is not a container in %s", path, seg, job)
		}
	}
	return v
}

func TestGridExpansion(t *testing.T) {
	tests := []struct {
		name     string
		base     string
		grid     []string
		allowNew bool
		// want lists, per job, path=JSON value checks.
		want [][]string
	}{
		{
			name: "product, last axis fastest",
			base: base,
			grid: []string{"opt.lr=0.1,0.01", "opt.name=adam,sgd,rmsprop"},
			want: [][]string{
				{`opt.lr=0.1`, `opt.name="adam"`}, {`opt.lr=0.1`, `opt.name="sgd"`}, {`opt.lr=0.1`, `opt.name="rmsprop"`},
				{`opt.lr=0.01`, `opt.name="adam"`}, {`opt.lr=0.01`, `opt.name="sgd"`}, {`opt.lr=0.01`, `opt.name="rmsprop"`},
			},
		},
		{
			name: "array index",
			base: base,
			grid: []string{"hiddenLayers.1.dropout=0.3,0.5"},
			want: [][]string{{`hiddenLayers.1.dropout=0.3`, `hiddenLayers.0.dropout=0.2`}, {`hiddenLayers.1.dropout=0.5`}},
		},
		{
			name: "JSON values: objects, arrays, bools, null, quoted strings",
			base: base,
			grid: []string{`tag=[1,2],{"a":[3,4]},true,null,"0.1",plain text`},
			want: [][]string{{`tag=[1,2]`}, {`tag={"a":[3,4]}`}, {`tag=true`}, {`tag=null`}, {`tag="0.1"`}, {`tag="plain text"`}},
		},
		{
			name: "replace a whole object",
			base: base,
			grid: []string{`opt={"name":"sgd"}`},
			want: [][]string{{`opt={"name":"sgd"}`}},
		},
		{
			name: "escaped key in the base",
			base: base,
			grid: []string{`escaped=2`},
			want: [][]string{{`escaped=2`}},
		},
		{
			name: "dot in a key",
			base: base,
			grid: []string{`dot\.key=6`},
			want: [][]string{{`dot\.key=6`}},
		},
		{
			name:     "new key with --allow-new",
			base:     base,
			grid:     []string{`seed=1,2`, `empty.x=7`, `opt.momentum=0.9`, `a.b.c=1`},
			allowNew: true,
			want:     [][]string{{`seed=1`, `empty={"x":7}`, `opt.momentum=0.9`, `a={"b":{"c":1}}`, `opt.lr=0.1`}, {`seed=2`}},
		},
		{
			name: "no grid: the base once",
			base: base,
			want: [][]string{{`tag="x"`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Spec{Grid: mustGrid(t, tt.grid...), AllowNew: tt.allowNew}
			jobs, err := expand(s, tt.base)
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) != len(tt.want) {
				t.Fatalf("got %d jobs, want %d: %q", len(jobs), len(tt.want), jobs)
			}
			for i, checks := range tt.want {
				for _, c := range checks {
					path, wantJSON, _ := strings.Cut(c, "=")
					var want any
					if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
						t.Fatal(err)
					}
					got := field(t, jobs[i], path)
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("job %d: %s = %v, want %v\n%s", i, path, got, want, jobs[i])
					}
				}
			}
		})
	}
}

func TestApplyKeepsText(t *testing.T) {
	s := &Spec{Grid: mustGrid(t, "opt.lr=1e-3", "hiddenLayers.0.dropout=0.50")}
	jobs, err := expand(s, base)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(strings.Replace(base, `"lr": 0.1`, `"lr": 1e-3`, 1), `"dropout": 0.2`, `"dropout": 0.50`, 1)
	if jobs[0] != want {
		t.Errorf("job =\n%s\nwant (base with two values changed, layout and key order kept)\n%s", jobs[0], want)
	}
}

func TestRandom(t *testing.T) {
	ranges := []string{"opt.lr=log:1e-5:1e-1", "hiddenLayers.0.dropout=lin:0.1:0.5", "tag=int:-3:3", "opt.name=choice:adam,sgd"}
	plan := func(seed uint64) *Plan {
		t.Helper()
		s := &Spec{Random: 200, Ranges: mustRanges(t, ranges...), Seed: seed}
		p, err := s.Plan()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b, c := plan(42), plan(42), plan(43)
	if len(a.Points) != 200 {
		t.Fatalf("got %d points, want 200", len(a.Points))
	}
	t.Run("same seed, same points", func(t *testing.T) {
		if fmt.Sprint(a.Points) != fmt.Sprint(b.Points) {
			t.Error("two plans with seed 42 differ")
		}
	})
	t.Run("other seed, other points", func(t *testing.T) {
		if fmt.Sprint(a.Points) == fmt.Sprint(c.Points) {
			t.Error("seeds 42 and 43 drew the same points")
		}
	})
	t.Run("pinned draws", func(t *testing.T) {
		// The first point for seed 42, fixed: a change in the generator or
		// its seeding would change every sweep users have rerun by seed.
		got := fmt.Sprintf("%s", a.Points[0])
		if want := pinnedFirstPoint; got != want {
			t.Errorf("first point = %s, want %s", got, want)
		}
	})
	ints, choices := map[string]bool{}, map[string]bool{}
	var lrLow, lrHigh int
	for _, pt := range a.Points {
		var lr, drop float64
		var n int
		if err := errors.Join(json.Unmarshal(pt[0], &lr), json.Unmarshal(pt[1], &drop), json.Unmarshal(pt[2], &n)); err != nil {
			t.Fatal(err)
		}
		if lr < 1e-5 || lr > 1e-1 || drop < 0.1 || drop > 0.5 || n < -3 || n > 3 {
			t.Fatalf("point %s out of its ranges", pt)
		}
		if lr < 1e-3 {
			lrLow++
		} else {
			lrHigh++
		}
		ints[string(pt[2])] = true
		choices[string(pt[3])] = true
	}
	t.Run("int is inclusive", func(t *testing.T) {
		if len(ints) != 7 || !ints["-3"] || !ints["3"] {
			t.Errorf("ints drawn = %v, want all of -3..3", ints)
		}
	})
	t.Run("choice draws each", func(t *testing.T) {
		if len(choices) != 2 {
			t.Errorf("choices drawn = %v", choices)
		}
	})
	t.Run("log is uniform in log space", func(t *testing.T) {
		// Half the log range lies below 1e-3; uniform in linear space
		// would put about 1% there.
		if lrLow < 60 || lrHigh < 60 {
			t.Errorf("log draws below/above 1e-3: %d/%d, want about 100/100", lrLow, lrHigh)
		}
	})
}

// pinnedFirstPoint is the first point of TestRandom's plan with seed 42.
const pinnedFirstPoint = `[0.000372318 0.466556 1 "sgd"]`

func TestGridTimesRandom(t *testing.T) {
	s := &Spec{
		Grid:   mustGrid(t, "opt.name=adam,sgd,rmsprop"),
		Random: 4, Ranges: mustRanges(t, "opt.lr=log:1e-4:1"), Seed: 7,
	}
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Points) != 12 {
		t.Fatalf("got %d points, want 4 random × 3 grid = 12", len(p.Points))
	}
	if got := fmt.Sprint(p.Paths); got != "[opt.name opt.lr]" {
		t.Errorf("paths = %s, want grid then ranges", got)
	}
	for i, pt := range p.Points {
		// Each random point is crossed with the whole grid: jobs 3r..3r+2
		// share lr and run through the names.
		first := p.Points[i/3*3]
		if string(pt[1]) != string(first[1]) {
			t.Errorf("point %d lr = %s, want %s (same random point as job %d)", i, pt[1], first[1], i/3*3)
		}
		if want := s.Grid[0].Values[i%3]; string(pt[0]) != string(want) {
			t.Errorf("point %d name = %s, want %s", i, pt[0], want)
		}
	}
	if string(p.Points[0][1]) == string(p.Points[3][1]) {
		t.Errorf("random points 0 and 1 are the same: %s", p.Points[0][1])
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		grid     []string
		ranges   []string
		random   int
		allowNew bool
		want     error
		wantMsg  string
	}{
		{name: "missing path", grid: []string{"nope=1"}, want: ErrNoPath, wantMsg: `has no key "nope"`},
		{name: "missing nested path", grid: []string{"opt.nope=1"}, want: ErrNoPath, wantMsg: `opt has no key "nope"`},
		{name: "index out of range", grid: []string{"hiddenLayers.2.dropout=1"}, want: ErrNoPath, wantMsg: "index 2 is out of range"},
		{name: "index out of range even with allow-new", grid: []string{"hiddenLayers.5=1"}, allowNew: true, want: ErrNoPath},
		{name: "not an index", grid: []string{"hiddenLayers.x=1"}, want: ErrNoPath, wantMsg: "not an index"},
		{name: "into a scalar", grid: []string{"tag.x=1"}, allowNew: true, want: ErrNoPath, wantMsg: "tag is a string"},
		{name: "empty value", grid: []string{"tag=a,,b"}, want: ErrSyntax, wantMsg: "empty value"},
		{name: "no values", grid: []string{"tag="}, want: ErrSyntax, wantMsg: "no values"},
		{name: "no equals", grid: []string{"tag"}, want: ErrSyntax},
		{name: "empty path part", grid: []string{"opt..lr=1"}, want: ErrSyntax},
		{name: "path twice", grid: []string{"tag=1", "tag=2"}, want: ErrSyntax, wantMsg: "set twice"},
		{name: "overlapping paths", grid: []string{"opt={}", "opt.lr=1"}, want: ErrSyntax, wantMsg: "overlap"},
		{name: "two new paths add one key", grid: []string{"a.b=1", "a.c=2"}, allowNew: true, want: ErrSyntax, wantMsg: `both add "a"`},
		{name: "bad range kind", ranges: []string{"opt.lr=exp:1:2"}, random: 1, want: ErrSyntax, wantMsg: "unknown range kind"},
		{name: "range without kind", ranges: []string{"opt.lr=1:2"}, random: 1, want: ErrSyntax},
		{name: "range with three bounds", ranges: []string{"opt.lr=lin:1:2:3"}, random: 1, want: ErrSyntax},
		{name: "range bound not a number", ranges: []string{"opt.lr=lin:a:2"}, random: 1, want: ErrSyntax},
		{name: "lo above hi", ranges: []string{"opt.lr=lin:2:1"}, random: 1, want: ErrSyntax, wantMsg: "LO 2 is above HI 1"},
		{name: "int lo above hi", ranges: []string{"tag=int:5:1"}, random: 1, want: ErrSyntax},
		{name: "int not integer", ranges: []string{"tag=int:1.5:3"}, random: 1, want: ErrSyntax},
		{name: "log lo zero", ranges: []string{"opt.lr=log:0:1"}, random: 1, want: ErrSyntax, wantMsg: "0 < LO"},
		{name: "log lo negative", ranges: []string{"opt.lr=log:-1:1"}, random: 1, want: ErrSyntax},
		{name: "infinite bound", ranges: []string{"opt.lr=lin:0:inf"}, random: 1, want: ErrSyntax},
		{name: "empty choice", ranges: []string{"tag=choice:"}, random: 1, want: ErrSyntax},
		{name: "choice with empty value", ranges: []string{"tag=choice:a,"}, random: 1, want: ErrSyntax},
		{name: "range without random", ranges: []string{"opt.lr=lin:0:1"}, want: ErrSyntax, wantMsg: "--random"},
		{name: "random without range", random: 3, want: ErrSyntax, wantMsg: "range"},
		{name: "negative random", random: -1, want: ErrSyntax},
		{name: "grid and range on one path", grid: []string{"tag=1"}, ranges: []string{"tag=int:1:2"}, random: 1, want: ErrSyntax, wantMsg: "set twice"},
		{name: "random too big", ranges: []string{"tag=int:1:2"}, random: 999_999_999_999, want: ErrTooBig, wantMsg: "999999999999 jobs"},
		{name: "random times grid too big", grid: []string{"opt.lr=1,2"}, ranges: []string{"tag=int:1:2"}, random: 600_000, want: ErrTooBig, wantMsg: "1200000 jobs"},
		{name: "too big", grid: []string{"a=" + strings.Repeat("1,", 999) + "1", "b=" + strings.Repeat("1,", 999) + "1", "c=1,2"}, allowNew: true, want: ErrTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Spec{Random: tt.random, AllowNew: tt.allowNew}
			err := func() error {
				for _, g := range tt.grid {
					a, err := ParseGrid(g)
					if err != nil {
						return err
					}
					s.Grid = append(s.Grid, a)
				}
				for _, r := range tt.ranges {
					rg, err := ParseRange(r)
					if err != nil {
						return err
					}
					s.Ranges = append(s.Ranges, rg)
				}
				_, err := expand(s, base)
				return err
			}()
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{in: "0.1,0.01", want: `[0.1 0.01]`},
		{in: "adam, rmsprop", want: `["adam" "rmsprop"]`},
		{in: `[64,32],[128, 64]`, want: `[[64,32] [128,64]]`},
		{in: `{"a":1,"b":2},3`, want: `[{"a":1,"b":2} 3]`},
		{in: `"a,b",c`, want: `["a,b" "c"]`},
		{in: `01,1e-3,-2`, want: `["01" 1e-3 -2]`},
		{in: `<x>&`, want: `["<x>&"]`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			vals, err := ParseValues(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%s", vals); got != tt.want {
				t.Errorf("ParseValues(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseFile(t *testing.T) {
	const file = `
name: wine-lr
job:
  scriptName: nn.py
  projectName: wine
  opt: {name: adam, lr: 0.1}
  layers: [1, 2.50, "3"]
grid:
  opt.name: [sgd, adam]
  opt.lr: [1e-3, 0.5]
random: 3
ranges:
  layers.0: int:1:9
seed: 5
`
	f, err := ParseFile([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"scriptName": "nn.py", "projectName": "wine", "opt": {"name": "adam", "lr": 0.1}, "layers": [1, 2.50, "3"]}`; string(f.Job) != want {
		t.Errorf("job = %s, want %s", f.Job, want)
	}
	if f.Name != "wine-lr" || !f.HasSeed || f.Spec.Seed != 5 || f.Spec.Random != 3 {
		t.Errorf("file = %+v", f)
	}
	jobs, err := expand(&f.Spec, string(f.Job))
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 12 {
		t.Fatalf("got %d jobs, want 3 × 2 × 2", len(jobs))
	}
	if got := field(t, jobs[1], "opt.lr"); got != 0.5 {
		t.Errorf("job 1 opt.lr = %v, want 0.5 (grid order kept, last fastest)", got)
	}
	if got := field(t, jobs[2], "opt.name"); got != "adam" {
		t.Errorf("job 2 opt.name = %v, want adam", got)
	}

	bad := []struct{ name, file, want string }{
		{name: "unknown key", file: "grd:\n  a: [1]\n", want: "line 1: unknown key grd"},
		{name: "grid not a list", file: "grid:\n  a: 1\n", want: "want a list"},
		{name: "empty grid list", file: "grid:\n  a: []\n", want: "no values"},
		{name: "bad range", file: "random: 1\nranges:\n  a: log:0:1\n", want: "0 < LO"},
		{name: "fractional random", file: "random: 2.5\nranges:\n  a: lin:0:1\n", want: `line 1: random: want a whole number, not "2.5"`},
		{name: "negative random", file: "random: -1\n", want: `random: want a whole number, not "-1"`},
		{name: "fractional seed", file: "seed: 1.5\n", want: `line 1: seed: want a whole number, not "1.5"`},
		{name: "base and job", file: "base: job.json\njob: {a: 1}\n", want: "not both"},
		{name: "job not a mapping", file: "job: [1]\n", want: "must be a mapping"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile([]byte(tt.file))
			if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseFile error = %v, want ErrSyntax containing %q", err, tt.want)
			}
		})
	}
}

func TestDefinition(t *testing.T) {
	s := &Spec{Grid: mustGrid(t, "opt.name=adam,sgd"), Random: 2, Ranges: mustRanges(t, "opt.lr=log:1e-4:1"), Seed: 9}
	d, err := s.Definition()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"grid":[{"path":"opt.name","values":["adam","sgd"]}],"random":2,"ranges":[{"path":"opt.lr","range":"log:1e-4:1"}],"seed":9}`
	if string(d) != want {
		t.Errorf("Definition = %s, want %s", d, want)
	}
}

func BenchmarkExpand10k(b *testing.B) {
	s := &Spec{Grid: mustGrid(b, "opt.lr="+seq(100), "hiddenLayers.1.dropout="+seq(100))}
	for b.Loop() {
		p, err := s.Plan()
		if err != nil {
			b.Fatal(err)
		}
		jobs, err := p.Apply([]byte(base))
		if err != nil || len(jobs) != 10_000 {
			b.Fatalf("Apply = %d jobs, %v", len(jobs), err)
		}
	}
}

// seq returns "1,2,...,n".
func seq(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprint(i + 1)
	}
	return strings.Join(parts, ",")
}

// TestParseFileRefusesAliases: an alias is refused with its line before
// anything expands it; a self-referring one used to overflow the stack, a
// few nested ones to take gigabytes.
func TestParseFileRefusesAliases(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{name: "self", file: "grid: {x: &a [1, *a]}\n", want: "line 1: YAML aliases (*a)"},
		{name: "nested", file: "job:\n  a: &a [x, x, x]\n  b: &b [*a, *a, *a]\ngrid:\n  x: [*b, *b]\n", want: "line 3: YAML aliases (*a)"},
		{name: "scalar", file: "random: &n 3\nseed: *n\n", want: "line 2: YAML aliases (*n)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile([]byte(tt.file))
			if !errors.Is(err, ErrAlias) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseFile error = %v, want ErrAlias containing %q", err, tt.want)
			}
		})
	}
}

func TestParseFileObjective(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want objective.Objective
		err  string // a part of the error; "" for none
	}{
		{yaml: "objective: {name: cvMse, goal: minimize}", want: objective.Objective{Name: "cvMse", Goal: objective.Minimize}},
		{yaml: "objective: {name: acc, goal: max}", want: objective.Objective{Name: "acc", Goal: objective.Maximize}},
		{yaml: "objective: testMse:min", want: objective.Objective{Name: "testMse", Goal: objective.Minimize}},
		{yaml: "name: s", want: objective.Objective{}},
		{yaml: "objective: {name: acc}", err: "line 1: objective: no goal"},
		{yaml: "objective: {name: acc, goal: up}", err: `goal "up" is neither`},
		{yaml: "objective: {name: acc, goal: max, direction: up}", err: "unknown key direction"},
		{yaml: "objective: acc", err: "names no goal"},
		{yaml: "objective: [acc]", err: "want {name: NAME"},
		{yaml: "objective: {goal: min}", err: "no name"},
	} {
		f, err := ParseFile([]byte(tc.yaml))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrSyntax) {
				t.Errorf("%s: err = %v, want ErrSyntax with %q", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil || f.Objective != tc.want {
			t.Errorf("%s: %+v, %v; want %v", tc.yaml, f, err, tc.want)
		}
	}
}

func TestParseFilePruner(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want prune.Rule
		err  string // a part of the error; "" for none
	}{
		{yaml: "name: s", want: prune.Rule{}},
		{yaml: "pruner: {rule: asha, minStep: 1, reduction: 3, minEarlyStoppingRate: 0, series: fold0}",
			want: prune.Rule{Kind: "asha", MinStep: 1, Reduction: 3, Series: "fold0"}},
		{yaml: "pruner: {rule: asha}", want: prune.Rule{Kind: "asha", MinStep: 1, Reduction: 3}},
		{yaml: "pruner: {rule: asha, metric: valLoss}", want: prune.Rule{Kind: "asha", MinStep: 1, Reduction: 3, Metric: "valLoss"}},
		{yaml: "pruner: {rule: asha, metric: 3}", err: `metric: want a metric name, not "3"`},
		{yaml: "pruner:\n  rule: asha\n  minStep: 0.5\n  reduction: 2\n", want: prune.Rule{Kind: "asha", MinStep: 0.5, Reduction: 2}},
		{yaml: "pruner: {rule: median, startupRuns: 5, warmupSteps: 0}", want: prune.Rule{Kind: "median", StartupRuns: 5}},
		{yaml: "pruner: {rule: median, startupRuns: 0, warmupSteps: 2.5}", want: prune.Rule{Kind: "median", WarmupSteps: 2.5}},
		{yaml: "pruner: {rule: median}", want: prune.Rule{Kind: "median", StartupRuns: 5}},
		{yaml: "pruner: {rule: none}", want: prune.Rule{}},
		{yaml: "pruner: asha", want: prune.Rule{Kind: "asha", MinStep: 1, Reduction: 3}},
		{yaml: "pruner: median:startupRuns=2", want: prune.Rule{Kind: "median", StartupRuns: 2}},
		{yaml: "pruner: none", want: prune.Rule{}},
		{yaml: "pruner: {minStep: 1}", err: "line 1: pruner: no rule; add rule: asha or rule: median"},
		{yaml: "pruner: {rule: hyperband}", err: `line 1: pruner: unknown rule "hyperband"; want asha, median or none`},
		{yaml: "pruner: {rule: [asha]}", err: "line 1: pruner: rule: want asha, median or none"},
		{yaml: "pruner:\n  rule: asha\n  eta: 3\n", err: "line 3: pruner: unknown key eta for rule asha (want rule, minStep, reduction, minEarlyStoppingRate, series, metric)"},
		{yaml: "pruner: {rule: median, reduction: 3}", err: "unknown key reduction for rule median (want rule, startupRuns, warmupSteps, series, metric)"},
		{yaml: "pruner: {rule: none, reduction: 3}", err: "line 1: pruner: rule none takes no settings; remove reduction"},
		{yaml: "pruner:\n  rule: asha\n  reduction: 2.5\n", err: `line 3: pruner: reduction: want a whole number, not "2.5"`},
		{yaml: "pruner: {rule: asha, reduction: \"3\"}", err: `reduction: want a whole number, not "3"`},
		{yaml: "pruner: {rule: asha, minStep: one}", err: `minStep: want a number, not "one"`},
		{yaml: "pruner: {rule: asha, minStep: .nan}", err: `minStep=".nan" is not a number`},
		{yaml: "pruner: {rule: median, warmupSteps: [1]}", err: "warmupSteps: want a single value"},
		{yaml: "pruner: {rule: asha, series: true}", err: `series: want a series name, not "true"`},
		{yaml: "pruner:\n  rule: asha\n  reduction: 1\n", err: "line 3: pruner: asha: reduction 1 must be 2 or more"},
		{yaml: "pruner: {rule: median, startupRuns: -1}", err: "startupRuns -1 must be 0 or more"},
		{yaml: "pruner: asha:eta=3", err: `line 1: pruner: asha has no setting "eta"`},
		{yaml: "pruner: [asha]", err: "line 1: pruner: want {rule: asha|median"},
	} {
		f, err := ParseFile([]byte(tc.yaml))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrSyntax) {
				t.Errorf("%s: err = %v, want ErrSyntax with %q", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil || f.Pruner != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.yaml, f, err, tc.want)
		}
	}
}
