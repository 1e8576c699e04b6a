package pyexec

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/testdep"
)

// dirExec runs commands in runs/<id> under a temp dir, as a host would.
type dirExec string

func (d dirExec) ExecInRun(ctx context.Context, id string, argv []string, stdout io.Writer) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = filepath.Join(string(d), "runs", id)
	cmd.Stdout = stdout
	cmd.Stderr = os.Stderr
	return cmd.Run()
}

// TestSearchOutcome runs the outcome search with a real python over stdout
// files, and parses what it finds as the dispatcher does.
func TestSearchOutcome(t *testing.T) {
	testdep.Require(t, "install python3", "python3")
	python, _ := testdep.LookPath("python3")
	big := `{"status": 200, "loss": 0.5, "s": "` + strings.Repeat("x", 3<<20) + `"}`
	tests := []struct {
		name     string
		stdout   string
		want     string // the outcome line; "" = none
		oversize bool
	}{
		{"1 MB after the outcome", "start\n{\"status\": 200, \"loss\": 1}\n" + strings.Repeat("{'epoch': 1} not JSON\n", 50000), `{"status": 200, "loss": 1}`, false},
		{"a line longer than a read block", big + "\ndone\n", big, false},
		{"first line, no newline, spaces", "  {\"a\": 1}  ", `{"a": 1}`, false},
		{"arrays and invalid JSON are not outcomes", "{\"a\": 1}\n[1, 2]\n{nope}\n{\"b\": \n", `{"a": 1}`, false},
		{"NaN as Python writes it", "{\"loss\": NaN}\nx\n", `{"loss": NaN}`, false},
		{"progress lines after the outcome", "{\"status\": 200, \"loss\": 1}\n" + strings.Repeat("{\"step\": 3, \"loss\": 0.5}\n", 50000), `{"status": 200, "loss": 1}`, false},
		{"only progress lines", strings.Repeat("{\"step\": 3, \"loss\": 0.5}\n", 50000), "", false},
		{"none", strings.Repeat("plain\n", 1000), "", false},
		{"empty", "", "", false},
		{"a last { line over the cap hides an earlier one", "{\"a\": 1}\n{" + strings.Repeat("1", MaxOutcomeLine) + "\nend\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "runs", "r1"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "runs", "r1", "stdout"), []byte(tt.stdout), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := SearchOutcome(context.Background(), dirExec(dir), python, "r1")
			if err != nil {
				t.Fatal(err)
			}
			if string(s.Line) != tt.want || (s.Oversize > 0) != tt.oversize {
				t.Fatalf("search found %q (oversize %d), want %q (oversize %v)", clip(string(s.Line), 60), s.Oversize, clip(tt.want, 60), tt.oversize)
			}
			// As the dispatcher reads it: only the last 256 KiB came back.
			tail := []byte(tt.stdout)
			if len(tail) > StdoutFetch {
				tail = tail[len(tail)-StdoutFetch:]
			}
			res := run.Result{Stdout: tail, StdoutSize: int64(len(tt.stdout))}
			o := ParseSearched(res, &s)
			switch {
			case tt.want != "" && (!o.Succeeded || !bytes.Equal(o.JSON, StrictJSON([]byte(tt.want)))):
				t.Errorf("outcome %v %q, want succeeded with the line", o.Succeeded, o.Error)
			case tt.oversize && (o.Succeeded || !strings.Contains(o.Error, "over the 16 MiB limit on an outcome line")):
				t.Errorf("outcome %v %q, want failed over the limit", o.Succeeded, o.Error)
			case tt.want == "" && !tt.oversize && (o.Succeeded || !strings.Contains(o.Error, "no stdout line is a JSON object")):
				t.Errorf("outcome %v %q, want failed with no outcome", o.Succeeded, o.Error)
			}
			if o.JSON != nil && !json.Valid(o.JSON) {
				t.Errorf("outcome JSON is not strict JSON: %q", clip(string(o.JSON), 60))
			}
		})
	}
}

func TestNeedsSearch(t *testing.T) {
	for _, tt := range []struct {
		name string
		res  run.Result
		want bool
	}{
		{"whole stdout, no outcome", run.Result{Stdout: []byte("x\n"), StdoutSize: 2}, false},
		{"tail with an outcome", run.Result{Stdout: []byte("x\n{\"a\":1}\nz\n"), StdoutSize: 1 << 20}, false},
		{"tail whose only outcome is cut", run.Result{Stdout: []byte("\"a\":1}\nz\n"), StdoutSize: 1 << 20}, true},
		{"tail without one", run.Result{Stdout: []byte("x\nz\n"), StdoutSize: 1 << 20}, true},
	} {
		if got := NeedsSearch(tt.res); got != tt.want {
			t.Errorf("%s: NeedsSearch = %v, want %v", tt.name, got, tt.want)
		}
	}
}
