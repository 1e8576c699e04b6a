package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/proctree"
)

// The process tests check a run's process model on its host, through the
// built binary over sshd hosts: whatever a script does to its process
// group, however its processes leave it, and whatever process later holds
// its pid, the run's exit status is recorded, its processes end with it,
// and nothing else is ever signalled or waited on.

// procPy is driven by its job's fields, each optional, in this order:
// "escape" starts a "sleep 600" in a session of its own (its pid in the
// run dir's escapee.pid) and then moves the script itself to a new session
// (its pid in script.pid); "ignoreTerm" ignores SIGTERM, touching the file
// "term" in the run dir on each one (when TERM came); then it writes
// the file "ready" in the run dir; "holdFile" waits
// while that file exists; "sleepSeconds" sleeps. It then prints its
// outcome, and "killGroup" kills its own process group with SIGKILL.
const procPy = `import json, os, signal, subprocess, sys, time
job = json.loads(sys.argv[1])
if job.get("escape"):
    p = subprocess.Popen(["sleep", "600"], start_new_session=True)
    with open("escapee.pid", "w") as f:
        f.write("%d\n" % p.pid)
    os.setsid()
    with open("script.pid", "w") as f:
        f.write("%d\n" % os.getpid())
if job.get("ignoreTerm"):
    signal.signal(signal.SIGTERM, lambda *_: open("term", "w").close())
open("ready", "w").close()
while job.get("holdFile") and os.path.exists(job["holdFile"]):
    time.sleep(0.1)
time.sleep(float(job.get("sleepSeconds", 0)))
print(json.dumps({"status": 200, "loss": 0.5}), flush=True)
if job.get("killGroup"):
    os.killpg(0, signal.SIGKILL)
`

// procScripts writes procPy as proc.py into a scripts dir of the test.
func procScripts(tb testing.TB, c *cli) string {
	tb.Helper()
	return writeScripts(tb, c.dir, map[string]string{"proc.py": procPy})
}

// procJob is a proc.py job of project with the given fields.
func procJob(project string, fields map[string]any) map[string]any {
	j := map[string]any{"scriptName": "proc.py", "projectName": project}
	for k, v := range fields {
		j[k] = v
	}
	return j
}

// agentModes are the two ways a run starts on an SSH host: through the
// host agent, and through a shell session per run.
var agentModes = []struct {
	name  string
	extra []string
}{{"agent", nil}, {"no-agent", []string{"--no-agent"}}}

// TestProcessScriptKillsItsGroup: a script that prints its outcome and then
// kills its own process group (a common way to end worker processes) has
// its exit status recorded, 137, on its one attempt: the wrapper is not in
// that group. It is not taken for a lost run and started again.
func TestProcessScriptKillsItsGroup(t *testing.T) {
	t.Parallel()
	for _, m := range agentModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			servers, keys := startHosts(t, 1)
			c := newCLI(t)
			scripts := procScripts(t, c)
			hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
			subs := c.submit(scripts, procJob("killgroup", map[string]any{"killGroup": true}))
			r := c.run(dispatchArgs(hostsFile, scripts, m.extra...)...)
			checkKilledItsGroup(t, c, subs[0], r.stderr)
		})
	}
}

// checkKilledItsGroup checks the record of a proc.py job run with
// killGroup: one attempt, exit status 137, its outcome line kept.
func checkKilledItsGroup(tb testing.TB, c *cli, sub submitted, stderr string) {
	tb.Helper()
	s := c.showAttempts(sub.JobID)
	if len(s.Attempts) != 1 {
		tb.Fatalf("attempts %+v, want one (the run is not lost); dispatch stderr:\n%s", s.Attempts, stderr)
	}
	a := s.Attempts[0]
	if a.ExitCode == nil || *a.ExitCode != 137 {
		tb.Errorf("attempt %+v: want exit code 137 (killed by SIGKILL, by itself)", a)
	}
	if len(s.Outcomes) != 1 || s.Outcomes[0].Status.String() != "200" || s.Outcomes[0].ExitCode == nil || *s.Outcomes[0].ExitCode != 137 {
		tb.Errorf("outcomes %+v, want one with the script's outcome line (status 200) and exit code 137", s.Outcomes)
	}
}

