package pyexec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestArg(t *testing.T) {
	tests := []struct{ name, spec, want string }{
		{"plain", `{"a":1}`, `{"a":1,"jobId":7,"assignmentId":9}`},
		{"empty object", `{ }`, `{ "jobId":7,"assignmentId":9}`},
		{"whitespace kept", "{\n  \"a\" : \"x y\" \n}\n", "{\n  \"a\" : \"x y\" \n,\"jobId\":7,\"assignmentId\":9}"},
		{"stale ids are overridden", `{"jobId":1}`, `{"jobId":1,"jobId":7,"assignmentId":9}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Arg([]byte(tt.spec), 7, 9)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("Arg = %q, want %q", got, tt.want)
			}
			var m map[string]any
			if err := json.Unmarshal(got, &m); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if m["jobId"] != float64(7) || m["assignmentId"] != float64(9) {
				t.Fatalf("ids = %v, %v", m["jobId"], m["assignmentId"])
			}
		})
	}
	for _, bad := range []string{``, `[1]`, `"x"`, `  `} {
		if _, err := Arg([]byte(bad), 1, 1); err == nil {
			t.Errorf("Arg(%q): no error", bad)
		}
	}
}

func TestCheckName(t *testing.T) {
	good := []string{"nn.py", "wine_data.csv", "a-b+c.1"}
	bad := []string{"", ".", "..", "../x.py", "a/b.py", "/etc/passwd", ".hidden", "-rf", "job.json", "a b", "x\n", "é.py"}
	for _, n := range good {
		if err := CheckName("scriptName", n); err != nil {
			t.Errorf("CheckName(%q) = %v", n, err)
		}
	}
	for _, n := range bad {
		err := CheckName("scriptName", n)
		if err == nil {
			t.Errorf("CheckName(%q): no error", n)
		} else if !strings.Contains(err.Error(), "scriptName") {
			t.Errorf("CheckName(%q) = %v: does not name the field", n, err)
		}
	}
}

func TestSpec(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "s.py"), []byte("print(1)\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "data", "d.csv"), []byte("a,b\n"), 0o644))
	var files Files
	s, err := Spec(Job{Queue: "q1", JobID: 3, OrderID: 4, Attempt: 2, Spec: []byte(`{"x":"$(rm -rf /)"}`), Script: "s.py", DataFile: "d.csv"},
		Settings{ScriptsDir: dir, DataDir: filepath.Join(dir, "data"), Python: "/usr/bin/python3", Env: []string{"A=1"}}, &files)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != "q1-4-2" || s.ArgFile != JobFile || s.Input.Name != JobFile {
		t.Fatalf("spec = %+v", s)
	}
	if got := strings.Join(s.Argv, " "); got != "/usr/bin/python3 -u s.py" {
		t.Fatalf("argv = %q", got)
	}
	sum := sha256.Sum256([]byte("print(1)\n"))
	if len(s.Files) != 2 || s.Files[0].Hash != hex.EncodeToString(sum[:]) || s.Files[0].Size != 9 || s.Files[1].Name != "d.csv" {
		t.Fatalf("files = %+v", s.Files)
	}
	if string(s.Input.Data) != `{"x":"$(rm -rf /)","jobId":3,"assignmentId":4}` {
		t.Fatalf("input = %s", s.Input.Data)
	}
	if _, err := Spec(Job{Queue: "q1", Spec: []byte(`{}`), Script: "missing.py"}, Settings{ScriptsDir: dir}, &files); err == nil {
		t.Fatal("missing script: no error")
	}
	if _, err := Spec(Job{Queue: "q1", Spec: []byte(`{}`), Script: "../s.py"}, Settings{ScriptsDir: dir}, &files); err == nil {
		t.Fatal("escaping script name: no error")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSiblingModulesFollowImports(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	write("main.py", "import os, helper as h\nfrom pkg.sub import x\n  import json\n# import notme\nx = 'import alsonot'\n")
	write("helper.py", "from deep import thing\n")
	write("deep.py", "import helper\n")
	write("pkg.py", "")
	write("notme.py", "")
	write("alsonot.py", "")
	write("other.py", "")
	var files Files
	s, err := Spec(Job{Queue: "q1", Spec: []byte(`{}`), Script: "main.py"}, Settings{ScriptsDir: dir}, &files)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range s.Files {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, " "); got != "main.py helper.py pkg.py deep.py" {
		t.Fatalf("shipped %q, want the script and what it imports", got)
	}
}

func TestParseRunID(t *testing.T) {
	tests := []struct {
		id      string
		order   int64
		attempt int
		ok      bool
	}{
		{RunID("1534e92f", 12, 3), 12, 3, true},
		{"1534e92f-12", 0, 0, false},
		{"othrqueu-12-3", 0, 0, false},
		{"1534e92f-12-x", 0, 0, false},
		{"1534e92f-012-3", 0, 0, false}, // not a name RunID makes
		{"1534e92f-12-3-4", 0, 0, false},
	}
	for _, tt := range tests {
		o, a, ok := ParseRunID("1534e92f", tt.id)
		if o != tt.order || a != tt.attempt || ok != tt.ok {
			t.Errorf("ParseRunID(%q) = %d, %d, %v; want %d, %d, %v", tt.id, o, a, ok, tt.order, tt.attempt, tt.ok)
		}
	}
}
