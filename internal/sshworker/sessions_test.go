package sshworker_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshtest"
	"github.com/mljob/mljob/internal/sshworker"
	"github.com/mljob/mljob/internal/testdep"
)

// defaultLimitsHost starts an sshd with OpenSSH's default limits
// (MaxSessions 10) and returns it with its keys.
func defaultLimitsHost(t *testing.T) (*sshtest.Server, sshtest.Keys) {
	t.Helper()
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	return servers[0], keys
}

func dialT(t *testing.T, s *sshtest.Server, keys sshtest.Keys) *sshconn.Client {
	t.Helper()
	c, err := sshconn.Dial(context.Background(), s.Config(keys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestAgentAttachHoldsNoSession: a new dispatcher's Host (a connection of
// its own, as after a restart) attaches to 12 runs, more than sshd's
// MaxSessions, through its agent: all 12 are waited on at once, a session
// is still free for other commands, and each result comes back.
func TestAgentAttachHoldsNoSession(t *testing.T) {
	s, keys := defaultLimitsHost(t)
	dir := t.TempDir()
	first := sshworker.NewHost(s.Name, dialT(t, s, keys), dir)
	first.EnableAgent(hostPython, true, func(msg string) { t.Errorf("agent not used: %s", msg) })
	release := filepath.Join(t.TempDir(), "release")
	const n = 12
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = nextID()
		spec := shSpec(t, ids[i], `while [ ! -e "$1" ] && [ -d "${1%/*}" ]; do sleep 0.05; done; echo '{"done":true}'`)
		spec.Argv = append(spec.Argv, release)
		started := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = first.Run(context.Background(), spec, func(run.Started) { close(started) })
		}()
		<-started
	}
	first.StopAgent() // the first dispatcher is gone; its runs go on
	t.Cleanup(wg.Wait)

	second := sshworker.NewHost(s.Name, dialT(t, s, keys), dir)
	second.EnableAgent(hostPython, true, func(msg string) { t.Errorf("agent not used: %s", msg) })
	t.Cleanup(second.StopAgent)
	type attached struct {
		res run.Result
		err error
	}
	results := make(chan attached, n)
	var startedN sync.WaitGroup
	startedN.Add(n)
	for _, id := range ids {
		go func() {
			res, err := second.Attach(context.Background(), id, run.AttachOptions{StdoutTail: 1 << 16, StderrTail: 1 << 16, Started: func(run.Started) { startedN.Done() }})
			results <- attached{res, err}
		}()
	}
	allStarted := make(chan struct{})
	go func() { startedN.Wait(); close(allStarted) }()
	select {
	case <-allStarted:
	case <-time.After(time.Minute):
		t.Fatal("not every attach reported its run started")
	}
	// While all 12 are waited on, another command gets a session.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := second.Exec(ctx, []string{"true"}, nil, nil, nil); err != nil {
		t.Fatalf("exec while 12 runs are attached: %v", err)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		r := <-results
		if r.err != nil || r.res.ExitCode != 0 || string(r.res.Stdout) != "{\"done\":true}\n" {
			t.Errorf("attach: %v, exit %d, stdout %q", r.err, r.res.ExitCode, r.res.Stdout)
		}
	}
}

// TestAgentAttachLostRuns: the agent's attach reads a run whose wrapper is
// gone without an exit code (a host restart) as lost, and so a start that
// took the token but never wrote its pid, as the attach script does.
func TestAgentAttachLostRuns(t *testing.T) {
	h, dir := withAgent(localHost)(t)
	for _, tt := range []struct {
		name, pid string
	}{
		{"wrapper gone", "2147483646\n"},
		{"no pid after the start token", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.pid == "" {
				// The attach waits out agent.py's PID_WAIT for the pid.
				testdep.SkipShort(t, "the agent's 5 s wait for a pid that never comes")
			}
			id := nextID()
			runDir := filepath.Join(dir, "runs", id)
			if err := os.MkdirAll(runDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(runDir, ".go"), []byte("1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.pid != "" {
				if err := os.WriteFile(filepath.Join(runDir, "pid"), []byte(tt.pid), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			res, err := h.Attach(context.Background(), id, run.AttachOptions{StdoutTail: 100, StderrTail: 100})
			if err != nil || !res.Lost {
				t.Fatalf("attach: %v, lost %v; want a lost run", err, res.Lost)
			}
		})
	}
}