// TestProcessPIDReuse: after a host "reboot" (the dispatcher killed, the
// runs' processes gone), an unrelated process gets the pid recorded in a
// run dir. cancel must not signal it, and the next dispatch must not wait
// on it: the run is gone (lost), and its job runs again.
func TestProcessPIDReuse(t *testing.T) {
	t.Parallel()
	for _, m := range agentModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			servers, keys := startHosts(t, 1)
			c := newCLI(t)
			scripts := procScripts(t, c)
			hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
			hold := mustWrite(t, c.dir, "hold-*", nil)
			subs := c.submit(scripts,
				procJob("reuse", map[string]any{"holdFile": hold, "x": 1}),
				procJob("reuse", map[string]any{"holdFile": hold, "x": 2}))
			d := c.startDispatch(nil, dispatchArgs(hostsFile, scripts, m.extra...)...)
			waitFor(t, "both jobs to run", time.Minute, func() bool { return c.statusCounts()["running"] == 2 })
			d.kill9(t)

			// The "reboot": every process of both runs dies; then a
			// stranger gets each recorded pid.
			var strangers []*exec.Cmd
			for _, s := range subs {
				runDir := c.showAttempts(s.JobID).Attempts[0].RunDir
				wrapper := readPID(t, runDir)
				for _, p := range proctree.Tree(proctree.List(), wrapper) {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
				waitFor(t, "the run's wrapper to die", time.Minute, func() bool {
					p, ok := proctree.Read(wrapper)
					return !ok || p.State == 'Z'
				})
				stranger := exec.Command("sleep", "600")
				stranger.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				if err := stranger.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = stranger.Process.Kill(); _ = stranger.Wait() })
				strangers = append(strangers, stranger)
				reusePID(t, runDir, stranger.Process.Pid)
			}
			if err := os.Remove(hold); err != nil {
				t.Fatal(err)
			}

			// cancel of the first job reaches the host and finds its run gone.
			c.mustRun("cancel", strconv.FormatInt(subs[0].JobID, 10))
			// The second is adopted by the next dispatch, which finds it
			// lost and runs the job again (no hold now).
			d2 := c.startDispatch(nil, dispatchArgs(hostsFile, scripts, m.extra...)...)
			waitFor(t, "the second dispatch to end (not waiting on a stranger)", time.Minute, d2.exited)
			if code := d2.wait(t); code != 0 {
				t.Errorf("second dispatch exit %d; stderr:\n%s", code, d2.stderr)
			}
			for i, s := range strangers {
				if p, ok := proctree.Read(s.Process.Pid); !ok || p.State == 'Z' {
					t.Errorf("the unrelated process %d holding run %d's pid was killed", s.Process.Pid, i+1)
				}
			}
			a := c.showAttempts(subs[1].JobID)
			if len(a.Outcomes) != 1 || a.Outcomes[0].State != "succeeded" || a.Outcomes[0].Attempt != 2 {
				t.Errorf("job %d: outcomes %+v, want attempt 2 succeeded after attempt 1 was lost; dispatch stderr:\n%s",
					subs[1].JobID, a.Outcomes, d2.stderr)
			}
		})
	}
}

// reusePID rewrites a run dir's pid file as though pid were the run's
// wrapper's pid: the first line, where every mljob reads the pid; the rest,
// what the run's own start recorded, is kept.
func reusePID(tb testing.TB, runDir string, pid int) {
	tb.Helper()
	file := filepath.Join(runDir, "pid")
	b, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), "\n")
	if err := os.WriteFile(file, []byte(strconv.Itoa(pid)+"\n"+rest), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// TestProcessEscapees: processes that leave the run's process group (the
// script itself calls setsid, and it starts a child in a session of its
// own) end with the run: on timeout, on cancel, and once a successful
// run's outcome is written.
func TestProcessEscapees(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		fields map[string]any
		state  string // the outcome's
		errSub string // in the outcome's error
	}{
		{"timeout", map[string]any{"sleepSeconds": 600, "timeoutSeconds": 2}, "failed", "timeout after 2s"},
		{"cancel", map[string]any{"sleepSeconds": 600}, "", ""},
		{"success", nil, "succeeded", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			servers, keys := startHosts(t, 1)
			c := newCLI(t)
			scripts := procScripts(t, c)
			hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
			fields := map[string]any{"escape": true}
			for k, v := range tc.fields {
				fields[k] = v
			}
			subs := c.submit(scripts, procJob("escape", fields))
			d := c.startDispatch(nil, dispatchArgs(hostsFile, scripts)...)
			var runDir string
			waitFor(t, "the run's dir", time.Minute, func() bool {
				if a := c.showAttempts(subs[0].JobID).Attempts; len(a) > 0 && a[0].RunDir != "" {
					runDir = a[0].RunDir
				}
				return runDir != ""
			})
			escapees := []int{readPIDFile(t, runDir, "escapee.pid"), readPIDFile(t, runDir, "script.pid")}
			starts := map[int]uint64{}
			for _, p := range escapees {
				if q, ok := proctree.Read(p); ok {
					starts[p] = q.Start
				}
			}
			if tc.name == "cancel" {
				c.mustRun("cancel", strconv.FormatInt(subs[0].JobID, 10))
			}
			if code := d.wait(t); code != 0 && tc.state != "failed" {
				t.Errorf("dispatch exit %d; stderr:\n%s", code, d.stderr)
			}
			s := c.showAttempts(subs[0].JobID)
			if tc.state != "" && (len(s.Outcomes) != 1 || s.Outcomes[0].State != tc.state || !strings.Contains(s.Outcomes[0].Error, tc.errSub)) {
				t.Errorf("outcomes %+v, want one %s (%q)", s.Outcomes, tc.state, tc.errSub)
			}
			// The run is recorded: what it started ends (at once, or within
			// the kill's grace), whichever session it moved to.
			waitFor(t, "every process of the run to end", 30*time.Second, func() bool {
				for _, p := range escapees {
					if q, ok := proctree.Read(p); ok && q.State != 'Z' && q.Start == starts[p] {
						return false
					}
				}
				return true
			})
		})
	}
}

