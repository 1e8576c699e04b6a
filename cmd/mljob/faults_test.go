package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/sshtest"
	"github.com/mljob/mljob/internal/testutil"
)

// The fault tests break a dispatch the ways a laptop and its hosts break —
// the dispatcher killed, an sshd crashed, a host rebooted or cut off, a
// job that hangs — and check that nothing is lost: every job ends with one
// outcome, and none ran twice unless its first run was lost.

// faultTimeout bounds a background dispatch in these tests.
const faultTimeout = 3 * time.Minute

// bgDispatch is an mljob dispatch running in the background.
type bgDispatch struct {
	cmd    *exec.Cmd
	stderr *testutil.SyncBuffer
	cancel context.CancelFunc
	done   chan struct{} // closed once cmd.Wait returned
	err    error         // cmd.Wait's error, set before done is closed
}

// startDispatch starts mljob in the background with extra environment entries; a
// cleanup kills it if the test leaves it running.
func (c *cli) startDispatch(env []string, args ...string) *bgDispatch {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), faultTimeout)
	b := &bgDispatch{stderr: &testutil.SyncBuffer{}, cancel: cancel, done: make(chan struct{})}
	b.cmd = c.command(ctx, args...)
	b.cmd.Env = append(b.cmd.Env, env...)
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		cancel()
		c.tb.Fatal(err)
	}
	go func() {
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	c.tb.Cleanup(func() {
		cancel()
		<-b.done
	})
	return b
}

// kill9 kills the dispatcher with SIGKILL and reaps it: a zombie would
// still count as alive to the next dispatcher, which would then wait for
// its heartbeat to go stale instead of adopting its runs at once.
func (b *bgDispatch) kill9(tb testing.TB) {
	tb.Helper()
	if err := b.cmd.Process.Kill(); err != nil {
		tb.Fatalf("kill dispatcher: %v", err)
	}
	<-b.done
	var ee *exec.ExitError
	if !errors.As(b.err, &ee) {
		tb.Fatalf("killed dispatcher: %v, want a death by signal; stderr:\n%s", b.err, b.stderr)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && (!ws.Signaled() || ws.Signal() != syscall.SIGKILL) {
		tb.Fatalf("dispatcher ended with %v before SIGKILL reached it; stderr:\n%s", b.err, b.stderr)
	}
}

// waitKilled waits for the dispatcher to die by SIGKILL (a crash hook's
// kill -9 of itself), and fails the test if it ended any other way.
func (b *bgDispatch) waitKilled(tb testing.TB) {
	tb.Helper()
	<-b.done
	var ee *exec.ExitError
	if !errors.As(b.err, &ee) {
		tb.Fatalf("dispatch with the crash hook: %v, want a death by SIGKILL; stderr:\n%s", b.err, b.stderr)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		tb.Fatalf("dispatch with the crash hook ended with %v, want a death by SIGKILL; stderr:\n%s", b.err, b.stderr)
	}
}

// wait waits for the dispatcher to exit and returns its exit code.
func (b *bgDispatch) wait(tb testing.TB) int {
	tb.Helper()
	<-b.done
	var ee *exec.ExitError
	switch {
	case b.err == nil:
		return 0
	case errors.As(b.err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	default:
		tb.Fatalf("dispatch: %v; stderr:\n%s", b.err, b.stderr)
		return -1
	}
}

// exited reports whether the dispatcher has exited.
func (b *bgDispatch) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// echoJobs are n echo.py jobs of project, x = 0..n-1, each sleeping sleep
// seconds first.
func echoJobs(project string, n int, sleep float64) []any {
	jobs := make([]any, n)
	for i := range jobs {
		jobs[i] = map[string]any{"scriptName": "echo.py", "projectName": project, "x": float64(i), "sleepSeconds": sleep}
	}
	return jobs
}

// faultAttempt is one attempt in show -o json.
type faultAttempt struct {
	OrderID  int64  `json:"orderId"`
	Attempt  int    `json:"attempt"`
	State    string `json:"state"`
	Host     string `json:"host"`
	RunDir   string `json:"runDir"`
	PID      int    `json:"pid"`
	ExitCode *int   `json:"exitCode"`
	Error    string `json:"error"`
	// Slurm is the array task the attempt ran as; nil outside Slurm.
	Slurm *struct {
		JobID      int64  `json:"jobId"`
		ArrayIndex int    `json:"arrayIndex"`
		State      string `json:"state"`
	} `json:"slurm"`
}

// faultShown is the part of show -o json the fault and Slurm tests read.
type faultShown struct {
	Attempts []faultAttempt `json:"attempts"`
	Outcomes []outcomeRow   `json:"outcomes"`
}

func (c *cli) showAttempts(jobID int64) faultShown {
	c.tb.Helper()
	r := c.mustRun("show", strconv.FormatInt(jobID, 10), "-o", "json")
	var s faultShown
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		c.tb.Fatalf("show -o json: %v\n%s", err, r.stdout)
	}
	return s
}

// lostRules says what a scenario expects beyond the defaults: one attempt
// per order, ending in success.
type lostRules struct {
	// attempts expects that many attempts for an order (by order id).
	attempts map[int64]int
	// failed expects an order's outcome to fail with an error holding this.
	failed map[int64]string
	// showSome, when set, reads show -o json only for the jobs whose
	// outcome is not from attempt 1 (the soak's 1,000 jobs would take
	// 1,000 commands); otherwise every job is shown.
	showSome bool
}

// runDirs maps order id → attempt → run dir, for the run dirs on the
// servers where a run was started (the wrapper wrote its pid).
func runDirs(tb testing.TB, servers []*sshtest.Server) map[int64]map[int]string {
	tb.Helper()
	m := map[int64]map[int]string{}
	for _, s := range servers {
		dirs, err := filepath.Glob(filepath.Join(s.Workdir, "runs", "*"))
		if err != nil {
			tb.Fatal(err)
		}
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, "pid")); err != nil {
				continue
			}
			// <queue>-<order>-<attempt>: one queue file per test.
			parts := strings.Split(filepath.Base(d), "-")
			var order int64
			var attempt int
			var err1, err2 error
			if len(parts) == 3 {
				order, err1 = strconv.ParseInt(parts[1], 10, 64)
				attempt, err2 = strconv.Atoi(parts[2])
			}
			if len(parts) != 3 || err1 != nil || err2 != nil {
				tb.Errorf("run dir %s is not named <queue>-<order>-<attempt>", d)
				continue
			}
			if m[order] == nil {
				m[order] = map[int]string{}
			}
			if prev, dup := m[order][attempt]; dup {
				tb.Errorf("order %d attempt %d ran on two hosts: %s and %s", order, attempt, prev, d)
			}
			m[order][attempt] = d
		}
	}
	return m
}

