package fieldcheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/objective"
	pyscripts "github.com/mljob/mljob/python-scripts"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"YAML syntax", "fields:\n  a: {type: number}\n  b: c: d\n", "t.fields.yaml:3: mapping values are not allowed in this context"},
		{"empty file", "", "t.fields.yaml: want a map with the key fields"},
		{"no fields key", "objective: cvMse:min\n", "t.fields.yaml: no fields key"},
		{"unknown top-level key", "fields: {}\nfeilds: {}\n", `t.fields.yaml:2: unknown key "feilds" (want fields, objective, artifacts and seeds); did you mean "fields"?`},
		{"fields not a map", "fields: [a]\n", "t.fields.yaml:1: fields must be a map"},
		{"alias", "fields:\n  a: &x {type: number}\n  b: *x\n", "t.fields.yaml:3: YAML aliases (*x) are not supported"},
		{"declaration not a map", "fields:\n  a: number\n", `t.fields.yaml:2: a: want {type: ...}, not "number"`},
		{"no type", "fields:\n  a: {min: 1}\n", "t.fields.yaml:2: a: no type"},
		{"unknown type", "fields:\n  a: {type: float}\n", "t.fields.yaml:2: a: type must be one of number, integer, string, boolean, list, object, not \"float\""},
		{"unknown key with did-you-mean", "fields:\n  a: {type: string,\n      choises: [x]}\n", `t.fields.yaml:3: a: unknown key "choises" (want type, min, max, exclusiveMin, exclusiveMax, choices, default, help, free); did you mean "choices"?`},
		{"min not a number", "fields:\n  a: {type: number, min: low}\n", `t.fields.yaml:2: a: min must be a finite number, not "low"`},
		{"infinite max", "fields:\n  a: {type: number, max: .inf}\n", "a: max must be a finite number"},
		{"min on a string", "fields:\n  a: {type: string, min: 1}\n", "t.fields.yaml:2: a: min is for a number or integer, not a string"},
		{"exclusive without its bound", "fields:\n  a: {type: number, exclusiveMax: true}\n", "a: exclusiveMax without max"},
		{"exclusive not a boolean", "fields:\n  a: {type: number, min: 0, exclusiveMin: yes}\n", "a: exclusiveMin must be true or false"},
		{"empty range", "fields:\n  a: {type: number, min: 1, max: 1, exclusiveMax: true}\n", "a: min 1 and max 1 leave no value"},
		{"choices on a number", "fields:\n  a: {type: number, choices: [x]}\n", "a: choices are for a string, not a number"},
		{"choice not a string", "fields:\n  a: {type: string, choices: [x, 1]}\n", "t.fields.yaml:2: a: choices must be strings: quote \"1\""},
		{"free on a list", "fields:\n  a: {type: list, free: true}\n", "a: free is for an object, not a list"},
		{"declared twice", "fields:\n  a: {type: number}\n  b: {type: number}\n  a: {type: string}\n", "t.fields.yaml:4: a is declared twice (first on line 2)"},
		{"bad path", "fields:\n  a..b: {type: number}\n", `t.fields.yaml:2: bad path: path "a..b" has an empty part`},
		{"star inside a part", "fields:\n  a: {type: object}\n  a.b*: {type: number}\n", "t.fields.yaml:3: a.b*: * stands for every item of a list"},
		{"container not declared", "fields:\n  a.b: {type: number}\n", "t.fields.yaml:2: a.b: declare a above it, as a object"},
		{"items of an object", "fields:\n  a: {type: object}\n  a.*: {type: number}\n", "t.fields.yaml:3: a.*: a is declared a object (line 2); its keys are declared as a.KEY"},
		{"keys of a list", "fields:\n  a: {type: list}\n  a.b: {type: number}\n", "t.fields.yaml:3: a.b: a is declared a list (line 2); its items are declared as a.*"},
		{"star at the top", "fields:\n  '*': {type: number}\n", "t.fields.yaml:2: *: a job is an object"},
		{"default out of range", "fields:\n  a: {type: number, min: 0, default: -1}\n", "t.fields.yaml:2: a: default -1 is not a number >= 0"},
		{"default not a choice", "fields:\n  a: {type: string, choices: [x, y], default: z}\n", `a: default "z" is not one of x, y`},
		{"default item of the wrong type", "fields:\n  a: {type: list, default: [1]}\n  a.*: {type: string}\n", "t.fields.yaml:2: a: default 0: 1 is not a string"},
		{"bad objective", "fields: {}\nobjective: {name: cvMse}\n", "t.fields.yaml: line 2: objective: no goal"},
		{"seeds not a list", "fields: {seed: {type: integer}}\nseeds: seed\n", "t.fields.yaml:2: seeds must be a list"},
		{"seed not declared", "fields: {seed: {type: integer}}\nseeds: [sed]\n", `t.fields.yaml:2: seeds: "sed" is not a declared field; did you mean "seed"?`},
		{"seed not an integer", "fields: {seed: {type: number}}\nseeds: [seed]\n", `seeds: "seed" is declared as number; a seed field is an integer`},
		{"seed twice", "fields: {seed: {type: integer}}\nseeds: [seed, seed]\n", `seeds: "seed" is named twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.fields.yaml", "t.py", []byte(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseSeeds(t *testing.T) {
	d := MustParse(t, "fields:\n  seed: {type: integer, default: 42}\n  splitSeed: {type: integer}\nseeds: [seed, splitSeed]\n")
	if len(d.Seeds) != 2 || d.Seeds[0].Path != "seed" || d.Seeds[0].Default == nil || *d.Seeds[0].Default != 42 ||
		d.Seeds[1].Path != "splitSeed" || d.Seeds[1].Default != nil {
		t.Errorf("Seeds = %+v, want seed (default 42) and splitSeed (no default)", d.Seeds)
	}
	if d := MustParse(t, testDecl); d.Seeds != nil {
		t.Errorf("Seeds of a file without them = %+v, want nil", d.Seeds)
	}
}

func TestParseObjective(t *testing.T) {
	d := MustParse(t, "fields: {}\nobjective: {name: valAcc, goal: maximize}\n")
	if want := (objective.Objective{Name: "valAcc", Goal: objective.Maximize}); d.Objective != want {
		t.Errorf("Objective = %+v, want %+v", d.Objective, want)
	}
	if d := MustParse(t, testDecl); d.Objective != (objective.Objective{}) {
		t.Errorf("Objective of a file without one = %+v, want the zero value", d.Objective)
	}
}

func TestFileName(t *testing.T) {
	for script, want := range map[string]string{"nn.py": "nn.fields.yaml", "train": "train.fields.yaml", "a.b.py": "a.b.fields.yaml"} {
		if got := FileName(script); got != want {
			t.Errorf("FileName(%q) = %q, want %q", script, got, want)
		}
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	if d, err := Find(dir, "echo.py"); d != nil || err != nil {
		t.Fatalf("Find without a declaration = %v, %v; want nil, nil", d, err)
	}
	path := filepath.Join(dir, "t.fields.yaml")
	if err := os.WriteFile(path, []byte("fields:\n  a: {type: nope}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(dir, "t.py"); err == nil || !strings.HasPrefix(err.Error(), path+":2: ") {
		t.Fatalf("Find of a broken declaration = %v, want an error at %s:2", err, path)
	}
	if err := os.WriteFile(path, []byte(testDecl), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Find(dir, "t.py")
	if err != nil || d.Script != "t.py" || d.File != path || d.Fields["hiddenLayers.*.activation"].Line != 15 {
		t.Fatalf("Find = %+v, %v", d, err)
	}
}

// TestShippedDeclarations: the declarations bundled with mljob parse, and
// every example job passes its script's declaration with no problem, so
// the README's examples queue without a warning.
func TestShippedDeclarations(t *testing.T) {
	decls := map[string]*Decl{}
	names, err := fs.Glob(pyscripts.FS, "*.fields.yaml")
	if err != nil || len(names) < 2 {
		t.Fatalf("bundled declarations = %v, %v; want nn's and baseline's", names, err)
	}
	for _, name := range names {
		data, err := pyscripts.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		script := strings.TrimSuffix(name, ".fields.yaml") + ".py"
		if decls[script], err = Parse(name, script, data); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := filepath.Glob(filepath.Join("..", "..", "examples", "*", "*.json"))
	if err != nil || len(jobs) == 0 {
		t.Fatalf("example jobs = %v, %v", jobs, err)
	}
	checked := 0
	for _, path := range jobs {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for script, d := range decls {
			if !strings.Contains(string(data), `"scriptName": "`+script+`"`) {
				continue
			}
			checked++
			for _, p := range d.Check(data) {
				t.Errorf("%s: %s", path, p.Msg)
			}
		}
	}
	if checked < 2 {
		t.Errorf("checked %d example jobs against a declaration, want nn.py's and baseline.py's at least", checked)
	}
}

// BenchmarkCheck checks the seed's job against nn.py's declaration.
func BenchmarkCheck(b *testing.B) {
	data, err := pyscripts.FS.ReadFile("nn.fields.yaml")
	if err != nil {
		b.Fatal(err)
	}
	d, err := Parse("nn.fields.yaml", "nn.py", data)
	if err != nil {
		b.Fatal(err)
	}
	job, err := os.ReadFile(filepath.Join("..", "..", "examples", "wine_data", "job.json"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if p := d.Check(job); p != nil {
			b.Fatal(p)
		}
	}
}
