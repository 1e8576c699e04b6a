package jobinput

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/sweep"
)

// TestBuildFieldChecks: each job, each sweep job too, is checked against
// its script's field declaration: unknown fields are warnings, counted
// once per distinct problem (errors with Strict); bad values refuse the
// submit; a script without a declaration is not checked; a broken
// declaration is an error naming its file and line.
func TestBuildFieldChecks(t *testing.T) {
	dir := t.TempDir()
	for _, s := range []string{"nn.py", "echo.py", "broken.py", "obj.py"} {
		MustWriteFile(t, dir, s, "")
	}
	MustWriteFile(t, dir, "nn.fields.yaml", "fields:\n  learningRate: {type: number, min: 0, exclusiveMin: true}\n"+
		"  hiddenLayers: {type: list}\n  hiddenLayers.*: {type: object}\n"+
		"  hiddenLayers.*.activation: {type: string, choices: [relu, tanh, sigmoid]}\n")
	MustWriteFile(t, dir, "broken.fields.yaml", "fields:\n  a: {type: number}\n  b: {type: nope}\n")
	MustWriteFile(t, dir, "obj.fields.yaml", "fields: {}\nobjective: {name: valAcc, goal: maximize}\n")
	typo := `{"scriptName":"nn.py","projectName":"p","learningrate":0.5,"learningRate":0.1,"hiddenLayers":[{"activation":"relu"}]}`
	grid := func(s string) sweep.Spec {
		a, err := sweep.ParseGrid(s)
		if err != nil {
			t.Fatal(err)
		}
		return sweep.Spec{Grid: []sweep.Axis{a}}
	}
	values := strings.TrimSuffix(strings.Repeat("0.1,", 10000), ",")

	tests := []struct {
		name     string
		strict   bool
		sw       Sweep
		stdin    string
		kind     Kind     // of the error; -1 for none
		msg      string   // the error's message, or a prefix of it ending in a space
		warnings []string // Warning.String of each, with no error
		jobs     int
	}{
		{name: "typo warned with did-you-mean", stdin: typo, kind: -1, jobs: 1,
			warnings: []string{`<stdin>: field "learningrate" is not a field of nn.py; did you mean "learningRate"?`}},
		{name: "10,000 sweep jobs: one warning with the count", sw: Sweep{Spec: grid("learningRate=" + values)}, stdin: typo, kind: -1, jobs: 10000,
			warnings: []string{`<stdin>: sweep job 1 (and 9999 more job(s)): field "learningrate" is not a field of nn.py; did you mean "learningRate"?`}},
		{name: "distinct problems each once", kind: -1, jobs: 3,
			stdin: `[` + typo + `,` + typo + `,{"scriptName":"nn.py","projectName":"p","hiddenLayers":[{"activaton":"relu"}]}]`,
			warnings: []string{
				`<stdin>: job 1 (and 1 more job(s)): field "learningrate" is not a field of nn.py; did you mean "learningRate"?`,
				`<stdin>: job 3: field "hiddenLayers.0.activaton" is not a field of nn.py; did you mean "hiddenLayers.0.activation"?`}},
		{name: "strict refuses the typo", strict: true, stdin: typo, kind: UnknownField,
			msg: `<stdin>: field "learningrate" is not a field of nn.py; did you mean "learningRate"?`},
		{name: "swish refused", stdin: `{"scriptName":"nn.py","projectName":"p","hiddenLayers":[{"activation":"swish"}]}`, kind: BadField,
			msg: `<stdin>: hiddenLayers.0.activation: "swish" is not one of relu, tanh, sigmoid`},
		{name: "a swept value refused, naming the sweep job", sw: Sweep{Spec: grid("learningRate=0.1,0")}, stdin: typo, kind: BadField,
			msg: `<stdin>: sweep job 2: learningRate: 0 is not a number > 0`},
		{name: "strict: every problem of the job at once", strict: true, sw: Sweep{Spec: grid("learningRate=0")}, stdin: typo, kind: BadField,
			msg: `<stdin>: sweep job 1: field "learningrate" is not a field of nn.py; did you mean "learningRate"?; learningRate: 0 is not a number > 0`},
		{name: "no declaration, no check", stdin: `{"scriptName":"echo.py","projectName":"p","learningrate":"x"}`, kind: -1, jobs: 1},
		{name: "broken declaration", stdin: `{"scriptName":"broken.py","projectName":"p"}`, kind: BadFieldsFile,
			msg: dir + "/broken.fields.yaml:3: b: type must be one of "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Checker{ScriptsDir: dir, DataDir: dir, Strict: tt.strict}
			b, err := c.Build(&tt.sw, []string{"-"}, strings.NewReader(tt.stdin))
			if tt.kind >= 0 {
				var e *Error
				if !errors.As(err, &e) || e.Kind != tt.kind || !(e.Msg == tt.msg || strings.HasSuffix(tt.msg, " ") && strings.HasPrefix(e.Msg, tt.msg)) {
					t.Fatalf("Build error = %#v, want kind %d, message %q", err, tt.kind, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range b.Warnings {
				got = append(got, w.String())
			}
			if len(b.Jobs) != tt.jobs || fmt.Sprint(got) != fmt.Sprint(tt.warnings) {
				t.Errorf("%d jobs, warnings:\n%s\nwant %d jobs, warnings:\n%s", len(b.Jobs), strings.Join(got, "\n"), tt.jobs, strings.Join(tt.warnings, "\n"))
			}
		})
	}
}

// TestBuildDeclaredObjective: a job whose script declares an objective
// gets it, unless the submit names its own.
func TestBuildDeclaredObjective(t *testing.T) {
	dir := t.TempDir()
	MustWriteFile(t, dir, "obj.py", "")
	MustWriteFile(t, dir, "echo.py", "")
	MustWriteFile(t, dir, "obj.fields.yaml", "fields: {}\nobjective: {name: valAcc, goal: maximize}\n")
	jobs := `[{"scriptName":"obj.py","projectName":"p"},{"scriptName":"echo.py","projectName":"p"}]`
	valAcc := objective.Objective{Name: "valAcc", Goal: objective.Maximize}
	mse := objective.Objective{Name: "mse", Goal: objective.Minimize}
	for _, tt := range []struct {
		name string
		sw   Sweep
		want []objective.Objective
	}{
		{"declared, else none", Sweep{}, []objective.Objective{valAcc, {}}},
		{"the submit's wins", Sweep{Objective: mse}, []objective.Objective{mse, mse}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &Checker{ScriptsDir: dir, DataDir: dir}
			b, err := c.Build(&tt.sw, []string{"-"}, strings.NewReader(jobs))
			if err != nil {
				t.Fatal(err)
			}
			for i, j := range b.NewJobs() {
				if j.Objective != tt.want[i] {
					t.Errorf("job %d objective %+v, want %+v", i+1, j.Objective, tt.want[i])
				}
			}
		})
	}
}
