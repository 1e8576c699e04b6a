package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The record tests check what is written for runs that a dispatcher did
// not see from start to end: cancelled while it waited, cancelled with no
// dispatcher and the host away, adopted after the dispatcher died.

// timedOutcome is the part of outcomes -o json these tests read.
type timedOutcome struct {
	JobID           int64   `json:"jobId"`
	State           string  `json:"state"`
	Error           string  `json:"error"`
	DurationSeconds float64 `json:"durationSeconds"`
}

func (c *cli) timedOutcomes() []timedOutcome {
	c.tb.Helper()
	r := c.mustRun("outcomes", "-o", "json")
	var rows []timedOutcome
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		c.tb.Fatalf("outcomes -o json: %v\n%s", err, r.stdout)
	}
	return rows
}

// TestE2ECancelWhileWaiting: mljob cancel kills a run a dispatcher waits
// on. The dispatcher records it cancelled (attempt and outcome), not as a
// script that failed with exit status 143, counts it as cancelled in its
// summary, and the outcome's duration is the run's time.
func TestE2ECancelWhileWaiting(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	subs := c.submit(c.scripts, map[string]any{"scriptName": "echo.py", "projectName": "cancel", "sleepSeconds": 60})
	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts)...)

	waitFor(t, "the job to run", time.Minute, func() bool { return c.statusCounts()["running"] == 1 })
	runDir := c.show(subs[0].JobID).Attempts[0].RunDir
	pid := readPID(t, runDir)
	seenRunning := time.Now() // the run started before this
	letItRun()
	if liveProcesses(t, pid) == 0 {
		t.Fatal("the run ended before the cancel")
	}
	ranAtLeast := time.Since(seenRunning).Seconds() // it was alive just now
	r := c.mustRun("cancel", fmt.Sprint(subs[0].JobID))
	if !strings.Contains(r.stdout, "killed") {
		t.Fatalf("cancel printed\n%s\nwant the run killed; stderr:\n%s", r.stdout, r.stderr)
	}
	if code := d.wait(t); code != 0 {
		t.Fatalf("dispatch exit %d; stderr:\n%s", code, d.stderr)
	}
	if !strings.Contains(d.stderr.String(), "1 cancelled") {
		t.Errorf("dispatch summary does not count the cancelled run:\n%s", d.stderr)
	}
	checkCancelRecorded(t, c, subs[0].JobID, ranAtLeast)
}

// letItRun lets a run go on for a while, so that a duration recorded from
// the wrong start (when a collector began to wait) is told from the run's.
// Not a synchronisation: every wait in these tests polls a condition.
func letItRun() { time.Sleep(2 * time.Second) }

// checkCancelRecorded checks that job's one attempt and its outcome say
// cancelled, and that the outcome's duration is at least ranAtLeast seconds.
func checkCancelRecorded(t *testing.T, c *cli, job int64, ranAtLeast float64) {
	t.Helper()
	sh := c.showAttempts(job)
	if len(sh.Attempts) != 1 || sh.Attempts[0].State != "cancelled" || !strings.HasPrefix(sh.Attempts[0].Error, "cancelled") {
		t.Errorf("attempts %+v, want one, cancelled", sh.Attempts)
	}
	outs := c.timedOutcomes()
	if len(outs) != 1 {
		t.Fatalf("outcomes %+v, want one", outs)
	}
	o := outs[0]
	if o.State != "failed" || !strings.HasPrefix(o.Error, "cancelled") || strings.Contains(o.Error, "143") {
		t.Errorf("outcome %+v, want failed as cancelled (not exit status 143)", o)
	}
	if o.DurationSeconds < ranAtLeast {
		t.Errorf("outcome duration %.3fs, but the run ran at least %.3fs", o.DurationSeconds, ranAtLeast)
	}
}

