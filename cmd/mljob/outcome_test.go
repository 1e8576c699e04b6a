package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/slurmtest"
)

// longPy prints its outcome (with "samples" numbers in it, to make the
// line long), then "tail" lines that begin with "{" but are not JSON (a
// Python dict, as print(d) writes it), ~62 bytes each.
const longPy = `import json, sys, time
job = json.loads(sys.argv[1])
time.sleep(job.get("sleep", 0))
print("starting")
print(json.dumps({"status": 200, "loss": job["loss"], "samples": list(range(job.get("samples", 0)))}))
for i in range(job.get("tail", 0)):
    print("{'epoch': %6d, 'note': '%s'}" % (i, "." * 30))
`

// longCase is one job of longPy and what its outcome must say.
type longCase struct {
	name          string
	samples, tail int
	fails         string // "" = succeeds
}

// longCases: a 1 MB tail after the outcome, an outcome line over the 256 KiB
// the dispatcher fetches, both, and an outcome line over MaxOutcomeLine.
var longCases = []longCase{
	{name: "1 MB after the outcome", tail: 17000},
	{name: "outcome line of 400 KB", samples: 60000},
	{name: "both", samples: 60000, tail: 17000},
	{name: "short, for reference", samples: 3, tail: 3},
}

// submitLong queues one longPy job per case, sleeping sleep seconds.
func submitLong(c *cli, scripts, project string, cases []longCase, sleep float64) []submitted {
	jobs := make([]any, len(cases))
	for i, lc := range cases {
		jobs[i] = map[string]any{"scriptName": "long.py", "projectName": project, "loss": float64(i) + 0.5,
			"samples": lc.samples, "tail": lc.tail, "sleep": sleep}
	}
	return c.submit(scripts, jobs...)
}

// checkLong checks that each case's outcome is its script's line, whole.
func checkLong(tb testing.TB, c *cli, subs []submitted, cases []longCase) {
	tb.Helper()
	r := c.mustRun("outcomes", "-o", "json")
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		tb.Fatalf("outcomes -o json: %v", err)
	}
	byOrder := map[int64]map[string]json.RawMessage{}
	for _, row := range rows {
		var id int64
		if err := json.Unmarshal(row["orderId"], &id); err != nil {
			tb.Fatal(err)
		}
		if byOrder[id] != nil {
			tb.Errorf("order %d has two outcomes", id)
		}
		byOrder[id] = row
	}
	for i, lc := range cases {
		row := byOrder[subs[i].OrderID]
		if row == nil {
			tb.Errorf("%s: order %d has no outcome", lc.name, subs[i].OrderID)
			continue
		}
		var state, errText string
		var loss float64
		var samples []int
		_ = json.Unmarshal(row["state"], &state)
		_ = json.Unmarshal(row["error"], &errText)
		_ = json.Unmarshal(row["loss"], &loss)
		_ = json.Unmarshal(row["samples"], &samples)
		if lc.fails != "" {
			if state != "failed" || !strings.Contains(errText, lc.fails) {
				tb.Errorf("%s: outcome %s (%q), want failed with %q", lc.name, state, errText, lc.fails)
			}
			continue
		}
		if state != "succeeded" {
			tb.Errorf("%s: outcome %s (%q), want succeeded", lc.name, state, errText)
			continue
		}
		if loss != float64(i)+0.5 || len(samples) != lc.samples || lc.samples > 0 && samples[lc.samples-1] != lc.samples-1 {
			tb.Errorf("%s: outcome loss %v with %d samples, want loss %v with %d", lc.name, loss, len(samples), float64(i)+0.5, lc.samples)
		}
	}
}

// TestE2EOutcomeFarFromTheEnd: an outcome followed by a megabyte of output,
// and an outcome line longer than the tail the dispatcher fetches, are
// found and recorded whole: through the agent, through the shell path
// (--no-agent), on this machine (no hosts file) and after the dispatcher was killed and a new one adopted
// the runs. A last line that begins with "{" and is longer than
// MaxOutcomeLine fails the run with a message saying so.
func TestE2EOutcomeFarFromTheEnd(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 4})
	scripts := writeScripts(t, c.dir, map[string]string{"long.py": longPy})

	t.Run("agent", func(t *testing.T) {
		cases := append(longCases[:len(longCases):len(longCases)],
			longCase{name: "outcome line over 16 MiB", samples: 2500000, fails: "over the 16 MiB limit on an outcome line"})
		subs := submitLong(c, scripts, "long-agent", cases, 0)
		c.mustRun(dispatchArgs(hostsFile, scripts)...)
		checkLong(t, c, subs, cases)
	})
	t.Run("no-agent", func(t *testing.T) {
		subs := submitLong(c, scripts, "long-shell", longCases, 0)
		c.mustRun(dispatchArgs(hostsFile, scripts, "--no-agent")...)
		checkLong(t, c, subs, longCases)
	})
	t.Run("this machine", func(t *testing.T) {
		subs := submitLong(c, scripts, "long-local", longCases, 0)
		c.mustRun("dispatch", "--python", hostPython, "--slots", "4", "--scripts", scripts, "--poll", e2ePoll)
		checkLong(t, c, subs, longCases)
	})
	t.Run("adopted", func(t *testing.T) {
		subs := submitLong(c, scripts, "long-adopted", longCases, 3)
		before := c.statusCounts()["succeeded"]
		d := c.startDispatch(nil, dispatchArgs(hostsFile, scripts)...)
		waitFor(t, "4 runs to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 4 })
		d.kill9(t)
		r := c.mustRun(dispatchArgs(hostsFile, scripts, "-v")...)
		if !strings.Contains(r.stderr, "Adopted 4 run(s)") {
			t.Errorf("the second dispatch did not adopt the 4 runs; stderr:\n%s", r.stderr)
		}
		if got := c.statusCounts()["succeeded"] - before; got != 4 {
			t.Errorf("%d more succeeded, want 4", got)
		}
		checkLong(t, c, subs, longCases)
	})
}

// TestSlurmOutcomeFarFromTheEnd: the same through a Slurm entry.
func TestSlurmOutcomeFarFromTheEnd(t *testing.T) {
	t.Parallel()
	cluster := slurmtest.Start(t, slurmtest.Options{CPUs: 4})
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	entry := slurmEntry{login: servers[0], cluster: cluster, workdir: filepath.Join(c.dir, "shared"), slots: 4}
	hostsFile := writeMixedHosts(t, c.dir, nil, keys, entry)
	scripts := writeScripts(t, c.dir, map[string]string{"long.py": longPy})
	subs := submitLong(c, scripts, "long-slurm", longCases, 0)
	r := c.mustRun(dispatchArgs(hostsFile, scripts, "-v")...)
	for _, o := range c.outcomes() {
		if o.Host != "campus" {
			t.Errorf("order %d ran on %s, not the Slurm entry", o.OrderID, o.Host)
		}
	}
	checkLong(t, c, subs, longCases)
	if t.Failed() {
		t.Logf("dispatch stderr:\n%s", r.stderr)
	}
}
