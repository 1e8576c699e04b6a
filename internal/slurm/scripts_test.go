package slurm

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/slurm/sbatchopt"
)

// TestSubmitOptionsReserved checks that every option the submit script gives
// sbatch is one a hosts file may not: the entry's own options come after
// mljob's, and sbatch keeps the last, so one left out of sbatchopt's list
// would silently override mljob's.
func TestSubmitOptionsReserved(t *testing.T) {
	start := strings.Index(submitScript, "sbatch --")
	end := strings.Index(submitScript, `"$@"`)
	if start < 0 || end < start {
		t.Fatal("submitScript: no sbatch command with the entry's options after mljob's")
	}
	opts := regexp.MustCompile(`--[a-z-]+`).FindAllString(submitScript[start:end], -1)
	if len(opts) == 0 {
		t.Fatal("submitScript: the sbatch command sets no options")
	}
	for _, o := range opts {
		if sbatchopt.Problem(o) == "" {
			t.Errorf("the submit script sets %s, but sbatchopt lets a hosts file give it too", o)
		}
	}
}