// TestE2ECancelOffline: with its dispatcher killed and its host away, a
// running job is cancelled: the order and its attempt say cancelled, the
// kill pending. Once the host is back, the next dispatch kills the run
// (which went on meanwhile) and records it cancelled, with its real
// duration.
func TestE2ECancelOffline(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	subs := c.submit(c.scripts, map[string]any{"scriptName": "echo.py", "projectName": "cancel", "sleepSeconds": 120})
	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts)...)
	waitFor(t, "the job to run", time.Minute, func() bool { return c.statusCounts()["running"] == 1 })
	runDir := c.show(subs[0].JobID).Attempts[0].RunDir
	pid := readPID(t, runDir)
	seenRunning := time.Now()
	letItRun()
	d.kill9(t)
	servers[0].Crash() // sshd gone, the run goes on

	r := c.mustRun("cancel", fmt.Sprint(subs[0].JobID), "-o", "json")
	if !strings.Contains(r.stdout, `"action": "kill pending"`) {
		t.Fatalf("cancel printed\n%s\nwant the kill pending; stderr:\n%s", r.stdout, r.stderr)
	}
	sh := c.showAttempts(subs[0].JobID)
	if len(sh.Attempts) != 1 || sh.Attempts[0].State != "cancelled" || !strings.Contains(sh.Attempts[0].Error, "kill pending") {
		t.Errorf("after an offline cancel, attempts %+v; want the attempt cancelled, its kill pending", sh.Attempts)
	}
	if liveProcesses(t, pid) == 0 {
		t.Fatalf("the run ended before its host came back: nothing left to test")
	}
	ranAtLeast := time.Since(seenRunning).Seconds() // it was alive just now

	servers[0].Restart(t)
	res := c.run(dispatchArgs(hostsFile, c.scripts)...)
	if res.code != 0 {
		t.Fatalf("dispatch exit %d; stderr:\n%s", res.code, res.stderr)
	}
	if n := liveProcesses(t, pid); n > 0 {
		t.Errorf("%d processes of the cancelled run still alive after the next dispatch", n)
	}
	if _, err := os.Stat(filepath.Join(runDir, "exit_code")); err != nil {
		t.Errorf("the killed run left no exit code: %v", err)
	}
	if !strings.Contains(res.stderr, "1 cancelled") {
		t.Errorf("dispatch summary does not count the cancelled run:\n%s", res.stderr)
	}
	checkCancelRecorded(t, c, subs[0].JobID, ranAtLeast)
}

// TestE2EAdoptedDuration: a run whose dispatcher died ends on its own; the
// next dispatch adopts it and finds its exit code at once. Its duration is
// the script's time on the host, not the moment the adopter took to read it;
// its environment is the host's, read by the adopter.
func TestE2EAdoptedDuration(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	const sleep = 3.0
	subs := c.submit(c.scripts, echoJobs("adopt", 1, sleep)...)
	d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts)...)
	waitFor(t, "the job to run", time.Minute, func() bool { return c.statusCounts()["running"] == 1 })
	runDir := c.show(subs[0].JobID).Attempts[0].RunDir
	readPID(t, runDir)
	d.kill9(t)
	waitFor(t, "the run to end on its own", time.Minute, func() bool {
		_, err := os.Stat(filepath.Join(runDir, "exit_code"))
		return err == nil
	})
	c.mustRun(dispatchArgs(hostsFile, c.scripts)...)
	outs := c.timedOutcomes()
	if len(outs) != 1 || outs[0].State != "succeeded" {
		t.Fatalf("outcomes %+v, want one, succeeded", outs)
	}
	if outs[0].DurationSeconds < sleep {
		t.Errorf("adopted run's duration %.3fs, but its script slept %.0fs", outs[0].DurationSeconds, sleep)
	}
	want := envFromPython(t)
	if e := c.environment(subs[0].JobID); e.Env.Python != want.Python || e.Env.Host != want.Host {
		t.Errorf("adopted run's environment: python %q on %q, want the host's %q on %q", e.Env.Python, e.Env.Host, want.Python, want.Host)
	}
}
