package slurmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// sbinDirs are searched after PATH: a normal user's PATH often lacks them,
// and that is where Debian installs the daemons.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

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
	var problems []string
	for _, b := range bins {
		if _, err := lookPath(b); err != nil {
			problems = append(problems, fmt.Sprintf("%q not found in PATH or %v", b, sbinDirs))
		}
	}
	if os.Geteuid() != 0 {
		problems = append(problems, "not running as root")
	}
	if len(problems) == 0 {
		return
	}
	msg := fmt.Sprintf("SLURM INTEGRATION TEST NOT RUN: %v; install slurmctld slurmd slurm-client munge (scripts/install-deps.sh) and run as root", problems)
	if inCI() {
		tb.Fatalf("%s (CI is set, so this is a failure)", msg)
	}
	tb.Skipf("%s (set CI=true to make this a failure)", msg)
}

// inCI reports whether the CI variable asks for strictness; CI systems set
// it to "true", and an explicit "false" or "0" turns it off.
func inCI() bool {
	v := os.Getenv("CI")
	if v == "" {
		return false
	}
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	return true
}

// lookPath finds name in PATH, then in sbinDirs, and returns an absolute
// path.
func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range sbinDirs {
			if q, qerr := exec.LookPath(filepath.Join(dir, name)); qerr == nil {
				p, err = q, nil
				break
			}
		}
	}
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}