// checkNothingLost checks the invariants every fault scenario ends with:
// no order left in a non-final state; exactly one outcome per order,
// succeeded unless rules say how it fails; the expected number of
// attempts, every one but the last failed with a reason; and no job ran
// twice unless an attempt was lost: each started run dir belongs to an
// attempt of its order, an order of one attempt has one run dir, and no
// attempt before the last ran to its end.
func checkNothingLost(tb testing.TB, c *cli, subs []submitted, servers []*sshtest.Server, rules lostRules) {
	tb.Helper()
	counts := c.statusCounts()
	for _, st := range []string{"unassigned", "assigned", "running"} {
		if counts[st] != 0 {
			tb.Errorf("%d orders %s at the end, want none (status %v)", counts[st], st, counts)
		}
	}
	outcomes := map[int64][]outcomeRow{}
	for _, o := range c.outcomes() {
		outcomes[o.OrderID] = append(outcomes[o.OrderID], o)
	}
	dirs := runDirs(tb, servers)
	for _, s := range subs {
		want := rules.attempts[s.OrderID]
		if want == 0 {
			want = 1
		}
		outs := outcomes[s.OrderID]
		if len(outs) != 1 {
			tb.Errorf("order %d (job %d): %d outcomes, want exactly 1: %+v", s.OrderID, s.JobID, len(outs), outs)
			continue
		}
		o := outs[0]
		if msg, ok := rules.failed[s.OrderID]; ok {
			if o.State != "failed" || !strings.Contains(o.Error, msg) {
				tb.Errorf("order %d: outcome %s (%q), want failed with %q", s.OrderID, o.State, o.Error, msg)
			}
		} else if o.State != "succeeded" {
			tb.Errorf("order %d: outcome %s (%q), want succeeded", s.OrderID, o.State, o.Error)
		}
		if o.Attempt != want {
			tb.Errorf("order %d: outcome of attempt %d, want attempt %d", s.OrderID, o.Attempt, want)
		}
		ran := dirs[s.OrderID]
		for a := range ran {
			if a < 1 || a > o.Attempt {
				tb.Errorf("order %d: a run dir of attempt %d, but the outcome is of attempt %d: %s", s.OrderID, a, o.Attempt, ran[a])
			}
		}
		for a, dir := range ran {
			// An earlier attempt whose run ended by itself (the wrapper
			// wrote its exit code) was not lost: running the job again
			// ran it twice.
			if _, err := os.Stat(filepath.Join(dir, "exit_code")); a < o.Attempt && err == nil {
				tb.Errorf("order %d ran twice: attempt %d ran to its end in %s, yet attempt %d ran too; attempts: %+v",
					s.OrderID, a, dir, o.Attempt, c.showAttempts(s.JobID).Attempts)
			}
		}
		if _, ok := ran[o.Attempt]; !ok && o.State == "succeeded" {
			tb.Errorf("order %d: succeeded in attempt %d with no run dir for it (run dirs %v)", s.OrderID, o.Attempt, ran)
		}
		if o.Attempt == 1 && len(ran) != 1 {
			tb.Errorf("order %d: one attempt but %d run dirs: %v", s.OrderID, len(ran), ran)
		}
		if rules.showSome && o.Attempt == 1 {
			continue
		}
		sh := c.showAttempts(s.JobID)
		if len(sh.Attempts) != o.Attempt {
			tb.Errorf("order %d: show lists %d attempts, outcome is of attempt %d: %+v", s.OrderID, len(sh.Attempts), o.Attempt, sh.Attempts)
			continue
		}
		for i, a := range sh.Attempts {
			last := i == len(sh.Attempts)-1
			switch {
			case a.Attempt != i+1:
				tb.Errorf("order %d: attempt %d listed as number %d", s.OrderID, a.Attempt, i+1)
			case !last && (a.State != "failed" || a.Error == ""):
				tb.Errorf("order %d: earlier attempt %d is %s (%q), want failed with a reason", s.OrderID, a.Attempt, a.State, a.Error)
			case last && a.State != o.State:
				tb.Errorf("order %d: last attempt is %s, its outcome %s", s.OrderID, a.State, o.State)
			case last && a.Host != o.Host:
				tb.Errorf("order %d: last attempt on %s, its outcome from %s", s.OrderID, a.Host, o.Host)
			}
		}
	}
}

