package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/sshtest"
	"github.com/mljob/mljob/internal/testdep"
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
	refusedMidRun(t, "ssh-keygen -R", func(victim *sshtest.Server) func() { return victim.RotateHostKey(t) })
}

// TestFaultAuthRevoked: as TestFaultHostKeyRotated, but the host stops
// accepting our key (authorized_keys emptied, connections dropped) while
// the runs go on, and accepts it again later.
func TestFaultAuthRevoked(t *testing.T) {
	t.Parallel()
	refusedMidRun(t, "authorized_keys", func(victim *sshtest.Server) func() {
		path := filepath.Join(victim.Dir, "authorized_keys")
		authorized, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		victim.Crash() // drop the connections; the runs go on
		victim.Restart(t)
		return func() {
			if err := os.WriteFile(path, authorized, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// refusedMidRun runs four jobs on two hosts, has refuse make the first
// host refuse us while its two runs go on, and checks that the dispatch
// leaves them running, recorded nowhere, with the fix (wantHint) printed;
// once refuse's undo ran, the next dispatch collects them.
func refusedMidRun(t *testing.T, wantHint string, refuse func(victim *sshtest.Server) (undo func())) {
	servers, keys := startHosts(t, 2)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	subs := c.submit(c.scripts, echoJobs("refused", 4, 4)...)

	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, "-v")...)
	waitFor(t, "4 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 4 })
	victim := servers[0]
	on := ordersOn(t, victim)
	if len(on) != 2 {
		t.Fatalf("%s runs orders %v, want 2", victim.Name, on)
	}
	undo := refuse(victim)
	if code := d.wait(t); code != 0 {
		t.Fatalf("dispatch exit %d, want 0 (the other host ran the rest); stderr:\n%s", code, d.stderr)
	}
	stderr := d.stderr.String()
	for _, want := range []string{"host " + victim.Name + " refused", wantHint, "2 left running"} {
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

	undo()
	r := c.mustRun(dispatchArgs(hostsFile, c.scripts, "-v")...)
	if !strings.Contains(r.stderr, "Adopted 2 run(s)") {
		t.Errorf("second dispatch did not adopt the 2 runs; stderr:\n%s", r.stderr)
	}
	checkNothingLost(t, c, subs, servers, lostRules{})
	if r := c.run("retry", "--failed", "--project", "refused"); r.code != 1 || c.statusCounts()["unassigned"] != 0 {
		t.Errorf("retry --failed: exit %d, want 1 (nothing failed to run again): %s%s", r.code, r.stdout, r.stderr)
	}
}

// lateRow is an outcome as outcomes -o json and show -o json give it, with
// the note on an outcome that does not count.
type lateRow struct {
	JobID      int64  `json:"jobId"`
	OrderID    int64  `json:"orderId"`
	Attempt    int    `json:"attempt"`
	State      string `json:"state"`
	Host       string `json:"host"`
	Superseded string `json:"superseded"`
}

// lateRows returns the outcomes of order from outcomes -o json, by
// attempt.
func (c *cli) lateRows(order int64) []lateRow {
	c.tb.Helper()
	r := c.mustRun("outcomes", "-o", "json")
	var rows []lateRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		c.tb.Fatalf("outcomes -o json: %v\n%s", err, r.stdout)
	}
	var out []lateRow
	for _, o := range rows {
		if o.OrderID == order {
			out = append(out, o)
		}
	}
	// outcomes ranks by the objective, and an order's attempts may have
	// different values; the callers read them attempt by attempt.
	slices.SortFunc(out, func(a, b lateRow) int { return a.Attempt - b.Attempt })
	return out
}

// abandoned is the scene abandonOne sets.
type abandoned struct {
	c         *cli
	hostsFile string
	d         *bgDispatch
	victim    *sshtest.Server
	order     int64
}

// abandonOne starts a dispatch over two hosts of one slot each with two
// jobs, crashes the sshd of one host (its run goes on) and waits until
// that run's order succeeded in a second attempt on the other host.
func abandonOne(t *testing.T, extra ...string) abandoned {
	servers, keys := startHosts(t, 2)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	subs := c.submit(c.scripts, echoJobs("late", 2, 4)...)
	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, append([]string{"-v", "--lost-after", "2s"}, extra...)...)...)
	waitFor(t, "2 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 2 })
	victim := servers[0]
	var order int64
	for o := range ordersOn(t, victim) {
		order = o
	}
	victim.Crash()
	var job int64
	for _, s := range subs {
		if s.OrderID == order {
			job = s.JobID
		}
	}
	waitFor(t, "attempt 2 to succeed elsewhere", 2*time.Minute, func() bool {
		a := c.showAttempts(job).Attempts
		return len(a) == 2 && a[1].State == "succeeded"
	})
	return abandoned{c: c, hostsFile: hostsFile, d: d, victim: victim, order: order}
}

// checkBothKept checks that both outcomes of order are kept, that attempt 2
// (recorded first) counts and attempt 1's says why it does not.
func checkBothKept(t *testing.T, c *cli, order int64, stderr string) {
	t.Helper()
	rows := c.lateRows(order)
	if len(rows) != 2 {
		t.Fatalf("order %d: %d outcomes, want both attempts' (%+v); stderr:\n%s", order, len(rows), rows, stderr)
	}
	first, second := rows[0], rows[1]
	if first.Attempt != 1 || first.State != "succeeded" || !strings.Contains(first.Superseded, "attempt 2") {
		t.Errorf("order %d: attempt 1's outcome %+v, want succeeded, superseded naming attempt 2", order, first)
	}
	if second.Attempt != 2 || second.State != "succeeded" || second.Superseded != "" {
		t.Errorf("order %d: attempt 2's outcome %+v, want succeeded and counting", order, second)
	}
	if counts := c.statusCounts(); counts["succeeded"] != 2 {
		t.Errorf("status %v, want both orders succeeded", counts)
	}
	var sh struct {
		Outcomes []lateRow `json:"outcomes"`
	}
	out := c.mustRun("show", fmt.Sprint(first.JobID), "-o", "json").stdout
	if err := json.Unmarshal([]byte(out), &sh); err != nil {
		t.Fatalf("show -o json: %v\n%s", err, out)
	}
	if len(sh.Outcomes) != 2 || sh.Outcomes[0].Superseded != first.Superseded || sh.Outcomes[1].Superseded != "" {
		t.Errorf("show lists outcomes %+v, want both, attempt 1's superseded as in outcomes", sh.Outcomes)
	}
}

// TestFaultLateOutcomeKept: a run given up after --lost-after finishes
// after all, while the job's second attempt already succeeded elsewhere.
// When its host answers again (the same dispatch), both outcomes are kept:
// the second counts, the first says why not.
func TestFaultLateOutcomeKept(t *testing.T) {
	t.Parallel()
	a := abandonOne(t, "--follow")
	c, d, order := a.c, a.d, a.order
	a.victim.Restart(t)
	job := c.lateRows(order)[0].JobID
	waitFor(t, "attempt 1 to be found finished", time.Minute, func() bool {
		return c.showAttempts(job).Attempts[0].State == "succeeded"
	})
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t); code != 130 {
		t.Errorf("dispatch --follow after SIGINT: exit %d, want 130", code)
	}
	checkBothKept(t, c, order, d.stderr.String())
}

// TestFaultLateOutcomeNoOtherWork: the run given up is only found finished
// by a later dispatch that has nothing else to do; that dispatch still
// looks at it before it exits.
func TestFaultLateOutcomeNoOtherWork(t *testing.T) {
	t.Parallel()
	a := abandonOne(t)
	if code := a.d.wait(t); code != 0 {
		t.Fatalf("dispatch exit %d; stderr:\n%s", code, a.d.stderr)
	}
	a.victim.Restart(t)
	r := a.c.mustRun(dispatchArgs(a.hostsFile, a.c.scripts, "-v")...)
	checkBothKept(t, a.c, a.order, a.d.stderr.String()+r.stderr)
}

// lockDB takes the queue's write lock from a second SQLite connection, as
// another program writing to the file would, and holds it until the
// returned func is called (at the latest when the test ends).
func lockDB(tb testing.TB, path string) (release func()) {
	tb.Helper()
	ctx := context.Background()
	sqlDB, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)")
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		tb.Fatalf("take the write lock: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				tb.Errorf("release the write lock: %v", err)
			}
			conn.Close()
			sqlDB.Close()
		})
	}
	tb.Cleanup(release)
	return release
}

