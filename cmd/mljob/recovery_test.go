package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The recovery tests check the dispatcher's rules for what is a fact about
// a host (a changed key, a removed entry, no answer at all) and what is a
// fact about a run, and that a busy database never loses a record.

// exitCodes reports how many of the started run dirs on the servers' workdirs
// hold an exit code.
func finishedRuns(tb testing.TB, dirs map[int64]map[int]string) int {
	tb.Helper()
	n := 0
	for _, byAttempt := range dirs {
		for _, d := range byAttempt {
			if _, err := os.Stat(filepath.Join(d, "exit_code")); err == nil {
				n++
			}
		}
	}
	return n
}

// TestFaultHostKeyRotated: a host's key changes while its runs go on. The
// host is refused with the fix, its runs are neither recorded failed nor
// run again; once the key is back, the next dispatch collects them, each
// in its one attempt, and retry --failed finds nothing to run twice.
func TestFaultHostKeyRotated(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 2)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	subs := c.submit(c.scripts, echoJobs("rotated", 4, 4)...)

	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, "-v")...)
	waitFor(t, "4 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 4 })
	victim := servers[0]
	on := ordersOn(t, victim)
	if len(on) != 2 {
		t.Fatalf("%s runs orders %v, want 2", victim.Name, on)
	}
	restore := victim.RotateHostKey(t)
	if code := d.wait(t); code != 0 {
		t.Fatalf("dispatch exit %d, want 0 (the other host ran the rest); stderr:\n%s", code, d.stderr)
	}
	stderr := d.stderr.String()
	for _, want := range []string{"host " + victim.Name + " refused", "ssh-keygen -R", "2 left running"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("dispatch stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, o := range c.outcomes() {
		if on[o.OrderID] {
			t.Errorf("order %d on the refused host has an outcome (%s: %q), want none yet", o.OrderID, o.State, o.Error)
		}
	}
	if n := c.statusCounts()["running"]; n != 2 {
		t.Errorf("%d orders running after the first dispatch, want the refused host's 2", n)
	}
	dirs := runDirs(t, servers[:1])
	waitFor(t, "the refused host's runs to finish", time.Minute, func() bool { return finishedRuns(t, dirs) == 2 })

	restore()
	r := c.mustRun(dispatchArgs(hostsFile, c.scripts, "-v")...)
	if !strings.Contains(r.stderr, "Adopted 2 run(s)") {
		t.Errorf("second dispatch did not adopt the 2 runs; stderr:\n%s", r.stderr)
	}
	checkNothingLost(t, c, subs, servers, lostRules{})
	if r := c.run("retry", "--failed", "--project", "rotated"); r.code != 1 || c.statusCounts()["unassigned"] != 0 {
		t.Errorf("retry --failed: exit %d, want 1 (nothing failed to run again): %s%s", r.code, r.stdout, r.stderr)
	}
}
