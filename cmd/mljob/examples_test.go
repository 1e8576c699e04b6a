package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleSweepFiles submits each example sweep file as README shows
// it, with --dry-run and --strict: it must parse, every path it sets must
// be a field nn.py declares (so a renamed field breaks the example here,
// not on a researcher's laptop), and nothing is written.
func TestExampleSweepFiles(t *testing.T) {
	tests := []struct {
		file string
		want string // a part of the dry run's report
	}{
		{file: "sweep.yaml", want: "would queue 24 job(s) in a new sweep"},
		{file: "sweep-tpe.yaml", want: "method tpe, 40 trial(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "mljob.db")
			t.Setenv("MLJOB_DB", dbPath)
			sweep := filepath.Join("..", "..", "examples", "wine_data", tt.file)
			out, errOut, code := runInProcess(t, "submit", "--scripts", filepath.Join("..", "..", "python-scripts"),
				"--sweep", sweep, "--dry-run", "--strict")
			if code != 0 {
				t.Fatalf("exit %d:\n%s%s", code, out, errOut)
			}
			if !strings.Contains(out+errOut, tt.want) {
				t.Errorf("dry run of %s does not say %q:\n%s%s", tt.file, tt.want, out, errOut)
			}
			if _, err := os.Stat(dbPath); !os.IsNotExist(err) {
				t.Errorf("a dry run wrote %s (stat: %v)", dbPath, err)
			}
		})
	}
}
