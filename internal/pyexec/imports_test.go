package pyexec

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseImports(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{name: "plain", src: "import os\nimport numpy as np\n", want: []string{"os", "numpy"}},
		{name: "dotted and several", src: "import a.b.c, d as e, f\n", want: []string{"a", "d", "f"}},
		{name: "from", src: "from sklearn.base import X\nfrom torch import nn  # comment\n", want: []string{"sklearn", "torch"}},
		{name: "relative from", src: "from . import x\nfrom .y import z\n", want: nil},
		{name: "indented is optional", src: "try:\n    import ujson\nexcept ImportError:\n    pass\n", want: nil},
		{name: "docstring", src: "\"\"\"Usage:\nimport mljob_job\n\"\"\"\nimport json\n", want: []string{"json"}},
		{name: "one-line docstring", src: "\"\"\"Doc.\"\"\"\nimport yaml\n", want: []string{"yaml"}},
		{name: "continuation", src: "import a, \\\n    b\n", want: []string{"a", "b"}},
		{name: "comment after", src: "import torch # GPU\n", want: []string{"torch"}},
		{name: "not an import", src: "important = 1\nfromage = 2\n", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := moduleLevel(parseImports([]byte(tt.src))); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// moduleLevel keeps the modules of the imports that are not nested.
func moduleLevel(ims []pyImport) []string {
	var out []string
	for _, im := range ims {
		if !im.nested {
			out = append(out, im.module)
		}
	}
	return out
}

// TestParseNested: indented imports are kept, marked nested (a run ships
// the sibling modules a function imports); prose in a bracket is no import.
func TestParseNested(t *testing.T) {
	src := "import os\ntry:\n    import ujson\nexcept ImportError:\n    pass\ndef f():\n\tfrom helper import x\nfrom a import (\n    b,\n)\n"
	want := []pyImport{{"os", false}, {"ujson", true}, {"helper", true}, {"a", false}}
	if got := parseImports([]byte(src)); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestScriptImports(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"train.py":        "import json\nimport numpy as np\nimport helper\nfrom pkg import x\nfrom sklearn.svm import SVC\n",
		"eval.py":         "import numpy\nimport torch\n",
		"helper.py":       "import os\n",
		"notes.txt":       "import nothing\n",
		"pkg/__init__.py": "",
		"tests/test_a.py": "import pytest\n",
	}
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ScriptImports(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Import{
		{Module: "numpy", Scripts: []string{"eval.py", "train.py"}},
		{Module: "sklearn", Scripts: []string{"train.py"}},
		{Module: "torch", Scripts: []string{"eval.py"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, err := ScriptImports(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing dir: no error")
	}
}