// ordersOn returns the orders that have started a run on s, from the run
// dirs there.
func ordersOn(tb testing.TB, s *sshtest.Server) map[int64]bool {
	tb.Helper()
	m := map[int64]bool{}
	for order := range runDirs(tb, []*sshtest.Server{s}) {
		m[order] = true
	}
	return m
}

// TestFaultKillDispatcher: the dispatcher is killed with SIGKILL while six
// runs are live on three hosts; the next dispatch adopts all six, and every
// order ends with one attempt: none ran twice.
func TestFaultKillDispatcher(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 3)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	subs := c.submit(c.scripts, echoJobs("kill9", 9, 4)...)

	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, "-v")...)
	waitFor(t, "6 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 6 })
	d.kill9(t)
	if counts := c.statusCounts(); counts["running"] != 6 {
		t.Fatalf("after kill -9: status %v, want the 6 runs still running", counts)
	}

	r := c.mustRun(dispatchArgs(hostsFile, c.scripts, "-v")...)
	if !strings.Contains(r.stderr, "Adopted 6 run(s)") {
		t.Errorf("second dispatch did not adopt the 6 runs; stderr:\n%s", r.stderr)
	}
	checkNothingLost(t, c, subs, servers, lostRules{})
}

// TestFaultSSHDCrash: one host's sshd crashes mid-run while its runs go
// on; once it is back, the dispatcher reattaches to them and collects
// their outcomes, still in one attempt each.
func TestFaultSSHDCrash(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 2)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	subs := c.submit(c.scripts, echoJobs("crash", 4, 4)...)

	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, "-v")...)
	waitFor(t, "4 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 4 })
	victim := servers[0]
	on := ordersOn(t, victim)
	if len(on) != 2 {
		t.Fatalf("%s runs orders %v, want 2", victim.Name, on)
	}
	victim.Crash()
	waitFor(t, "the dispatcher to see the connection drop", time.Minute, func() bool {
		return strings.Contains(d.stderr.String(), "on "+victim.Name+": connection lost while waiting")
	})
	victim.Restart(t)
	if code := d.wait(t); code != 0 {
		t.Fatalf("dispatch exit %d; stderr:\n%s", code, d.stderr)
	}
	if strings.Contains(d.stderr.String(), "requeued") {
		t.Errorf("dispatch requeued an order; stderr:\n%s", d.stderr)
	}
	checkNothingLost(t, c, subs, servers, lostRules{})
	for _, o := range c.outcomes() {
		if on[o.OrderID] && o.Host != victim.Name {
			t.Errorf("order %d ran on %s, but its outcome is from %s", o.OrderID, victim.Name, o.Host)
		}
	}
}

