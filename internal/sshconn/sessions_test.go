package sshconn_test

import (
	"context"
	"testing"

	"github.com/mljob/mljob/internal/sshtest"
)

// defaultLimitsHost starts an sshd with OpenSSH's default limits
// (MaxSessions 10) and returns it with its keys.
func defaultLimitsHost(t *testing.T) (*sshtest.Server, sshtest.Keys) {
	t.Helper()
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	return servers[0], keys
}

// TestSessionRefusalIsWaitedOut: more commands at once than sshd allows
// sessions on one connection all run: a refused session is asked again
// once one ends, not reported as the command's failure.
func TestSessionRefusalIsWaitedOut(t *testing.T) {
	s, keys := defaultLimitsHost(t)
	c := MustDial(t, s.Config(keys))
	const n = 14
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() { errs <- c.Exec(context.Background(), []string{"sleep", "1"}, nil, nil, nil) }()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Errorf("exec %d of %d: %v", i+1, n, err)
		}
	}
}
