package jobinput

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/prune"
	"github.com/mljob/mljob/internal/sweep"
)

// MustWriteFile writes content to name in dir and returns its path.
func MustWriteFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestSyntaxError: checkJSON places the bad byte and says what is wrong
// with no separator of its caller's; Parse words the place.
func TestSyntaxError(t *testing.T) {
	se := checkJSON([]byte("{\n  \"a\": x\n}"))
	if se == nil || se.Line != 2 || se.Col != 8 || !strings.HasPrefix(se.Error(), "invalid JSON: ") {
		t.Fatalf("checkJSON = %#v, want line 2, col 8, a message starting with the problem", se)
	}
	if got := (&SyntaxError{Err: errors.New("bad")}).Error(); got != "invalid JSON: bad" {
		t.Errorf("unplaced SyntaxError = %q, want %q", got, "invalid JSON: bad")
	}
	if checkJSON([]byte(`{"a":1}`)) != nil {
		t.Error("checkJSON refuses valid JSON")
	}
	_, err := Parse("f", []byte("{\n  \"a\": x\n}"))
	var e *Error
	if !errors.As(err, &e) || e.Kind != BadJSON || !strings.HasPrefix(e.Msg, "f:2:8: invalid JSON: ") || !errors.As(err, &se) {
		t.Fatalf("Parse error = %#v, want a BadJSON *Error at f:2:8 wrapping a *SyntaxError", err)
	}
}