// TestFaultHostGone: one host dies with its runs ("reboot") and never
// comes back; after --lost-after its orders are queued again and finish on
// the other hosts, in a second attempt whose first failed naming the host.
func TestFaultHostGone(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 3)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	subs := c.submit(c.scripts, echoJobs("gone", 6, 3)...)

	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, "-v", "--lost-after", "3s")...)
	waitFor(t, "6 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 6 })
	victim := servers[0]
	on := ordersOn(t, victim)
	if len(on) != 2 {
		t.Fatalf("%s runs orders %v, want 2", victim.Name, on)
	}
	victim.Stop()
	if code := d.wait(t); code != 0 {
		t.Fatalf("dispatch exit %d; stderr:\n%s", code, d.stderr)
	}
	rules := lostRules{attempts: map[int64]int{}}
	for order := range on {
		rules.attempts[order] = 2
	}
	checkNothingLost(t, c, subs, servers, rules)
	for _, s := range subs {
		if !on[s.OrderID] {
			continue
		}
		sh := c.showAttempts(s.JobID)
		if len(sh.Attempts) != 2 {
			continue // reported by checkNothingLost
		}
		first, second := sh.Attempts[0], sh.Attempts[1]
		if first.Host != victim.Name || !strings.Contains(first.Error, victim.Name) {
			t.Errorf("order %d: first attempt on %s failed with %q, want on %s with an error naming it", s.OrderID, first.Host, first.Error, victim.Name)
		}
		if second.Host == victim.Name || second.State != "succeeded" {
			t.Errorf("order %d: second attempt %s on %s, want succeeded elsewhere", s.OrderID, second.State, second.Host)
		}
	}
}

// TestFaultPartition: a host behind its own network link is cut off
// mid-run and comes back before --lost-after: the dispatcher reattaches to
// the run, which went on, and records it in its one attempt.
func TestFaultPartition(t *testing.T) {
	t.Parallel()
	n := sshtest.NewNetns(t)
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true, Netns: n.Name, Address: n.Addr})
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	subs := c.submit(c.scripts, echoJobs("partition", 2, 5)...)

	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, "-v", "--lost-after", "2m")...)
	waitFor(t, "2 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 2 })
	n.Down(t)
	// The link gives no reset: the dispatcher learns of the cut from its
	// SSH keepalive, within two keepalive intervals (15 s each).
	waitFor(t, "the dispatcher to see the connection drop", time.Minute, func() bool {
		return strings.Contains(d.stderr.String(), "connection lost while waiting")
	})
	n.Up(t)
	if code := d.wait(t); code != 0 {
		t.Fatalf("dispatch exit %d; stderr:\n%s", code, d.stderr)
	}
	if strings.Contains(d.stderr.String(), "requeued") {
		t.Errorf("dispatch requeued an order; stderr:\n%s", d.stderr)
	}
	checkNothingLost(t, c, subs, servers, lostRules{})
}

