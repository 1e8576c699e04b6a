package slurmtest

import (
	"os"
	"testing"

	"github.com/mljob/mljob/internal/testdep"
)

// daemons and clients are the programs Start needs.
var (
	daemons = []string{"munged", "slurmctld", "slurmd", "slurmstepd"}
	clients = []string{"sinfo", "scontrol", "sbatch", "scancel", "squeue"}
)

// Require checks that the named programs exist and that the test runs as
// root (slurmd runs jobs as their owner and needs root for that). When one
// is missing it fails the test if the CI environment variable is set, and
// skips it with a loud reason otherwise.
func Require(tb testing.TB, bins ...string) {
	tb.Helper()
	testdep.SkipShort(tb, "a Slurm cluster")
	const install = "install slurmctld slurmd slurm-client munge (scripts/install-deps.sh) and run as root"
	testdep.Require(tb, install, bins...)
	if os.Geteuid() != 0 {
		testdep.Missing(tb, "the Slurm test cluster needs root; "+install)
	}
}
