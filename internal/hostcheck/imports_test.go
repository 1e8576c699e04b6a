package hostcheck

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
			if got := parseImports([]byte(tt.src)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
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

func TestInstallFix(t *testing.T) {
	tests := []struct {
		name   string
		module string
		p      probeResult
		want   string
	}{
		{name: "debian system python", module: "sklearn", p: probeResult{Executable: "/usr/bin/python3", Debian: true},
			want: "on Debian: sudo apt-get install python3-sklearn (or /usr/bin/python3 -m pip install scikit-learn)"},
		{name: "venv on debian", module: "torch", p: probeResult{Executable: "/home/u/.venv/bin/python", Debian: true},
			want: "/home/u/.venv/bin/python -m pip install torch"},
		{name: "not debian", module: "my_pkg", p: probeResult{Executable: "/usr/bin/python3"},
			want: "/usr/bin/python3 -m pip install my_pkg"},
		{name: "debian default name", module: "my_pkg", p: probeResult{Executable: "/usr/bin/python3", Debian: true},
			want: "on Debian: sudo apt-get install python3-my-pkg (or /usr/bin/python3 -m pip install my_pkg)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := installFix(tt.module, tt.p); got != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestVersionLessAndBytes(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"3.7.3", "3.8", true}, {"3.11.2", "3.8", false}, {"3.8", "3.8", false}, {"x", "3.8", false},
	}
	for _, tt := range tests {
		t.Run(tt.a, func(t *testing.T) {
			if got := versionLess(tt.a, tt.b); got != tt.want {
				t.Errorf("versionLess(%q, %q) = %v", tt.a, tt.b, got)
			}
		})
	}
	if got := Bytes(3 << 29); got != "1.5G" {
		t.Errorf("Bytes = %q, want 1.5G", got)
	}
}
