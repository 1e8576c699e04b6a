package jobinput

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/sweep"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, data string
		wheres     []string
		errHas     string
	}{
		{name: "object", data: `{"a":1}`, wheres: []string{"f"}},
		{name: "array", data: `[{"a":1}, {"a":2}]`, wheres: []string{"f: job 1", "f: job 2"}},
		{name: "byte order mark", data: "\ufeff{\"a\":1}", wheres: []string{"f"}},
		{name: "bad JSON names line and column", data: "{\n  \"a\": x\n}", errHas: "f:2:8: invalid JSON"},
		{name: "scalar", data: `7`, errHas: "expected a Job object"},
		{name: "array of scalars", data: `[{"a":1}, 2]`, errHas: "f: job 2: a job must be a JSON object"},
		{name: "not UTF-8", data: "{\"a\":\"\xff\"}", errHas: "not UTF-8"},
		{name: "empty", data: "  \n", errHas: "empty input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ins, err := Parse("f", []byte(tt.data))
			if tt.errHas != "" {
				var e *Error
				if !errors.As(err, &e) || !strings.Contains(e.Msg, tt.errHas) {
					t.Fatalf("Parse error = %v, want an *Error containing %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var wheres []string
			for _, in := range ins {
				wheres = append(wheres, in.Where)
				if in.Raw[0] != '{' {
					t.Errorf("%s: raw %q does not start the object", in.Where, in.Raw)
				}
			}
			if strings.Join(wheres, "|") != strings.Join(tt.wheres, "|") {
				t.Errorf("wheres = %q, want %q", wheres, tt.wheres)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.py"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Checker{ScriptsDir: dir, DataDir: dir, Priority: 3}
	a, err := sweep.ParseGrid("x=1,2")
	if err != nil {
		t.Fatal(err)
	}
	spec := sweep.Spec{Grid: []sweep.Axis{a}}
	plan, err := spec.Plan()
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := c.Expand([]Input{{Where: "b.json", Raw: []byte(`{"scriptName":"s.py","projectName":"p","x":0}`)}}, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[1].Where != "b.json: sweep job 2" || string(jobs[1].Spec) != `{"scriptName":"s.py","projectName":"p","x":2}` || jobs[1].Priority != 3 {
		t.Fatalf("jobs = %+v", jobs)
	}
	_, err = c.Expand([]Input{{Where: "c.json", Raw: []byte(`{"scriptName":"s.py","projectName":"p","SCRIPTNAME":"t.py"}`)}}, nil)
	var e *Error
	var ce *pyexec.ContractError // the contract's advice, which the CLI shows
	if !errors.As(err, &e) || e.Msg != `c.json: key "SCRIPTNAME" differs from "scriptName" only by case` || e.Kind != BadJob || !errors.As(err, &ce) || ce.Hint == "" {
		t.Fatalf("Expand error = %#v", err)
	}
}
