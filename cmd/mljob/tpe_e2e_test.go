package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/tpe"
)

// quadScript is a tiny trial: its loss is a quadratic of x and y, least
// (0) at x = 0.3, y = -0.2; it takes a moment, so a kill lands mid-sweep.
const quadScript = `import json, sys, time
job = json.loads(sys.argv[1])
time.sleep(0.3)
print(json.dumps({"status": 200, "loss": (job["x"] - 0.3) ** 2 + (job["y"] + 0.2) ** 2}), flush=True)
`

// TestE2ETPESweepSurvivesKill: the real binary in local mode submits a tpe
// sweep of 15 trials (queuing nothing), dispatches on two slots, is killed
// with SIGKILL mid-way, and a second dispatch finishes the sweep: exactly
// 15 outcomes, trial numbers 0 to 14 once each, and a best that beats the
// median of the 10 random startup trials.
func TestE2ETPESweepSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs python trials and waits for a killed dispatcher's heartbeat to go stale")
	}
	const budget = 15
	c := newCLI(t)
	scripts := t.TempDir()
	mustWriteFile(t, filepath.Join(scripts, "quad.py"), quadScript)
	mustWriteFile(t, filepath.Join(c.dir, "base.json"), `{"projectName": "quad", "scriptName": "quad.py", "x": 0, "y": 0}`)
	mustWriteFile(t, filepath.Join(c.dir, "sweep.yaml"), `name: quad-tpe
base: base.json
method: tpe
trials: 15
seed: 3
objective: {name: loss, goal: minimize}
space:
  x: lin:-1:1
  y: lin:-1:1
`)
	dry := c.mustRun("submit", "--scripts", scripts, "--sweep", "sweep.yaml", "--dry-run")
	if !strings.Contains(dry.stderr, "Dry run: would register a sweep: method tpe, 15 trial(s)") {
		t.Errorf("dry run says:\n%s", dry.stderr)
	}
	sub := c.mustRun("submit", "--scripts", scripts, "--sweep", "sweep.yaml")
	if !strings.Contains(sub.stderr, `"quad-tpe": method tpe, 15 trial(s)`) || strings.TrimSpace(sub.stdout) != "" {
		t.Errorf("submit printed:\n%s\n%s", sub.stdout, sub.stderr)
	}

	// Registered, no trial yet: status tells of the sweep at 0 of 15.
	if st := c.mustRun("status"); !strings.Contains(st.stdout, "quad-tpe") || !strings.Contains(st.stdout, "0/15") {
		t.Errorf("status before dispatch:\n%s\n%s", st.stdout, st.stderr)
	}

	args := []string{"dispatch", "--python", hostPython, "--slots", "2", "--scripts", scripts, "--poll", e2ePoll}
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	cmd := c.command(ctx, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "4 trials to finish", time.Minute, func() bool { return len(c.outcomes()) >= 4 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if n := len(c.outcomes()); n >= budget {
		t.Fatalf("%d outcomes before the kill: the kill came too late to test a resume", n)
	}
	c.mustRun(args...)

	rows := c.outcomes()
	if len(rows) != budget {
		t.Fatalf("%d outcomes, want %d", len(rows), budget)
	}
	store, err := db.OpenMode(context.Background(), c.db, db.ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sw, err := store.Sweep(context.Background(), "quad-tpe")
	if err != nil {
		t.Fatal(err)
	}
	trials, next, err := store.StudyTrials(context.Background(), sw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) != budget || next != budget {
		t.Fatalf("%d trials, next number %d; want %d and %d", len(trials), next, budget, budget)
	}
	var startup []float64
	best := trials[0].Value
	for i, tr := range trials {
		if tr.Number != i || tr.State != tpe.Complete {
			t.Fatalf("trial %d: %+v, want number %d complete", i, tr, i)
		}
		if i < 10 {
			startup = append(startup, tr.Value)
		}
		best = min(best, tr.Value)
	}
	slices.Sort(startup)
	if med := (startup[4] + startup[5]) / 2; best >= med {
		t.Errorf("best %g is no better than the startup median %g", best, med)
	}

	r := c.mustRun("outcomes", "--sweep", "quad-tpe", "--best", "-o", "json")
	var top []outcomeRow
	if err := json.Unmarshal([]byte(r.stdout), &top); err != nil || len(top) != 1 || top[0].Loss == nil || *top[0].Loss != best {
		t.Errorf("outcomes --best = %s (%v), want the loss %g", r.stdout, err, best)
	}
	if st := c.mustRun("status"); !strings.Contains(st.stdout, "15/15") {
		t.Errorf("status lacks 15/15:\n%s", st.stdout)
	}
	// A trial's job carries the code the study was submitted with.
	if len(top) == 1 {
		if sh := c.mustRun("show", strconv.FormatInt(top[0].JobID, 10)); !strings.Contains(sh.stdout, "Code: ") {
			t.Errorf("show of trial job %d lacks its Code line:\n%s", top[0].JobID, sh.stdout)
		}
	}
}

// TestE2ETPESweepOverSSH: a 12-trial tpe sweep with parallel 2 on one sshd
// host of two slots runs each trial once there: 12 outcomes, 12 distinct
// points, trial numbers 0 to 11.
func TestE2ETPESweepOverSSH(t *testing.T) {
	if testing.Short() {
		t.Skip("runs python trials over sshd")
	}
	t.Parallel()
	const budget = 12
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	scripts := t.TempDir()
	mustWriteFile(t, filepath.Join(scripts, "quad.py"), quadScript)
	mustWriteFile(t, filepath.Join(c.dir, "base.json"), `{"projectName": "quad", "scriptName": "quad.py", "x": 0, "y": 0}`)
	mustWriteFile(t, filepath.Join(c.dir, "sweep.yaml"), `name: quad-ssh
base: base.json
method: tpe
trials: 12
parallel: 2
seed: 5
space:
  x: lin:-1:1
  y: lin:-1:1
`)
	c.mustRun("submit", "--scripts", scripts, "--sweep", "sweep.yaml")
	r := c.mustRun(dispatchArgs(hostsFile, scripts)...)
	if !strings.Contains(r.stderr, fmt.Sprintf("%d succeeded, 0 failed", budget)) {
		t.Errorf("dispatch summary: want %d succeeded, 0 failed; stderr:\n%s", budget, r.stderr)
	}
	rows := c.outcomes()
	if len(rows) != budget {
		t.Fatalf("%d outcomes, want %d", len(rows), budget)
	}
	jobs := map[int64]bool{}
	for _, o := range rows {
		if o.Host != servers[0].Name {
			t.Errorf("job %d ran on %q, want %q", o.JobID, o.Host, servers[0].Name)
		}
		jobs[o.JobID] = true
	}
	if len(jobs) != budget {
		t.Errorf("outcomes of %d distinct jobs, want %d", len(jobs), budget)
	}
	store, err := db.OpenMode(context.Background(), c.db, db.ReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sw, err := store.Sweep(context.Background(), "quad-ssh")
	if err != nil {
		t.Fatal(err)
	}
	trials, next, err := store.StudyTrials(context.Background(), sw.ID)
	if err != nil {
		t.Fatal(err)
	}
	points := map[string]bool{}
	for i, tr := range trials {
		if tr.Number != i || tr.State != tpe.Complete {
			t.Errorf("trial %d: %+v, want number %d complete", i, tr, i)
		}
		points[fmt.Sprint(tr.Params)] = true
	}
	if len(trials) != budget || next != budget || len(points) != budget {
		t.Errorf("%d trials, next %d, %d distinct points; want %d of each", len(trials), next, len(points), budget)
	}
}