// TestFaultTimeout: a job that hangs past its timeoutSeconds is killed:
// its outcome says so, and no process of its group is left on the host.
func TestFaultTimeout(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	subs := c.submit(c.scripts,
		map[string]any{"scriptName": "echo.py", "projectName": "hang", "x": 1, "sleepSeconds": 600, "timeoutSeconds": 1},
		map[string]any{"scriptName": "echo.py", "projectName": "hang", "x": 2})
	r := c.mustRun(dispatchArgs(hostsFile, c.scripts)...)
	if !strings.Contains(r.stderr, "1 succeeded, 1 failed") {
		t.Errorf("dispatch summary: want 1 succeeded, 1 failed; stderr:\n%s", r.stderr)
	}
	checkNothingLost(t, c, subs, servers, lostRules{failed: map[int64]string{subs[0].OrderID: "timeout after 1s"}})

	sh := c.showAttempts(subs[0].JobID)
	if len(sh.Attempts) != 1 || sh.Attempts[0].PID <= 0 {
		t.Fatalf("show: attempts %+v, want one with a pid", sh.Attempts)
	}
	pgid := sh.Attempts[0].PID
	// The run's group leader is the wrapper setsid started; ps, as the kill
	// script does, because a zombie still answers kill -0.
	out, err := exec.Command("ps", "-eo", "pid=,pgid=,stat=,args=").Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == strconv.Itoa(pgid) && !strings.HasPrefix(f[2], "Z") {
			t.Errorf("process of the timed-out run's group %d still alive: %s", pgid, line)
		}
	}
}

// TestFaultCrashBeforeRecord: the dispatcher dies between reading a run's
// result and writing its outcome; the next dispatch records the outcome
// from the run dir, once, without running the job again.
func TestFaultCrashBeforeRecord(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	// One slot: when the hook fires no other run is going, so this tests
	// the crash point alone (a next order may be claimed, not started: see
	// rules below). A dispatcher that dies while it sends a job's JSON to a
	// starting run is the soak's business.
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	subs := c.submit(c.scripts, echoJobs("record", 3, 0.5)...)
	target := subs[1]

	d := c.startDispatch([]string{crashEnv + "=" + strconv.FormatInt(target.OrderID, 10)}, dispatchArgs(hostsFile, c.scripts, "-v")...)
	d.waitKilled(t)
	sh := c.showAttempts(target.JobID)
	if len(sh.Outcomes) != 0 || len(sh.Attempts) != 1 || (sh.Attempts[0].State != "running" && sh.Attempts[0].State != "assigned") {
		t.Fatalf("after the crash: attempts %+v, outcomes %d; want one attempt running or assigned, no outcome", sh.Attempts, len(sh.Outcomes))
	}
	started := runDirs(t, servers)
	runDir := started[target.OrderID][1]
	if _, err := os.Stat(filepath.Join(runDir, "exit_code")); err != nil {
		t.Fatalf("the run had not finished when the dispatcher died: %v", err)
	}
	// The slot frees when the target's run ends, so the next order may be
	// claimed while the target's outcome is being recorded: when the hook
	// fires, that order is assigned and its start not made. The second
	// dispatch then fences it off and runs it as attempt 2.
	rules := lostRules{attempts: map[int64]int{}}
	for _, s := range subs {
		if s.OrderID == target.OrderID {
			continue
		}
		a := c.showAttempts(s.JobID).Attempts
		if len(a) == 1 && a[0].State == "assigned" && started[s.OrderID][1] == "" {
			rules.attempts[s.OrderID] = 2
		}
	}

	r := c.mustRun(dispatchArgs(hostsFile, c.scripts, "-v")...)
	if !strings.Contains(r.stderr, "Adopted") {
		t.Errorf("second dispatch adopted nothing; stderr:\n%s", r.stderr)
	}
	checkNothingLost(t, c, subs, servers, rules)
	o := c.showAttempts(target.JobID).Outcomes
	if len(o) == 1 && (o[0].Loss == nil || *o[0].Loss != 1) {
		t.Errorf("order %d: loss %v, want 1 (x = 1)", target.OrderID, o[0].Loss)
	}
	// The job ran once: one stdout line with its outcome in the one run dir.
	stdout, err := os.ReadFile(filepath.Join(runDir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(stdout), `"status": 200`); n != 1 {
		t.Errorf("run dir stdout holds %d outcomes, want 1:\n%s", n, stdout)
	}
}