// TestFaultDatabaseLocked: another program holds the queue's write lock
// past SQLite's busy timeout while runs finish. The dispatcher keeps
// trying, records every outcome once the lock is gone and reports only
// what it recorded.
func TestFaultDatabaseLocked(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	subs := c.submit(c.scripts, echoJobs("locked", 4, 1)...)
	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, "-v")...)
	waitFor(t, "2 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 2 })
	release := lockDB(t, c.db)
	// The busy timeout is 10 s: a write that waited that long failed.
	waitFor(t, "a write to fail on the lock", time.Minute, func() bool {
		return strings.Contains(d.stderr.String(), "database is locked")
	})
	release()
	if code := d.wait(t); code != 0 {
		t.Fatalf("dispatch exit %d, want 0; stderr:\n%s", code, d.stderr)
	}
	if !strings.Contains(d.stderr.String(), "4 succeeded, 0 failed") {
		t.Errorf("summary lacks 4 succeeded; stderr:\n%s", d.stderr)
	}
	checkNothingLost(t, c, subs, servers, lostRules{})
}

// TestFaultDatabaseLockedTooLong: the lock outlasts --save-timeout. The
// dispatcher does not count what it could not record, exits 1 naming the
// orders whose outcomes wait, and the next dispatch records them from the
// run dirs, without running them again.
func TestFaultDatabaseLockedTooLong(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	// 5 s runs: neither may end before the lock is taken, however slow
	// the machine, or its outcome is saved and only one waits.
	subs := c.submit(c.scripts, echoJobs("locked", 2, 5)...)
	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, "-v", "--save-timeout", "1s")...)
	waitFor(t, "2 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 2 })
	release := lockDB(t, c.db)
	waitFor(t, "the dispatcher to give up saving", 2*time.Minute, func() bool {
		return strings.Count(d.stderr.String(), "outcome not saved") == 2
	})
	release()
	code := d.wait(t)
	stderr := d.stderr.String()
	if code != 1 {
		t.Errorf("dispatch exit %d, want 1; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"0 succeeded, 0 failed", "2 outcome(s) not saved", "Try: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("dispatch stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, s := range subs {
		if !strings.Contains(stderr, fmt.Sprintf("order %d", s.OrderID)) {
			t.Errorf("dispatch stderr does not name order %d:\n%s", s.OrderID, stderr)
		}
	}
	if n := c.statusCounts()["running"]; n != 2 {
		t.Errorf("%d orders running, want the 2 whose outcomes were not saved", n)
	}
	r := c.mustRun(dispatchArgs(hostsFile, c.scripts, "-v")...)
	if !strings.Contains(r.stderr, "Adopted 2 run(s)") {
		t.Errorf("the next dispatch did not adopt the 2 runs; stderr:\n%s", r.stderr)
	}
	checkNothingLost(t, c, subs, servers, lostRules{})
}

// smallDisk mounts a tmpfs of size bytes for the test: a disk that fills
// up. Mounting needs root.
func smallDisk(tb testing.TB, size int) string {
	tb.Helper()
	dir := tb.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		testdep.Missing(tb, fmt.Sprintf("mount a tmpfs (run the tests as root): %v: %s", err, out))
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			tb.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file into dir until its filesystem is full, and
// returns the file's name.
func fillDisk(tb testing.TB, dir string) string {
	tb.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				tb.Fatalf("fill %s: %v", dir, err)
			}
			break
		}
	}
	// The last bytes too: a write smaller than the chunk may still fit.
	for {
		if _, err := f.Write(chunk[:512]); err != nil {
			break
		}
	}
	return name
}

