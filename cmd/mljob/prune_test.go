package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mljob/mljob/internal/slurmtest"
)

// pruneCurveScript prints valLoss = v·(1 + 1/step) for steps 1..steps, a
// line every 0.2 s, writes its pid to pidDir/<v>.pid, waits hold seconds,
// then prints its Outcome: a lower v is better at every step.
const pruneCurveScript = `import json, os, sys, time
job = json.loads(sys.argv[1])
with open(os.path.join(job["pidDir"], str(job["v"]) + ".pid"), "w") as f:
    f.write(str(os.getpid()))
for step in range(1, job["steps"] + 1):
    print(json.dumps({"step": step, "valLoss": job["v"] * (1 + 1 / step)}), flush=True)
    time.sleep(0.2)
time.sleep(job["hold"])
print(json.dumps({"valLoss": job["v"]}), flush=True)
`

// TestE2EPrune: a sweep file with three lines of pruner, run through the
// built binary on an sshd host with two slots (see checkPrune).
func TestE2EPrune(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	checkPrune(t, c, hostsFile, 3)
}

// TestSlurmPrune: the same on the test Slurm cluster: a pruned task is
// cancelled (scancel) and its process is gone from the node.
func TestSlurmPrune(t *testing.T) {
	t.Parallel()
	cluster := slurmtest.Start(t, slurmtest.Options{CPUs: 2})
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	entry := slurmEntry{login: servers[0], cluster: cluster, workdir: filepath.Join(c.dir, "shared"), slots: 2}
	hostsFile := writeMixedHosts(t, c.dir, nil, keys, entry)
	// Slurm's poller delivers progress lines a few seconds late: the runs
	// wait longer after their last step, so that a loser is judged while
	// it still runs.
	checkPrune(t, c, hostsFile, 15)
}

// checkPrune submits a sweep of five configurations of a script whose
// curve is better at every step the lower its v, under successive halving
// (η=3), and dispatches it to hostsFile. Whatever order the runs reach
// their rungs in, the best configuration survives (it is the best at every
// step) and the worst, started after three others ended, is pruned; each
// pruned run's process is gone from the host, and every run is recorded
// succeeded or pruned. hold is how long each run waits after its last
// step.
func checkPrune(t *testing.T, c *cli, hostsFile string, hold int) {
	t.Helper()
	scripts := filepath.Join(c.dir, "scripts")
	pids := filepath.Join(c.dir, "pids")
	for _, d := range []string{scripts, pids} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWriteFile(t, filepath.Join(scripts, "curve.py"), pruneCurveScript)
	mustWriteFile(t, filepath.Join(c.dir, "base.json"),
		fmt.Sprintf(`{"scriptName": "curve.py", "projectName": "curves", "steps": 9, "hold": %d, "pidDir": %q, "v": 0}`, hold, pids))
	sweep := filepath.Join(c.dir, "sweep.yaml")
	mustWriteFile(t, sweep, `name: curves-asha
base: base.json
objective: {name: valLoss, goal: minimize}
pruner:
  rule: asha
  minStep: 1
  reduction: 3
grid:
  v: [0.5, 1, 2, 3, 4]
`)
	c.mustRun("submit", "--scripts", scripts, "--sweep", sweep)
	r := c.mustRun(dispatchArgs(hostsFile, scripts)...)

	vs := []string{"0.5", "1", "2", "3", "4"}
	rows := byJob(t, c.outcomes())
	pruned := map[string]bool{}
	for i, v := range vs {
		row, ok := rows[int64(i+1)]
		switch {
		case !ok:
			t.Fatalf("job %d (v=%s) has no outcome", i+1, v)
		case strings.HasPrefix(row.Error, "pruned at step "):
			pruned[v] = true
			// A pruned run's cost counts: its wrapper measured it as it
			// ended the run.
			if row.Cost == nil || row.Cost.WallSeconds <= 0 || row.Cost.CPUSeconds <= 0 {
				t.Errorf("job %d (v=%s), pruned: cost %+v, want its wall and CPU", i+1, v, row.Cost)
			}
		case row.Error != "":
			t.Errorf("job %d (v=%s) failed: %s", i+1, v, row.Error)
		}
	}
	if pruned["0.5"] || !pruned["4"] {
		t.Fatalf("pruned %v: want the best (0.5) to survive and the worst (4) pruned\n%s", pruned, r.stderr)
	}
	if !strings.Contains(r.stderr, fmt.Sprintf(", %d pruned", len(pruned))) {
		t.Errorf("the dispatch summary does not count %d pruned runs:\n%s", len(pruned), r.stderr)
	}
	counts := c.statusCounts()
	if counts["pruned"] != len(pruned) || counts["succeeded"] != len(vs)-len(pruned) {
		t.Errorf("status counts %v, want %d pruned", counts, len(pruned))
	}
	for v := range pruned {
		b, err := os.ReadFile(filepath.Join(pids, v+".pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("v=%s: the pruned run's process %d is still there (kill 0: %v)", v, pid, err)
		}
	}
}

func mustWriteFile(tb testing.TB, path, text string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
}
