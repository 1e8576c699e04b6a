package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/slurmtest"
)

// progressScript prints job["n"] progress lines among other output (one a
// step that goes backwards), waits for the file job["gate"], prints ten
// more and its outcome, and one more progress line after the outcome.
const progressScript = `import json, os, sys, time
job = json.loads(sys.argv[1])
n = job["n"]
def line(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
for i in range(n):
    line({"step": i, "series": "fold%d" % (i % 2 + 1), "loss": 1.0 / (i + 1), "lr": 0.01})
    if i % 10 == 0:
        print("epoch", i, "of", n, flush=True)
    time.sleep(0.002)
line({"step": 0, "series": "fold1", "loss": 9})
while not os.path.exists(job["gate"]):
    time.sleep(0.05)
for i in range(n, n + 10):
    line({"step": i, "series": "fold%d" % (i % 2 + 1), "loss": 1.0 / (i + 1), "lr": 0.01})
line({"status": 200, "loss": 0.5, "metric": 0.25})
line({"step": n + 10, "series": "fold1", "loss": 0.001, "lr": 0.01})
`

// metricsRow is one row of mljob metrics -o json.
type metricsRow struct {
	Step   float64 `json:"step"`
	Series string  `json:"series"`
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Time   string  `json:"time"`
}

// metrics lists job's points; none while it has not started.
func (c *cli) metrics(jobID int64) []metricsRow {
	c.tb.Helper()
	r := c.run("metrics", fmt.Sprint(jobID), "-o", "json")
	if r.code != 0 && strings.Contains(r.stderr, "has not started yet") {
		return nil
	}
	if r.code != 0 {
		c.tb.Fatalf("metrics: exit %d: %s", r.code, r.stderr)
	}
	var rows []metricsRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		c.tb.Fatalf("metrics -o json: %v\n%s", err, r.stdout)
	}
	return rows
}

// TestE2EProgressAcrossKill9: a script prints progress lines while it
// runs; its dispatcher is killed with SIGKILL mid-run, the run goes on, and
// a second dispatch adopts it. mljob metrics then lists every line once,
// each value as printed, and show counts the line not taken. With the
// agent, the first dispatcher stores lines as they come (the kill waits for
// some); on the shell path, the one that collects the run reads them all
// from where the first left off.
func TestE2EProgressAcrossKill9(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"agent", "shell"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			servers, keys := startHosts(t, 1)
			c := newCLI(t)
			hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
			scripts := filepath.Join(c.dir, "scripts")
			if err := os.MkdirAll(scripts, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(scripts, "progress.py"), []byte(progressScript), 0o644); err != nil {
				t.Fatal(err)
			}
			const n = 1000
			gate := filepath.Join(c.dir, "gate")
			subs := c.submit(scripts, map[string]any{"scriptName": "progress.py", "projectName": "curves", "n": n, "gate": gate})
			job := subs[0].JobID
			var extra []string
			if path == "shell" {
				extra = append(extra, "--no-agent")
			}
			d := c.startDispatch(nil, dispatchArgs(hostsFile, scripts, extra...)...)
			if path == "agent" {
				waitFor(t, "some progress lines stored while the run runs", time.Minute, func() bool {
					return len(c.metrics(job)) >= 100
				})
			} else {
				waitFor(t, "the run to start", time.Minute, func() bool { return c.statusCounts()["running"] == 1 })
			}
			d.kill9(t)
			before := len(c.metrics(job))
			if err := os.WriteFile(gate, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			r := c.mustRun(dispatchArgs(hostsFile, scripts, extra...)...)
			if !strings.Contains(r.stderr, "1 succeeded") {
				t.Errorf("second dispatch: want 1 succeeded; stderr:\n%s", r.stderr)
			}
			checkProgressStored(t, c, job, n, before)
		})
	}
}

// checkProgressStored checks what TestE2EProgressAcrossKill9's script
// printed is stored once, each value as printed: per series, steps in
// order, loss and lr each; and that show counts the line not taken.
// before is how many points were stored before the run's end, for the log.
func checkProgressStored(t *testing.T, c *cli, job int64, n, before int) {
	t.Helper()
	rows := c.metrics(job)
	t.Logf("%d points stored before the end, %d in all", before, len(rows))
	// Every line once: per series, steps in order, loss and lr each.
	want := map[string][]float64{}
	for i := range n + 10 {
		s := fmt.Sprintf("fold%d", i%2+1)
		want[s+"/loss"] = append(want[s+"/loss"], float64(i), 1.0/float64(i+1))
		want[s+"/lr"] = append(want[s+"/lr"], float64(i), 0.01)
	}
	want["fold1/loss"] = append(want["fold1/loss"], float64(n+10), 0.001)
	want["fold1/lr"] = append(want["fold1/lr"], float64(n+10), 0.01)
	got := map[string][]float64{}
	for _, p := range rows {
		k := p.Series + "/" + p.Name
		got[k] = append(got[k], p.Step, p.Value)
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Errorf("%s: %d points, want %d", k, len(g)/2, len(w)/2)
			continue
		}
		for i := range w {
			if g[i] != w[i] {
				t.Errorf("%s: point %d is (step, value) %v, want %v", k, i/2, g[i&^1:i&^1+2], w[i&^1:i&^1+2])
				break
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("curves %d, want %d", len(got), len(want))
	}
	shown := c.mustRun("show", fmt.Sprint(job)).stdout
	wantLine := fmt.Sprintf("%d lines taken, %d points stored", n+11, 2*(n+11))
	if !strings.Contains(shown, wantLine) || !strings.Contains(shown, "1 line not taken (step went backwards 1)") {
		t.Errorf("show: want %q and the line not taken; got:\n%s", wantLine, shown)
	}
	if o := c.outcomes(); len(o) != 1 || o[0].State != "succeeded" {
		t.Errorf("outcomes %+v, want one succeeded", o)
	}
}

// TestSlurmProgress: the same script as a Slurm task, through the built
// binary: the dispatcher's poller stores its progress lines while the task
// runs (it waits at the gate until some are stored), and every line once
// by the end.
func TestSlurmProgress(t *testing.T) {
	t.Parallel()
	cluster := slurmtest.Start(t, slurmtest.Options{CPUs: 2})
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	entry := slurmEntry{login: servers[0], cluster: cluster, workdir: filepath.Join(c.dir, "shared"), slots: 1}
	hostsFile := writeMixedHosts(t, c.dir, nil, keys, entry)
	scripts := filepath.Join(c.dir, "scripts")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scripts, "progress.py"), []byte(progressScript), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 300
	gate := filepath.Join(c.dir, "gate")
	subs := c.submit(scripts, map[string]any{"scriptName": "progress.py", "projectName": "slurm-curves", "n": n, "gate": gate})
	job := subs[0].JobID
	d := c.startDispatch(nil, dispatchArgs(hostsFile, scripts)...)
	waitFor(t, "progress lines stored while the Slurm task runs", slurmWait, func() bool {
		return len(c.metrics(job)) >= 2*n
	})
	before := len(c.metrics(job))
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t); code != 0 {
		t.Fatalf("dispatch exit %d; stderr:\n%s", code, d.stderr)
	}
	checkProgressStored(t, c, job, n, before)
}
