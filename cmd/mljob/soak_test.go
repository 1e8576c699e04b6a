package main

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/testdep"
)

// Soak test bounds: enough faults to hit most windows of a run's life
// (claim, upload, start, wait, record), few enough to finish in minutes.
const (
	soakJobs      = 1000
	soakHosts     = 4
	soakMaxFaults = 20
	soakFaultsFor = 90 * time.Second
)

// soakSeed is the seed of the fault schedule: MLJOB_SOAK_SEED to replay a
// failure, else the clock.
func soakSeed(tb testing.TB) uint64 {
	tb.Helper()
	if s := os.Getenv("MLJOB_SOAK_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			tb.Fatalf("MLJOB_SOAK_SEED=%q: %v", s, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// TestSoakFaults: 1,000 jobs over 4 hosts while sshd daemons crash and
// come back and the dispatcher is killed with SIGKILL and restarted, at
// random; a last dispatch without faults then finishes the queue, and
// every job has exactly one succeeded outcome with its own loss.
func TestSoakFaults(t *testing.T) {
	// Its sshd hosts would skip it too; it says so itself, being the
	// longest test of all.
	testdep.SkipShort(t, "1,000 jobs run under faults (minutes)")
	seed := soakSeed(t)
	t.Logf("fault schedule seed %d (replay with MLJOB_SOAK_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	servers, keys := startHosts(t, soakHosts)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	jobs := make([]any, soakJobs)
	for i := range jobs {
		jobs[i] = map[string]any{"scriptName": "echo.py", "projectName": "soak", "x": float64(i) - 499.5, "sleepSeconds": 0.05}
	}
	subs := c.submit(c.scripts, jobs...)
	if len(subs) != soakJobs {
		t.Fatalf("submitted %d jobs, want %d", len(subs), soakJobs)
	}
	// A crashed sshd is back within a second, far inside --lost-after: no
	// run should be given up for lost. Retries cover attempts cut before
	// their start was reported.
	args := dispatchArgs(hostsFile, c.scripts, "--lost-after", "2m", "--retries", "10")

	d := c.startDispatch(nil, args...)
	start := time.Now()
	faults, kills, crashes := 0, 0, 0
	for faults < soakMaxFaults && time.Since(start) < soakFaultsFor && !d.exited() {
		// The schedule of faults, 1–3 s apart: not a wait for any state.
		select {
		case <-d.done:
			continue
		case <-time.After(time.Second + time.Duration(rng.Int64N(int64(2*time.Second)))):
		}
		faults++
		if rng.IntN(2) == 0 {
			d.kill9(t)
			kills++
			t.Logf("fault %d at %v: dispatcher killed (status %v)", faults, time.Since(start).Round(time.Millisecond), c.statusCounts())
			d = c.startDispatch(nil, args...)
			continue
		}
		s := servers[rng.IntN(len(servers))]
		s.Crash()
		crashes++
		down := time.Duration(rng.Int64N(int64(time.Second)))
		t.Logf("fault %d at %v: sshd of %s crashed for %v", faults, time.Since(start).Round(time.Millisecond), s.Name, down)
		<-time.After(down) // how long the host stays without sshd
		s.Restart(t)
	}
	t.Logf("%d faults (%d dispatcher kills, %d sshd crashes) in %v", faults, kills, crashes, time.Since(start).Round(time.Millisecond))
	if code := d.wait(t); code != 0 {
		t.Logf("last dispatcher under faults exited %d; stderr tail:\n%s", code, tail(d.stderr.String(), 2000))
	}

	r := c.mustRun(args...)
	t.Logf("final dispatch: %s", lineWith(r.stderr, "Dispatched in"))
	checkNothingLost(t, c, subs, servers, lostRules{attempts: soakAttempts(t, c, subs), showSome: true})

	got := byJob(t, c.outcomes())
	for i, s := range subs {
		x := float64(i) - 499.5
		if o, ok := got[s.JobID]; ok && (o.Loss == nil || *o.Loss != x*x) {
			t.Errorf("job %d: loss %v, want %v", s.JobID, o.Loss, x*x)
		}
	}
	if t.Failed() {
		t.Logf("seed %d", seed)
	}
}

// soakAttempts expects, for each order, the attempt its outcome is from:
// under faults an attempt cut before its start was reported is queued
// again, which checkNothingLost then checks was a failed attempt with a
// reason. It logs how many orders needed more than one.
func soakAttempts(tb testing.TB, c *cli, subs []submitted) map[int64]int {
	tb.Helper()
	m := map[int64]int{}
	retried := 0
	for _, o := range c.outcomes() {
		if prev, ok := m[o.OrderID]; !ok || o.Attempt > prev {
			m[o.OrderID] = o.Attempt
		}
		if o.Attempt > 1 {
			retried++
		}
	}
	tb.Logf("%d of %d orders took more than one attempt", retried, len(subs))
	return m
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
