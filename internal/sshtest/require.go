package sshtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// sbinDirs are searched after PATH: a normal user's PATH often lacks them,
// and that is where distributions install sshd.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

// Require checks that the named OpenSSH programs exist. When one is missing
// it fails the test if the CI environment variable is set (so a CI machine
// without OpenSSH cannot pass by skipping), and skips it with a loud reason
// otherwise.
func Require(tb testing.TB, bins ...string) {
	tb.Helper()
	var missing []string
	for _, b := range bins {
		if _, err := lookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("SSH INTEGRATION TEST NOT RUN: %q not found in PATH or %v; install openssh-server and openssh-client", missing, sbinDirs)
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

func mustLookPath(tb testing.TB, name string) string {
	tb.Helper()
	p, err := lookPath(name)
	if err != nil {
		tb.Fatalf("sshtest: %v", err)
	}
	return p
}