// readPIDFile waits for a pid file that a script writes in its run dir.
func readPIDFile(tb testing.TB, runDir, name string) int {
	tb.Helper()
	var pid int
	waitFor(tb, name+" in "+runDir, time.Minute, func() bool {
		b, err := os.ReadFile(filepath.Join(runDir, name))
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

// TestProcessPrivateFiles: what a run leaves on its host — the workdir, the
// cache, the run dirs and every file in them — is the user's alone, even
// where an older mljob left the workdir open to others.
func TestProcessPrivateFiles(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	wd := servers[0].Workdir
	for _, d := range []string{wd, filepath.Join(wd, "cache"), filepath.Join(wd, "runs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	for _, m := range agentModes {
		c.submit(c.scripts, map[string]any{"scriptName": "echo.py", "projectName": "private-" + m.name, "x": 1})
		c.mustRun(dispatchArgs(hostsFile, c.scripts, m.extra...)...)
	}
	checkPrivate(t, wd, 12) // the workdir, cache, runs, two run dirs and their files
}

// checkPrivate checks that nothing under dir (at least min paths) is open
// to group or others.
func checkPrivate(tb testing.TB, dir string, min int) {
	tb.Helper()
	n := 0
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		n++
		if info.Mode().Perm()&0o077 != 0 {
			tb.Errorf("%s: mode %v, want nothing for group or others", path, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if n < min {
		tb.Errorf("only %d paths under %s, want at least %d", n, dir, min)
	}
}

// TestProcessCancelManyTermIgnoring: cancelling runs that ignore SIGTERM
// does not wait out each one's grace in turn: the runs' wrappers escalate
// to SIGKILL themselves, so every run has its TERM before the first is
// KILLed. Ordering, not a time limit, so that a loaded machine cannot fail
// it.
func TestProcessCancelManyTermIgnoring(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	scripts := procScripts(t, c)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 3})
	var jobs []any
	for i := range 3 {
		jobs = append(jobs, procJob("stubborn", map[string]any{"ignoreTerm": true, "sleepSeconds": 600, "x": i}))
	}
	subs := c.submit(scripts, jobs...)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	d := c.start(ctx, dispatchArgs(hostsFile, scripts)...)
	waitFor(t, "3 runs", time.Minute, func() bool { return c.statusCounts()["running"] == 3 })
	var runDirs []string
	for _, s := range subs {
		runDirs = append(runDirs, c.showAttempts(s.JobID).Attempts[0].RunDir)
	}
	// TERM is ignored before "ready" is written.
	for _, dir := range runDirs {
		waitFor(t, "ready in "+dir, time.Minute, func() bool {
			_, err := os.Stat(filepath.Join(dir, "ready"))
			return err == nil
		})
	}
	c.mustRun("cancel", "--project", "stubborn")
	if code := d.wait(t, time.Minute); code != 0 {
		t.Errorf("dispatch exit %d; stderr:\n%s", code, d.stderr.String())
	}
	// One grace for all: every run had its TERM before any was KILLed
	// (its exit_code written), where one grace per run TERMs the second
	// only once the first is dead.
	var lastTerm, firstEnd time.Time
	for _, dir := range runDirs {
		term, errT := os.Stat(filepath.Join(dir, "term"))
		end, errE := os.Stat(filepath.Join(dir, "exit_code"))
		if errT != nil || errE != nil {
			t.Fatalf("%s: term %v, exit_code %v; want both written", dir, errT, errE)
		}
		if term.ModTime().After(lastTerm) {
			lastTerm = term.ModTime()
		}
		if firstEnd.IsZero() || end.ModTime().Before(firstEnd) {
			firstEnd = end.ModTime()
		}
	}
	if !lastTerm.Before(firstEnd) {
		t.Errorf("the last TERM came at %v, after the first run ended at %v: cancel waited one grace per run", lastTerm, firstEnd)
	}
	for _, dir := range runDirs {
		b, err := os.ReadFile(filepath.Join(dir, "exit_code"))
		if err != nil || strings.TrimSpace(string(b)) != "137" {
			t.Errorf("%s: exit_code %q, %v; want 137 (KILLed after the grace)", dir, b, err)
		}
	}
}
