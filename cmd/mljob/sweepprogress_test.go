package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// scoreScript prints three progress lines of fold1 (loss, acc and err),
// then an Outcome line with acc = x/10 and err = x; it exits 3 for x = 9,
// after printing the best acc of all.
const scoreScript = `import json, sys
job = json.loads(sys.argv[1])
x = job["x"]
for step in range(3):
    print(json.dumps({"step": step, "series": "fold1", "loss": 1.0 / (step + 1), "acc": x / 10.0 * step / 2, "err": x + 2 - step}), flush=True)
print(json.dumps({"status": 200, "acc": x / 10.0, "err": x, "loss": 10 - x}), flush=True)
sys.exit(3 if x == 9 else 0)
`

// statusSweep is the part of a status -o json sweep these tests read.
type statusSweep struct {
	SweepName *string `json:"sweepName"`
	Objective struct {
		Name string `json:"name"`
		Goal string `json:"goal"`
	} `json:"objective"`
	Done    int `json:"done"`
	Failed  int `json:"failed"`
	Running int `json:"running"`
	Queued  int `json:"queued"`
	Total   int `json:"total"`
	Best    *struct {
		Value float64 `json:"value"`
		JobID int64   `json:"jobId"`
	} `json:"best"`
}

// TestE2ESweepProgress runs two sweeps of a script that prints progress
// lines, one maximizing acc (its failed run has the highest acc, which
// never leads) and one minimizing err, and a job outside sweeps, on this
// machine: the plain lines show each run's progress with its objective and
// each sweep's best as it improves, the summary names each sweep's best by
// its goal, and status counts each sweep's orders, before and after, with
// the same best in the table and in JSON.
func TestE2ESweepProgress(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	scripts := filepath.Join(c.dir, "scripts")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scripts, "score.py"), []byte(scoreScript), 0o644); err != nil {
		t.Fatal(err)
	}
	base := mustWrite(t, c.dir, "base-*.json", []byte(`{"scriptName": "score.py", "projectName": "p", "x": 0}`))
	c.mustRun("submit", "--scripts", scripts, base, "--grid", "x=1,2,4,3,9", "--objective", "acc:max", "--name", "acc-sweep") // jobs 1-5
	c.mustRun("submit", "--scripts", scripts, base, "--grid", "x=2,1", "--objective", "err:min", "--name", "err-sweep")       // jobs 6-7
	c.submit(scripts, map[string]any{"scriptName": "score.py", "projectName": "p", "x": 5})                                   // job 8: loss:min

	before := c.statusSweeps()
	if len(before) != 3 || before[0].Queued != 5 || before[0].Done != 0 || before[0].Best != nil {
		t.Fatalf("status before the dispatch: %+v; want three groups, acc-sweep's 5 orders queued, no best", before)
	}

	r := c.mustRun("dispatch", "--plain", "--python", hostPython, "--slots", "2", "--scripts", scripts, "--poll", e2ePoll)
	for _, want := range []string{
		`(?m)^\S+Z order [1-5] progress: fold1 step [0-2] acc [0-9.]+ \(job [1-5], attempt 1\)$`,
		`(?m)^\S+Z order [67] progress: fold1 step [0-2] err [0-9.]+ \(job [67], attempt 1\)$`,
		`(?m)^\S+Z order 8 progress: fold1 step [0-2] loss [0-9.]+ \(job 8, attempt 1\)$`,
		`(?m)^\S+Z best acc \(higher is better\): 0\.4 — job 3 \(sweep acc-sweep\)$`,
		`(?m)^Dispatched in \S+: 7 succeeded, 1 failed\.$`,
		`(?m)^best acc \(higher is better\): 0\.4 — job 3 \(sweep acc-sweep\)$`,
		`(?m)^best err \(lower is better\): 1 — job 7 \(sweep err-sweep\)$`,
		`(?m)^best loss \(lower is better\): 5 — job 8 \(project p\)$`,
	} {
		if !regexp.MustCompile(want).MatchString(r.stderr) {
			t.Errorf("dispatch's stderr lacks %s:\n%s", want, r.stderr)
		}
	}
	if regexp.MustCompile(`best acc \S+ \S+ \S+: 0\.9`).MatchString(r.stderr) {
		t.Errorf("the failed run's acc 0.9 was named best:\n%s", r.stderr)
	}

	st := c.mustRun("status")
	for _, want := range []string{
		`(?m)^ p +acc-sweep +acc:max +5 +1 +0 +0 +0 +5 +\d+\.\d\d +0\.00 +0\.4 +3 *$`,
		`(?m)^ p +err-sweep +err:min +2 +0 +0 +0 +0 +2 +\d+\.\d\d +0\.00 +1 +7 *$`,
		`(?m)^ p +\(no sweep\) +loss:min +1 +0 +0 +0 +0 +1 +\d+\.\d\d +0\.00 +5 +8 *$`,
	} {
		if !regexp.MustCompile(want).MatchString(st.stdout) {
			t.Errorf("status lacks %s:\n%s", want, st.stdout)
		}
	}
	after := c.statusSweeps()
	want := []struct {
		name, objective, goal string
		failed                int
		best                  float64
		job                   int64
	}{
		{"acc-sweep", "acc", "maximize", 1, 0.4, 3},
		{"err-sweep", "err", "minimize", 0, 1, 7},
		{"", "loss", "minimize", 0, 5, 8},
	}
	if len(after) != len(want) {
		t.Fatalf("status -o json sweeps %+v, want %d", after, len(want))
	}
	for i, w := range want {
		s := after[i]
		name := ""
		if s.SweepName != nil {
			name = *s.SweepName
		}
		if name != w.name || s.Objective.Name != w.objective || s.Objective.Goal != w.goal || s.Failed != w.failed ||
			s.Done != s.Total || s.Queued != 0 || s.Running != 0 || s.Best == nil || s.Best.Value != w.best || s.Best.JobID != w.job {
			t.Errorf("sweep %d: %+v (best %+v); want %+v", i, s, s.Best, w)
		}
	}
}

// statusSweeps returns the sweeps of status -o json, all projects'.
func (c *cli) statusSweeps() []statusSweep {
	c.tb.Helper()
	r := c.mustRun("status", "-o", "json")
	var ps []struct {
		Sweeps []statusSweep `json:"sweeps"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ps); err != nil {
		c.tb.Fatalf("status -o json: %v\n%s", err, r.stdout)
	}
	var out []statusSweep
	for _, p := range ps {
		out = append(out, p.Sweeps...)
	}
	return out
}