// TestFaultDatabaseDiskFull: the disk holding the queue fills up while
// runs finish. As with a lock held too long, the dispatcher does not count
// what it could not record, exits 1 naming the orders whose outcomes wait,
// and once there is room again the next dispatch records them from the run
// dirs, without running them again.
func TestFaultDatabaseDiskFull(t *testing.T) {
	t.Parallel()
	disk := smallDisk(t, 8<<20)
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	c.db = filepath.Join(disk, "mljob.db")
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	// 5 s runs: neither may end before the disk is full, however slow the
	// machine.
	subs := c.submit(c.scripts, echoJobs("full", 2, 5)...)
	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, "-v", "--save-timeout", "1s")...)
	waitFor(t, "2 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 2 })
	filler := fillDisk(t, disk)
	waitFor(t, "the dispatcher to give up saving", 2*time.Minute, func() bool {
		return strings.Count(d.stderr.String(), "outcome not saved") == 2
	})
	code := d.wait(t)
	stderr := d.stderr.String()
	if code != 1 {
		t.Errorf("dispatch exit %d, want 1; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"disk is full", "0 succeeded, 0 failed", "2 outcome(s) not saved", "Try: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("dispatch stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, s := range subs {
		if !strings.Contains(stderr, fmt.Sprintf("order %d", s.OrderID)) {
			t.Errorf("dispatch stderr does not name order %d:\n%s", s.OrderID, stderr)
		}
	}
	if n := c.statusCounts()["running"]; n != 2 {
		t.Errorf("%d orders running, want the 2 whose outcomes were not saved", n)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	r := c.mustRun(dispatchArgs(hostsFile, c.scripts, "-v")...)
	if !strings.Contains(r.stderr, "Adopted 2 run(s)") {
		t.Errorf("the next dispatch did not adopt the 2 runs; stderr:\n%s", r.stderr)
	}
	checkNothingLost(t, c, subs, servers, lostRules{})
}

// TestFaultNoHostAnswers: no host ever answers (nothing listens on their
// ports). Without --follow, dispatch gives up after --give-up-after with
// exit 1, naming each host, its last error and the fix; the queue is
// intact.
func TestFaultNoHostAnswers(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 2)
	for _, s := range servers {
		s.Stop()
	}
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	c.submit(c.scripts, echoJobs("nohost", 2, 0)...)
	start := time.Now()
	r := c.run(dispatchArgs(hostsFile, c.scripts, "--give-up-after", "3s")...)
	if r.code != 1 {
		t.Errorf("dispatch exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("dispatch gave up after %v, want about 3s", took)
	}
	for _, s := range servers {
		line := lineWith(r.stderr, fmt.Sprintf("%s (%s:%d)", s.Name, s.Host, s.Port))
		if !strings.Contains(line, "connection refused") {
			t.Errorf("no line names %s with its address and last error; stderr:\n%s", s.Name, r.stderr)
		}
	}
	for _, want := range []string{"Error: no host answered", "sshd", "Try: "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("dispatch stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if counts := c.statusCounts(); counts["unassigned"] != 2 {
		t.Errorf("status %v, want the 2 orders unassigned", counts)
	}
}

// TestDispatchIdleEndsQuietly: a dispatch over several hosts with nothing
// to do ends without reporting a host down: its own shutdown ending a
// probe in flight is not a host going down.
func TestDispatchIdleEndsQuietly(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 4)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	// A queue with nothing to run: only submit makes a queue file.
	subs := c.submit(c.scripts, echoJobs("idle", 1, 0)...)
	c.mustRun("cancel", strconv.FormatInt(subs[0].JobID, 10))
	for range 3 {
		r := c.mustRun(dispatchArgs(hostsFile, c.scripts)...)
		if strings.Contains(r.stderr, "down") || strings.Contains(r.stderr, "context canceled") {
			t.Fatalf("an idle dispatch reported a host down; stderr:\n%s", r.stderr)
		}
	}
}

// TestDispatchHostRemoved: a host with runs going is removed from the
// hosts file while no dispatcher runs. The next dispatch says so, naming
// the host and what to do, and still collects its runs through the entry
// recorded for it.
func TestDispatchHostRemoved(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 2)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	subs := c.submit(c.scripts, echoJobs("removed", 2, 3)...)
	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, "-v")...)
	waitFor(t, "2 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 2 })
	d.kill9(t)

	removed := servers[0]
	fewer := writeHosts(t, c.dir, servers[1:], keys, hostsOptions{slots: 1})
	r := c.mustRun(dispatchArgs(fewer, c.scripts, "-v")...)
	line := lineWith(r.stderr, "not in the hosts file")
	if !strings.Contains(line, removed.Name) || !strings.Contains(line, "add it back") {
		t.Errorf("no warning names %s, removed from the hosts file, and what to do; stderr:\n%s", removed.Name, r.stderr)
	}
	checkNothingLost(t, c, subs, servers, lostRules{})
}

// TestFaultHostKeyRestoredSameDispatch: the key of a host changes while its
// runs go on and is restored while the same dispatch (--follow) still
// runs: it dials the host again, and collects the runs once it trusts it.
func TestFaultHostKeyRestoredSameDispatch(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	subs := c.submit(c.scripts, echoJobs("restored", 2, 3)...)
	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, "-v", "--follow")...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dispatch stderr:\n%s", d.stderr)
		}
	})
	waitFor(t, "2 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 2 })
	restore := servers[0].RotateHostKey(t)
	waitFor(t, "the host to be refused", time.Minute, func() bool {
		return strings.Contains(d.stderr.String(), "host "+servers[0].Name+" refused")
	})
	dirs := runDirs(t, servers)
	waitFor(t, "the runs to finish", time.Minute, func() bool { return finishedRuns(t, dirs) == 2 })
	restore()
	waitFor(t, "both outcomes", time.Minute, func() bool { return c.statusCounts()["succeeded"] == 2 })
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t); code != 130 {
		t.Errorf("dispatch --follow after SIGINT: exit %d, want 130; stderr:\n%s", code, d.stderr)
	}
	checkNothingLost(t, c, subs, servers, lostRules{})
}
