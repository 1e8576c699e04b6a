package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/slurmtest"
	"github.com/mljob/mljob/internal/sshtest"
)

// slurmWait bounds waits on the test cluster: it starts jobs in waves
// about three seconds apart.
const slurmWait = 2 * time.Minute

// slurmEntry is a hosts.yaml entry of kind slurm whose login node is the
// sshd login, with its workdir on the cluster's "shared filesystem" (this
// machine's disk).
type slurmEntry struct {
	login   *sshtest.Server
	cluster *slurmtest.Cluster
	workdir string
	slots   int
	sbatch  []string
}

// writeMixedHosts writes a hosts file with the ssh hosts and the Slurm entry
// "campus".
func writeMixedHosts(tb testing.TB, dir string, ssh []*sshtest.Server, keys sshtest.Keys, e slurmEntry) string {
	tb.Helper()
	var b strings.Builder
	writeDefaults(&b, keys, keys.KnownHosts)
	for _, s := range ssh {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    workdir: %q\n    lock_dir: %q\n    slots: 2\n", s.Name, s.Host, s.Port, s.Workdir, s.LockDir)
	}
	fmt.Fprintf(&b, "  - name: campus\n    kind: slurm\n    address: %s\n    port: %d\n    workdir: %q\n    slots: %d\n",
		e.login.Host, e.login.Port, e.workdir, e.slots)
	fmt.Fprintf(&b, "    env: {SLURM_CONF: %q}\n", e.cluster.Conf)
	if len(e.sbatch) > 0 {
		b.WriteString("    sbatch: [")
		for i, s := range e.sbatch {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", s)
		}
		b.WriteString("]\n")
	}
	return mustWrite(tb, dir, "hosts-*.yaml", []byte(b.String()))
}

// slurmRunning counts the jobs whose last attempt Slurm reports RUNNING.
func (c *cli) slurmRunning(subs []submitted) int {
	n := 0
	for _, s := range subs {
		as := c.showAttempts(s.JobID).Attempts
		if len(as) > 0 && as[len(as)-1].Slurm != nil && as[len(as)-1].Slurm.State == "RUNNING" {
			n++
		}
	}
	return n
}

