// Package testdep is how tests that need a real program (sshd, Slurm's
// daemons, Chromium, tmux, a Python module) find it and what they do without it: on a CI
// machine (the CI variable set) a missing program fails the test, so such
// a machine cannot pass by skipping; elsewhere the test is skipped with a
// loud reason saying what to install.
package testdep

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sbinDirs are searched after PATH: a normal user's PATH often lacks them,
// and that is where distributions install daemons.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

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

// LookPath finds name in PATH, then in the sbin directories, and returns
// an absolute path.
func LookPath(name string) (string, error) {
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

// Missing ends a test that cannot run here: it fails it in CI and skips it
// elsewhere. msg says what is missing and how to get it.
func Missing(tb testing.TB, msg string) {
	tb.Helper()
	if inCI() {
		tb.Fatalf("TEST NOT RUN: %s (CI is set, so this is a failure)", msg)
	}
	tb.Skipf("TEST NOT RUN: %s (set CI=true to make this a failure)", msg)
}

// Require calls Missing unless every program in bins is found by LookPath;
// install says how to get them.
func Require(tb testing.TB, install string, bins ...string) {
	tb.Helper()
	var missing []string
	for _, b := range bins {
		if _, err := LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		Missing(tb, fmt.Sprintf("%q not found in PATH or %v; %s", missing, sbinDirs, install))
	}
}

// RequirePythonModule calls Missing unless python (an absolute path, or
// a name LookPath finds) runs and imports module; install says how to get
// it. Debian's python3-* packages are seen by /usr/bin/python3, often not
// by the python3 first in PATH.
func RequirePythonModule(tb testing.TB, python, module, install string) {
	tb.Helper()
	exe, err := LookPath(python)
	if err != nil {
		Missing(tb, fmt.Sprintf("%s not found; %s", python, install))
		return
	}
	out, err := exec.Command(exe, "-c", "import "+module).CombinedOutput()
	if err != nil {
		Missing(tb, fmt.Sprintf("%s cannot import %s (%v: %s); %s", exe, module, err, lastLine(out), install))
	}
}

// lastLine is the last non-empty line of out: a Python traceback's error.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// SkipShort skips a test that starts real daemons or a browser (what names
// them) under go test -short, the fast loop: those suites run in make test.
func SkipShort(tb testing.TB, what string) {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("-short: skips tests that need %s (make test runs them)", what)
	}
}
