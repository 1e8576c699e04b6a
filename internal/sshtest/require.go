package sshtest

import (
	"testing"

	"github.com/mljob/mljob/internal/testdep"
)

// Require checks that the named OpenSSH programs exist. When one is missing
// it fails the test if the CI environment variable is set (so a CI machine
// without OpenSSH cannot pass by skipping), and skips it with a loud reason
// otherwise.
func Require(tb testing.TB, bins ...string) {
	tb.Helper()
	testdep.Require(tb, "install openssh-server and openssh-client", bins...)
}

func mustLookPath(tb testing.TB, name string) string {
	tb.Helper()
	p, err := testdep.LookPath(name)
	if err != nil {
		tb.Fatalf("sshtest: %v", err)
	}
	return p
}