// TestSlurmSweep: a sweep through a Slurm entry reached over a loopback
// sshd login node. The dispatcher is killed mid-array; the array goes on in
// Slurm and the next dispatch reattaches: every job has exactly one
// outcome, from one attempt, and show names its Slurm task. Then a running
// task is cancelled (scancel), and a mixed hosts file (an SSH host and the
// Slurm entry) runs a second sweep on both.
func TestSlurmSweep(t *testing.T) {
	t.Parallel()
	cluster := slurmtest.Start(t, slurmtest.Options{CPUs: 4})
	servers, keys := startHosts(t, 2)
	login, sshHost := servers[0], servers[1]
	c := newCLI(t)
	entry := slurmEntry{login: login, cluster: cluster, workdir: filepath.Join(c.dir, "shared"), slots: 3}
	slurmOnly := writeMixedHosts(t, c.dir, nil, keys, entry)

	base := mustWrite(t, c.dir, "base-*.json", []byte(`{"projectName": "slurm", "scriptName": "echo.py", "x": 0, "sleepSeconds": 15}`))
	r := c.mustRun("submit", base, "--scripts", c.scripts, "--grid", "x=1,2,3,4,5,6", "--name", "array", "-o", "json")
	var subs []submitted
	if err := json.Unmarshal([]byte(r.stdout), &subs); err != nil || len(subs) != 6 {
		t.Fatalf("submit: %v %+v", err, subs)
	}

	d := c.startDispatch(nil, dispatchArgs(slurmOnly, c.scripts, "-v")...)
	// Three in flight (slots), at least one of them on the node.
	waitFor(t, "3 Slurm tasks in flight, one running", slurmWait, func() bool {
		return c.statusCounts()["running"] == 3 && c.slurmRunning(subs) >= 1
	})
	if st := c.mustRun("status").stdout; !regexp.MustCompile(`campus: Slurm [0-2] pending, [1-3] running`).MatchString(st) {
		t.Errorf("status during the array:\n%s\nwant Slurm's counts for campus", st)
	}
	d.kill9(t)
	job := c.showAttempts(subs[0].JobID).Attempts[0].Slurm.JobID
	states := cluster.JobStates(t, strconv.FormatInt(job, 10))
	live := 0
	for _, st := range states {
		if st == "RUNNING" || st == "PENDING" || st == "COMPLETED" {
			live++
		}
	}
	if live == 0 {
		t.Fatalf("after kill -9, Slurm's array %d: %v; want it going on", job, states)
	}

	r = c.mustRun(dispatchArgs(slurmOnly, c.scripts, "-v")...)
	if !strings.Contains(r.stderr, "adopted") {
		t.Errorf("second dispatch adopted nothing; stderr:\n%s", r.stderr)
	}
	checkNothingLost(t, c, subs, []*sshtest.Server{{Workdir: entry.workdir}}, lostRules{})
	for _, s := range subs {
		as := c.showAttempts(s.JobID).Attempts
		if len(as) != 1 || as[0].Slurm == nil || as[0].Host != "campus" || as[0].Slurm.State != "COMPLETED" {
			t.Errorf("job %d: attempts %+v, want one on campus with a COMPLETED Slurm task", s.JobID, as)
		}
	}
	for _, o := range c.outcomes() {
		if o.Host != "campus" {
			t.Errorf("order %d ran on %s", o.OrderID, o.Host)
		}
		// The task's wrapper measured the run, as on any host: it slept
		// 15 s, and its python used some CPU.
		if o.Cost == nil || o.Cost.WallSeconds < 15 || o.Cost.CPUSeconds <= 0 {
			t.Errorf("order %d: cost %+v, want a wall of at least 15 s and some CPU", o.OrderID, o.Cost)
		}
	}

	t.Run("cancel a running task", func(t *testing.T) {
		subs := c.submit(c.scripts, map[string]any{"projectName": "slurm-cancel", "scriptName": "echo.py", "sleepSeconds": 600})
		d := c.startDispatch(nil, dispatchArgs(slurmOnly, c.scripts, "-v")...)
		waitFor(t, "the task to run", slurmWait, func() bool { return c.slurmRunning(subs) == 1 })
		c.mustRun("cancel", strconv.FormatInt(subs[0].JobID, 10))
		if code := d.wait(t); code != 0 {
			t.Fatalf("dispatch exit %d; stderr:\n%s", code, d.stderr)
		}
		a := c.showAttempts(subs[0].JobID).Attempts
		if len(a) != 1 || a[0].State != "cancelled" && a[0].State != "failed" {
			t.Fatalf("attempts %+v, want one, cancelled", a)
		}
		task := fmt.Sprintf("%d_%d", a[0].Slurm.JobID, a[0].Slurm.ArrayIndex)
		if st := cluster.JobStates(t, task)[task]; st != "CANCELLED" {
			t.Errorf("Slurm says task %s is %s, want CANCELLED", task, st)
		}
	})

	t.Run("cancel with no dispatcher takes the env values from --hosts", func(t *testing.T) {
		// The queue keeps the entry's env keys, not SLURM_CONF's value:
		// without a hosts file scancel cannot reach this cluster.
		subs := c.submit(c.scripts, map[string]any{"projectName": "slurm-cancel-off", "scriptName": "echo.py", "sleepSeconds": 600})
		d := c.startDispatch(nil, dispatchArgs(slurmOnly, c.scripts, "-v")...)
		waitFor(t, "the task to run", slurmWait, func() bool { return c.slurmRunning(subs) == 1 })
		d.kill9(t)
		r := c.mustRun("cancel", "--hosts", slurmOnly, strconv.FormatInt(subs[0].JobID, 10), "-o", "json")
		if !strings.Contains(r.stdout, `"action": "killed"`) {
			t.Fatalf("cancel --hosts printed\n%s\nwant the task killed; stderr:\n%s", r.stdout, r.stderr)
		}
		a := c.showAttempts(subs[0].JobID).Attempts
		task := fmt.Sprintf("%d_%d", a[0].Slurm.JobID, a[0].Slurm.ArrayIndex)
		waitFor(t, "Slurm to cancel the task", slurmWait, func() bool { return cluster.JobStates(t, task)[task] == "CANCELLED" })
		// The next dispatch records it.
		c.mustRun(dispatchArgs(slurmOnly, c.scripts)...)
		a = c.showAttempts(subs[0].JobID).Attempts
		if len(a) != 1 || a[0].State != "cancelled" || !strings.HasPrefix(a[0].Error, "cancelled") {
			t.Errorf("attempts %+v, want one, cancelled", a)
		}
	})

	t.Run("a job's timeoutSeconds counts from the task's start", func(t *testing.T) {
		subs := c.submit(c.scripts, map[string]any{"projectName": "slurm-timeout", "scriptName": "echo.py", "sleepSeconds": 600, "timeoutSeconds": 2})
		r := c.mustRun(dispatchArgs(slurmOnly, c.scripts)...)
		a := c.showAttempts(subs[0].JobID).Attempts
		if len(a) != 1 || a[0].State != "failed" || !strings.Contains(a[0].Error, "timeout after 2s") || a[0].Slurm == nil || a[0].Slurm.State != "CANCELLED" {
			t.Errorf("attempts %+v, want one failed by mljob's timeout, its task CANCELLED; stderr:\n%s", a, r.stderr)
		}
	})

	t.Run("after adoption, timeoutSeconds still counts from the task's start", func(t *testing.T) {
		// The task may not start before 8 s from now; its limit is 3 s.
		// Counted from the submission, the limit would cancel it before
		// it ever ran.
		late := entry
		late.sbatch = []string{"--begin=now+8"}
		lateHosts := writeMixedHosts(t, c.dir, nil, keys, late)
		subs := c.submit(c.scripts, map[string]any{"projectName": "slurm-adopt-timeout", "scriptName": "echo.py", "sleepSeconds": 600, "timeoutSeconds": 3})
		d := c.startDispatch(nil, dispatchArgs(lateHosts, c.scripts)...)
		waitFor(t, "the task to be submitted", slurmWait, func() bool {
			a := c.showAttempts(subs[0].JobID).Attempts
			return len(a) == 1 && a[0].Slurm != nil
		})
		d.kill9(t)
		r := c.mustRun(dispatchArgs(lateHosts, c.scripts)...)
		a := c.showAttempts(subs[0].JobID).Attempts
		if len(a) != 1 || a[0].State != "failed" || !strings.Contains(a[0].Error, "timeout after 3s") {
			t.Fatalf("attempts %+v, want one failed by the 3 s timeout; stderr:\n%s", a, r.stderr)
		}
		dirs := runDirs(t, []*sshtest.Server{{Workdir: entry.workdir}})
		if _, err := os.Stat(filepath.Join(dirs[subs[0].OrderID][1], ".start")); err != nil {
			t.Errorf("the task never started (%v): its limit counted from the submission", err)
		}
	})

	t.Run("logs -f follows a task to its end", func(t *testing.T) {
		subs := c.submit(c.scripts, map[string]any{"projectName": "slurm-logs", "scriptName": "echo.py", "x": 7, "sleepSeconds": 3})
		d := c.startDispatch(nil, dispatchArgs(slurmOnly, c.scripts)...)
		waitFor(t, "the task to run", slurmWait, func() bool { return c.slurmRunning(subs) == 1 })
		r := c.mustRun("logs", strconv.FormatInt(subs[0].OrderID, 10), "-f")
		if !strings.Contains(r.stdout, `"loss": 49.0`) {
			t.Errorf("logs -f printed %q, want the outcome line (loss 49)", r.stdout)
		}
		if code := d.wait(t); code != 0 {
			t.Fatalf("dispatch exit %d; stderr:\n%s", code, d.stderr)
		}
	})

	t.Run("mixed hosts file", func(t *testing.T) {
		mixed := writeMixedHosts(t, c.dir, []*sshtest.Server{sshHost}, keys, entry)
		subs := c.submit(c.scripts, echoJobs("slurm-mixed", 8, 1.5)...)
		r := c.mustRun(dispatchArgs(mixed, c.scripts)...)
		seen := map[string]int{}
		for _, o := range c.outcomes() {
			for _, s := range subs {
				if o.OrderID == s.OrderID {
					seen[o.Host]++
					if o.State != "succeeded" {
						t.Errorf("order %d: %s (%s)", o.OrderID, o.State, o.Error)
					}
				}
			}
		}
		if seen["campus"] == 0 || seen[sshHost.Name] == 0 || seen["campus"]+seen[sshHost.Name] != 8 {
			t.Errorf("outcomes per host %v, want all 8 over both; stderr:\n%s", seen, r.stderr)
		}
	})

	t.Run("a partition Slurm does not know", func(t *testing.T) {
		bad := entry
		bad.sbatch = []string{"--partition=nope"}
		subs := c.submit(c.scripts, echoJobs("slurm-badpart", 3, 0)...)
		r := c.run(dispatchArgs(writeMixedHosts(t, c.dir, nil, keys, bad), c.scripts)...)
		if r.code != 1 || !strings.Contains(r.stderr, "invalid partition specified: nope") || !strings.Contains(r.stderr, "Try: fix the entry's sbatch options") {
			t.Errorf("exit %d, stderr:\n%s\nwant exit 1 with sbatch's reason and what to do", r.code, r.stderr)
		}
		for _, s := range subs {
			if as := c.showAttempts(s.JobID).Attempts; len(as) > 1 || len(as) == 1 && as[0].State != "failed" {
				t.Errorf("job %d: attempts %+v, want at most one, failed", s.JobID, as)
			}
		}
		if n := c.statusCounts()["unassigned"]; n != 3 {
			t.Errorf("%d orders queued after the refusal, want all 3 kept", n)
		}
	})

	// Last: it takes the cluster's node down.
	t.Run("node failure is retried", func(t *testing.T) {
		subs := c.submit(c.scripts, map[string]any{"projectName": "slurm-nodefail", "scriptName": "echo.py", "x": 3, "sleepSeconds": 5})
		d := c.startDispatch(nil, dispatchArgs(slurmOnly, c.scripts, "-v")...)
		waitFor(t, "the task to run", slurmWait, func() bool { return c.slurmRunning(subs) == 1 })
		cluster.MustRun(t, "scontrol", "update", "NodeName=localhost", "State=DOWN", "Reason=mljob-test")
		waitFor(t, "the attempt to be released", slurmWait, func() bool { return len(c.showAttempts(subs[0].JobID).Attempts) == 2 })
		// ReturnToService=2 may have brought it back already.
		_ = cluster.Command("scontrol", "update", "NodeName=localhost", "State=RESUME").Run()
		if code := d.wait(t); code != 0 {
			t.Fatalf("dispatch exit %d; stderr:\n%s", code, d.stderr)
		}
		as := c.showAttempts(subs[0].JobID).Attempts
		if len(as) != 2 || as[0].State != "failed" || !strings.Contains(as[0].Error, "NODE_FAIL") || as[1].State != "succeeded" {
			t.Errorf("attempts %+v, want a first failed by NODE_FAIL and a second that succeeded; stderr:\n%s", as, d.stderr)
		}
	})
}

