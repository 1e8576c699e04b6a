package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/sshtest"
)

// TestFaultAdoptMoreThanMaxSessions: a host under OpenSSH's default limits
// (MaxSessions 10, MaxStartups 10:30:100) with 16 slots; the dispatcher is
// killed with 16 runs live, and the next dispatch adopts all 16 — more than
// the host allows sessions on one connection. Every job ends succeeded,
// once, in one attempt: through the agent, which waits on all of them over
// one session, and with --no-agent, where attaches wait for a free session.
func TestFaultAdoptMoreThanMaxSessions(t *testing.T) {
	t.Parallel()
	for _, second := range [][]string{nil, {"--no-agent"}} {
		t.Run("then "+strings.Join(append([]string{"dispatch"}, second...), " "), func(t *testing.T) {
			servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
			c := newCLI(t)
			hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 16})
			subs := c.submit(c.scripts, echoJobs("sessions", 24, 8)...)

			d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, "-v")...)
			waitFor(t, "16 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 16 })
			d.kill9(t)

			r := c.mustRun(dispatchArgs(hostsFile, c.scripts, append([]string{"-v"}, second...)...)...)
			if !strings.Contains(r.stderr, "Adopted 16 run(s)") {
				t.Errorf("the second dispatch did not adopt the 16 runs; stderr:\n%s", r.stderr)
			}
			checkNothingLost(t, c, subs, servers, lostRules{})
			if t.Failed() {
				t.Logf("second dispatch's stderr:\n%s", r.stderr)
			}
		})
	}
}
