package provenance_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/outcomeview"
	"github.com/mljob/mljob/internal/provenance"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestUnified(t *testing.T) {
	tests := []struct {
		name, a, b, want string
	}{
		{name: "equal", a: "x\n", b: "x\n", want: ""},
		{name: "one line changed", a: "a\nb\nc\n", b: "a\nB\nc\n",
			want: "--- A\n+++ B\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{name: "added to empty", a: "", b: "n\n", want: "--- A\n+++ B\n@@ -0,0 +1,1 @@\n+n\n"},
		{name: "two hunks", a: "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", b: "0\n2\n3\n4\n5\n6\n7\n8\n9\nX\n",
			want: "--- A\n+++ B\n@@ -1,4 +1,4 @@\n-1\n+0\n 2\n 3\n 4\n@@ -7,4 +7,4 @@\n 7\n 8\n 9\n-10\n+X\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := provenance.Unified("A", "B", tt.a, tt.b); got != tt.want {
				t.Errorf("Unified =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestShowProvenanceGolden: show's text of a job's code and environments.
func TestShowProvenanceGolden(t *testing.T) {
	diff := []byte("--- a/nn.py\n+++ b/nn.py\n-x\n+y\n")
	env := provenance.Environment{Python: "3.11.2", Executable: "/usr/bin/python3", Host: "gpu1", CPU: "AMD EPYC", CPUs: 16,
		Modules: map[string]string{"torch": "2.1.0", "numpy": "1.24.2"},
		GPUs:    []provenance.GPU{{Index: "0", Model: "NVIDIA H100", Driver: "550.54"}}, CUDA: "12.4"}
	h := &db.JobHistory{
		Job: db.Job{ID: 7, Project: "p", Script: "nn.py", Spec: []byte(`{"x":1}`), CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		Code: &db.Code{Repo: db.RepoGit, Commit: "0123456789abcdef0123456789abcdef01234567", Dirty: true, Diff: diff,
			DiffSize: int64(len(diff)), DiffHash: db.HashBytes(diff), Note: "1 untracked file(s), not in the diff",
			ScriptHash: db.HashBytes([]byte("script")), DataHash: db.HashBytes([]byte("data"))},
		Orders:   []db.Order{{ID: 7, JobID: 7, State: db.StateSucceeded, Attempt: 2}},
		Attempts: [][]db.Attempt{{{Attempt: 1, State: db.StateFailed, Host: "gpu1", Slot: "0"}, {Attempt: 2, State: db.StateSucceeded, Host: "gpu1", Slot: "0"}}},
	}
	spec := env.Marshal()
	for _, a := range []int{1, 2} {
		h.Envs = append(h.Envs, db.AttemptEnv{OrderID: 7, Attempt: a, Hash: db.HashBytes(spec), Spec: spec})
	}
	j, err := outcomeview.NewJob(h)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := j.Write(&buf, "table"); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "show.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("show =\n%s\nwant (%s)\n%s", buf.Bytes(), golden, want)
	}
}