// TestSlurmTimeLimit: an sbatch --time limit turns into a timeout outcome.
// Slurm counts limits in whole minutes and checks them every 30 s, so this
// takes 75-90 s; it runs beside the other tests.
func TestSlurmTimeLimit(t *testing.T) {
	t.Parallel()
	cluster := slurmtest.Start(t, slurmtest.Options{CPUs: 2})
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	entry := slurmEntry{login: servers[0], cluster: cluster, workdir: filepath.Join(c.dir, "shared"), slots: 1, sbatch: []string{"--time=1"}}
	hostsFile := writeMixedHosts(t, c.dir, nil, keys, entry)
	subs := c.submit(c.scripts, map[string]any{"projectName": "slurm-time", "scriptName": "echo.py", "sleepSeconds": 600})
	ctxArgs := dispatchArgs(hostsFile, c.scripts, "-v")
	d := c.startDispatch(nil, ctxArgs...)
	if code := d.wait(t); code != 0 {
		t.Fatalf("dispatch exit %d; stderr:\n%s", code, d.stderr)
	}
	outs := c.outcomes()
	if len(outs) != 1 || outs[0].OrderID != subs[0].OrderID || outs[0].State != "failed" ||
		!strings.Contains(outs[0].Error, "timeout: Slurm's time limit") {
		t.Fatalf("outcomes %+v, want one failed with Slurm's timeout", outs)
	}
	a := c.showAttempts(subs[0].JobID).Attempts
	if len(a) != 1 || a[0].Slurm == nil || a[0].Slurm.State != "TIMEOUT" {
		t.Errorf("attempts %+v, want one whose Slurm task is TIMEOUT", a)
	}
	if _, err := os.Stat(filepath.Join(entry.workdir, "slurm")); err != nil {
		t.Errorf("no slurm dir in the workdir: %v", err)
	}
}