// TestReadSweep: the sweep file and the flags merge (grid and ranges
// appended, --random, --seed and --name win), and each problem has its kind.
func TestReadSweep(t *testing.T) {
	dir := t.TempDir()
	MustWriteFile(t, dir, "job.json", `{"scriptName":"s.py","projectName":"p","lr":1,"x":0}`)
	withBase := MustWriteFile(t, dir, "base.yaml", "base: job.json\nname: file-name\ngrid:\n  lr: [1, 2]\nrandom: 3\nranges:\n  x: int:1:9\nseed: 5\n")
	noBase := MustWriteFile(t, dir, "nobase.yaml", "grid:\n  lr: [1, 2]\n")
	typo := MustWriteFile(t, dir, "typo.yaml", "grd:\n  lr: [1]\n")
	alias := MustWriteFile(t, dir, "alias.yaml", "job: &j\n  scriptName: s.py\ngrid:\n  lr: *j\n")
	badName := MustWriteFile(t, dir, "badname.yaml", "name: '123'\ngrid:\n  lr: [1]\n")
	axis, err := sweep.ParseGrid("act=relu,tanh")
	if err != nil {
		t.Fatal(err)
	}

	sw, err := ReadSweep(withBase, Flags{Spec: sweep.Spec{Grid: []sweep.Axis{axis}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(sw.Spec.Grid) != 2 || sw.Spec.Grid[1].Path.String() != "act" || sw.Spec.Random != 3 || sw.Spec.Seed != 5 || !sw.SeedSet ||
		sw.Name != "file-name" || len(sw.Bases) != 1 || !sw.IsSweep() {
		t.Errorf("file + --grid: %+v", sw)
	}
	sw, err = ReadSweep(withBase, Flags{Spec: sweep.Spec{Random: 7, Seed: 9}, SeedSet: true, Name: "flag-name"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if sw.Spec.Random != 7 || sw.Spec.Seed != 9 || sw.Name != "flag-name" {
		t.Errorf("flags win: random %d, seed %d, name %q", sw.Spec.Random, sw.Spec.Seed, sw.Name)
	}
	// The objective: the flag's, else the file's.
	withObj := MustWriteFile(t, dir, "obj.yaml", "base: job.json\nobjective: {name: acc, goal: max}\ngrid:\n  lr: [1]\n")
	acc, mse := objective.Objective{Name: "acc", Goal: objective.Maximize}, objective.Objective{Name: "mse", Goal: objective.Minimize}
	if sw, err := ReadSweep(withObj, Flags{}, false); err != nil || sw.Objective != acc {
		t.Errorf("file's objective: %+v, %v", sw, err)
	}
	if sw, err := ReadSweep(withObj, Flags{Objective: mse}, false); err != nil || sw.Objective != mse {
		t.Errorf("flag's objective: %+v, %v", sw, err)
	}
	// The pruner: the flag's (none included), else the file's.
	withPruner := MustWriteFile(t, dir, "pruner.yaml", "base: job.json\npruner: {rule: asha, reduction: 2}\ngrid:\n  lr: [1]\n")
	asha2, median := prune.Rule{Kind: "asha", MinStep: 1, Reduction: 2}, prune.Rule{Kind: "median", StartupRuns: 5}
	for _, tc := range []struct {
		name  string
		path  string
		flags Flags
		want  prune.Rule
	}{
		{"file's", withPruner, Flags{}, asha2},
		{"flag's over the file's", withPruner, Flags{Pruner: median, PrunerSet: true}, median},
		{"flag's none over the file's", withPruner, Flags{PrunerSet: true}, prune.Rule{}},
		{"flag's without a file", "", Flags{Pruner: median, PrunerSet: true}, median},
		{"none anywhere", withObj, Flags{}, prune.Rule{}},
	} {
		if sw, err := ReadSweep(tc.path, tc.flags, tc.path == ""); err != nil || sw.Pruner != tc.want {
			t.Errorf("%s pruner: %+v, %v; want %+v", tc.name, sw, err, tc.want)
		}
	}
	if sw, err := ReadSweep("", Flags{}, true); err != nil || sw.IsSweep() {
		t.Errorf("no sweep: %+v, %v", sw, err)
	}

	for _, tt := range []struct {
		name, path string
		haveJobs   bool
		kind       Kind
		msg        string
	}{
		{"base and job files", withBase, true, BaseAndJobs, withBase + " names its base job, and job files were given too"},
		{"no base, no job files", noBase, false, NoBase, noBase + ": no base job"},
		{"unknown key", typo, true, BadSweepFile, typo + ": line 1: unknown key grd"},
		{"alias", alias, false, SweepAlias, alias + ": "},
		{"bad name", badName, true, Invalid, badName + ": name: "},
		{"missing file", filepath.Join(dir, "nope.yaml"), true, Invalid, "read " + filepath.Join(dir, "nope.yaml") + ": "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadSweep(tt.path, Flags{}, tt.haveJobs)
			var e *Error
			if !errors.As(err, &e) || e.Kind != tt.kind || !strings.HasPrefix(e.Msg, tt.msg) {
				t.Fatalf("ReadSweep error = %#v, want kind %d, a message starting %q", err, tt.kind, tt.msg)
			}
		})
	}
}

// TestBuild: a submit's jobs are planned, read, counted, expanded and
// checked, and each problem has its kind.
func TestBuild(t *testing.T) {
	dir := t.TempDir()
	MustWriteFile(t, dir, "s.py", "")
	job := MustWriteFile(t, dir, "job.json", `{"scriptName":"s.py","projectName":"p","lr":1}`)
	c := &Checker{ScriptsDir: dir, DataDir: dir, Priority: 2}
	grid := func(s string) sweep.Spec {
		a, err := sweep.ParseGrid(s)
		if err != nil {
			t.Fatal(err)
		}
		return sweep.Spec{Grid: []sweep.Axis{a}}
	}

	acc := objective.Objective{Name: "acc", Goal: objective.Maximize}
	asha := prune.Rule{Kind: "asha", MinStep: 2, Reduction: 3}
	b, err := c.Build(&Sweep{Spec: grid("lr=1,2,3"), Name: "n", Objective: acc, Pruner: asha}, []string{job}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range b.NewJobs() {
		if j.Objective != acc || j.Pruner != asha {
			t.Errorf("job's objective %v and pruner %+v, want the sweep's %v and %+v", j.Objective, j.Pruner, acc, asha)
		}
	}
	if len(b.Jobs) != 3 || len(b.NewJobs()) != 3 || b.NewJobs()[2].Priority != 2 || strings.Join(b.Paths, ",") != "lr" ||
		b.Sweep == nil || b.Sweep.Name != "n" || !strings.Contains(string(b.Sweep.Definition), `"bases":["`+job+`"]`) {
		t.Errorf("grid batch: %+v", b)
	}
	b, err = c.Build(&Sweep{}, []string{"-"}, strings.NewReader(`[{"scriptName":"s.py","projectName":"p"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Jobs) != 1 || b.Paths != nil || b.Sweep != nil || b.Jobs[0].Where != "<stdin>: job 1" {
		t.Errorf("plain batch: %+v", b)
	}

	tooMany := sweep.Spec{Random: sweep.MaxJobs, Ranges: []sweep.Range{mustRange(t, "lr=lin:0:1")}}
	for _, tt := range []struct {
		name  string
		sw    Sweep
		stdin string
		kind  Kind
		msg   string
	}{
		{"no script", Sweep{}, `{"scriptName":"t.py","projectName":"p"}`, NoScript, `<stdin>: script "t.py" not found in ` + dir},
		{"no data file", Sweep{}, `{"scriptName":"s.py","projectName":"p","dataFileName":"d.csv"}`, NoData, `<stdin>: data file "d.csv" not found in ` + dir},
		{"contract", Sweep{}, `{"projectName":"p"}`, BadJob, `<stdin>: "scriptName" is missing`},
		{"missing path", Sweep{Spec: grid("nope=1")}, `{"scriptName":"s.py","projectName":"p"}`, MissingPath, "<stdin>: path nope: "},
		{"new path allowed", Sweep{Spec: sweep.Spec{Grid: grid("nope=1").Grid, AllowNew: true}}, `{"scriptName":"t.py","projectName":"p"}`, NoScript, "<stdin>: sweep job 1: script"},
		{"empty array", Sweep{}, `[]`, Invalid, "no jobs in the input (an empty array?)"},
		{"empty input", Sweep{}, ` `, EmptyInput, "<stdin>: empty input"},
		{"not UTF-8", Sweep{}, "{\"a\":\"\xff\"}", NotUTF8, "<stdin>: not UTF-8 text"},
		{"too big a plan", Sweep{Spec: sweep.Spec{Random: sweep.MaxJobs + 1, Ranges: tooMany.Ranges}}, `{"scriptName":"s.py","projectName":"p"}`, TooBig, "sweep: "},
		{"too big in total", Sweep{Spec: tooMany}, `[{"scriptName":"s.py","projectName":"p"},{"scriptName":"s.py","projectName":"p"}]`, TooBig, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Build(&tt.sw, []string{"-"}, strings.NewReader(tt.stdin))
			var e *Error
			if !errors.As(err, &e) || e.Kind != tt.kind || !strings.HasPrefix(e.Msg, tt.msg) {
				t.Fatalf("Build error = %#v, want kind %d, a message starting %q", err, tt.kind, tt.msg)
			}
		})
	}
}

func mustRange(tb testing.TB, s string) sweep.Range {
	tb.Helper()
	r, err := sweep.ParseRange(s)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestParseFlags: each bad sweep flag is an error that names it; without
// a sweep file, a sweep Plan would refuse is refused before any file is
// read.
func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    FlagArgs
		wantErr string // a prefix; "" for none
	}{
		{"grid and random", FlagArgs{Grids: []string{"lr=0.1,0.2"}, Ranges: []string{"x=lin:0:1"}, Random: 3, RandomSet: true}, ""},
		{"bad grid", FlagArgs{Grids: []string{"lr"}}, "--grid"},
		{"bad range", FlagArgs{Ranges: []string{"x=nope:1"}}, "--range"},
		{"random 0", FlagArgs{Random: 0, RandomSet: true}, "--random must be at least 1, got 0"},
		{"bad name", FlagArgs{Name: "123", NameSet: true}, "--name: "},
		{"objective without a goal", FlagArgs{Objective: "cvMse"}, "--objective: "},
		{"objective", FlagArgs{Objective: "cvMse:min"}, ""},
		{"pruner", FlagArgs{Pruner: "asha:reduction=2"}, ""},
		{"pruner none", FlagArgs{Pruner: "none"}, ""},
		{"bad pruner", FlagArgs{Pruner: "asha:eta=2"}, `--pruner: bad pruner: asha has no setting "eta"`},
		{"pruner out of range", FlagArgs{Pruner: "median:startupRuns=-1"}, "--pruner: bad pruner: median: startupRuns -1 must be 0 or more"},
		{"range without random", FlagArgs{Ranges: []string{"x=lin:0:1"}}, "ranges need"},
		{"too big", FlagArgs{Grids: []string{"a=" + strings.Repeat("1,", 1000) + "1", "b=" + strings.Repeat("1,", 1000) + "1"}}, "sweep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFlags(tt.args)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ParseFlags: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Fatalf("ParseFlags error = %v, want one starting %q", err, tt.wantErr)
			case err == nil && (len(f.Spec.Grid) != len(tt.args.Grids) || f.Spec.Random != tt.args.Random):
				t.Errorf("ParseFlags = %+v, want the flags' grid and draws", f)
			}
		})
	}
	// --pruner: the rule parsed, and whether it was given (none is).
	for _, tc := range []struct {
		arg  string
		want prune.Rule
		set  bool
	}{
		{"", prune.Rule{}, false},
		{"none", prune.Rule{}, true},
		{"asha", prune.Rule{Kind: "asha", MinStep: 1, Reduction: 3}, true},
		{"median:startupRuns=0,warmupSteps=4", prune.Rule{Kind: "median", WarmupSteps: 4}, true},
	} {
		if f, err := ParseFlags(FlagArgs{Pruner: tc.arg}); err != nil || f.Pruner != tc.want || f.PrunerSet != tc.set {
			t.Errorf("--pruner %q: %+v (set %v), %v; want %+v (set %v)", tc.arg, f.Pruner, f.PrunerSet, err, tc.want, tc.set)
		}
	}
	// A sweep file may widen the sweep: its size is Build's to check.
	if _, err := ParseFlags(FlagArgs{Grids: tests[len(tests)-1].args.Grids, SweepFile: "s.yaml"}); err != nil {
		t.Errorf("ParseFlags with a sweep file: %v", err)
	}
}