// TestSlurmScriptKillsItsGroup: a Slurm task whose script prints its
// outcome and then kills its own process group has its exit status (137)
// recorded on its one attempt, as on an SSH host: the task's wrapper is
// not in the script's group.
func TestSlurmScriptKillsItsGroup(t *testing.T) {
	t.Parallel()
	cluster := slurmtest.Start(t, slurmtest.Options{CPUs: 2})
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	scripts := procScripts(t, c)
	entry := slurmEntry{login: servers[0], cluster: cluster, workdir: filepath.Join(c.dir, "shared"), slots: 1}
	hostsFile := writeMixedHosts(t, c.dir, nil, keys, entry)
	subs := c.submit(scripts, procJob("slurm-killgroup", map[string]any{"killGroup": true}))
	d := c.startDispatch(nil, dispatchArgs(hostsFile, scripts, "-v")...)
	d.wait(t)
	checkKilledItsGroup(t, c, subs[0], d.stderr.String())
	// What the task and the login node left on the shared disk is the
	// user's alone.
	checkPrivate(t, entry.workdir, 8)
}

// TestSlurmArtifacts: a Slurm run's artifacts come home through the login
// node byte-identical (hash checked against the run dir on the shared
// filesystem), and the entry's artifacts_cap holds a run whose job sets no
// cap: over it, nothing is copied and the host's cap is named. gc then
// removes the first run's dir and keeps the second's.
func TestSlurmArtifacts(t *testing.T) {
	t.Parallel()
	cluster := slurmtest.Start(t, slurmtest.Options{CPUs: 2})
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	scripts := writeScripts(t, c.dir, map[string]string{"art.py": artScript})
	entry := slurmEntry{login: servers[0], cluster: cluster, workdir: filepath.Join(c.dir, "shared"), slots: 2}
	hostsFile := writeMixedHosts(t, c.dir, nil, keys, entry)
	f, err := os.OpenFile(hostsFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("    artifacts_cap: 10MB\n"); err != nil { // campus is the last entry
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	subs := c.submit(scripts,
		map[string]any{"scriptName": "art.py", "projectName": "slurm-art", "size": 3_000_000, "artifacts": []string{"*.pt", "plots/*.png"}},
		map[string]any{"scriptName": "art.py", "projectName": "slurm-art", "size": 20_000_000, "artifacts": []string{"*.pt"}},
	)
	c.mustRun(dispatchArgs(hostsFile, scripts, "-v")...)
	a := c.show(subs[0].JobID).Attempts
	if len(a) != 1 || a[0].Host != "campus" || !strings.HasPrefix(a[0].RunDir, entry.workdir) {
		t.Fatalf("attempts %+v, want one on campus with its run dir under %s", a, entry.workdir)
	}
	checkHome(t, c, subs[0].JobID, a[0].RunDir)

	rows, r := c.artifacts(subs[1].JobID)
	if !strings.Contains(r.stderr, "over the cap of 10000000 bytes") {
		t.Errorf("artifacts of the run over campus's cap: stderr %q, want the host's cap named", r.stderr)
	}
	if len(rows) == 0 {
		t.Errorf("the run over its cap lists no artifacts")
	}
	for _, a := range rows {
		if a.State != "over-cap" {
			t.Errorf("%s: state %s, want over-cap", a.Path, a.State)
		}
	}

	// gc removes the run dir whose artifacts are home, through the login
	// node, and keeps the one held over the cap.
	held := c.show(subs[1].JobID).Attempts
	if len(held) != 1 {
		t.Fatalf("attempts of the run over its cap: %+v", held)
	}
	r = c.mustRun("gc", "--hosts", hostsFile)
	if !strings.Contains(r.stdout, "removed campus:"+a[0].RunDir) || strings.Contains(r.stdout, held[0].RunDir) {
		t.Errorf("gc printed %q, want only %s removed", r.stdout, a[0].RunDir)
	}
	if _, err := os.Stat(a[0].RunDir); !os.IsNotExist(err) {
		t.Errorf("gc left %s (%v)", a[0].RunDir, err)
	}
	if _, err := os.Stat(held[0].RunDir); err != nil {
		t.Errorf("gc took the run dir held over the cap: %v", err)
	}
}
