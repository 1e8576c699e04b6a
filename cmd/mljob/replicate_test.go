package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// noisyScript's loss is its x plus noise from its two seeds; a job of
// project q prints no loss at all.
const noisyScript = `import json, sys
job = json.loads(sys.argv[1])
if job["projectName"] == "q":
    print(json.dumps({"status": 200}))
    sys.exit(0)
x, seed, split = job["x"], job.get("seed", 0), job.get("splitSeed", 0)
print(json.dumps({"status": 200, "loss": x + (seed * 7 % 5) / 10.0 + (split % 3) / 100.0}))
`

// noisyFields declares both seed fields, splitSeed with a default.
const noisyFields = `fields:
  x: {type: number}
  seed: {type: integer, default: 0}
  splitSeed: {type: integer, default: 100}
seeds: [seed, splitSeed]
`

// replicateGroup is the part of outcomes --replicates -o json this test
// reads.
type replicateGroup struct {
	GroupID   int64  `json:"groupId"`
	Objective string `json:"objective"`
	Holds     bool   `json:"rankingHolds"`
	Configs   []struct {
		JobID      int64     `json:"jobId"`
		Rank       int       `json:"rank"`
		RankByMean int       `json:"rankByMean"`
		Mean       *float64  `json:"mean"`
		SD         *float64  `json:"sd"`
		N          int       `json:"n"`
		Values     []float64 `json:"values"`
		Jobs       []int64   `json:"jobs"`
		Missing    int       `json:"missing"`
	} `json:"configurations"`
}

// TestE2EReplicate runs a three-point sweep, replicates its top 2
// configurations with 3 new seeds each (both declared seed fields), runs
// them, and reads outcomes --replicates: per configuration the original
// run and its 3 copies, their mean and standard deviation (checked against
// the values it lists), and whether the ranking by mean holds (checked
// against those means). Bad requests fail with what to do and leave the
// queue as it was.
func TestE2EReplicate(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	scripts := filepath.Join(c.dir, "scripts")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, filepath.Join(scripts, "noisy.py"), noisyScript)
	mustWriteFile(t, filepath.Join(scripts, "noisy.fields.yaml"), noisyFields)
	base := mustWrite(t, c.dir, "base-*.json", []byte(`{"scriptName": "noisy.py", "projectName": "p", "x": 0, "seed": 5}`))
	c.mustRun("submit", "--scripts", scripts, base, "--grid", "x=3,1,2", "--name", "s") // jobs 1-3
	noLoss := c.submit(scripts, map[string]any{"scriptName": "noisy.py", "projectName": "q", "x": 0})
	c.mustRun("dispatch", "--plain", "--python", hostPython, "--slots", "2", "--scripts", scripts, "--poll", e2ePoll)

	r := c.mustRun("replicate", "--scripts", scripts, "--sweep", "s", "--top", "2", "--seeds", "3", "-o", "json")
	var rows []struct {
		GroupID, SourceJobID, JobID, OrderID int64
		Rank                                 int
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("replicate -o json: %v\n%s", err, r.stdout)
	}
	// x=1 (job 2) is the best, x=2 (job 3) second.
	wantSources := []int64{2, 2, 2, 3, 3, 3}
	if len(rows) != 6 {
		t.Fatalf("replicate queued %d jobs, want 6:\n%s", len(rows), r.stdout)
	}
	for i, row := range rows {
		if row.SourceJobID != wantSources[i] || row.JobID != int64(5+i) || row.Rank != 1+i/3 || row.GroupID != 1 {
			t.Errorf("row %d = %+v, want source %d rank %d job %d", i, row, wantSources[i], 1+i/3, 5+i)
		}
	}
	if !regexp.MustCompile(`(?m)^Queued 6 job\(s\): 2 configuration\(s\) × 3 seed\(s\), replicate group 1\.$`).MatchString(r.stderr) {
		t.Errorf("replicate's stderr:\n%s", r.stderr)
	}
	// The copies differ from their source in the seeds only: seed 5+k,
	// splitSeed its default 100 + k.
	for k, job := range []int64{5, 6, 7} {
		var shown struct {
			Spec map[string]any `json:"spec"`
		}
		if err := json.Unmarshal([]byte(c.mustRun("show", "-o", "json", strconv.FormatInt(job, 10)).stdout), &shown); err != nil {
			t.Fatal(err)
		}
		s := shown.Spec
		if s["x"] != 1.0 || s["seed"] != float64(6+k) || s["splitSeed"] != float64(101+k) || s["projectName"] != "p" {
			t.Errorf("job %d's spec = %v, want x 1, seed %d, splitSeed %d", job, s, 6+k, 101+k)
		}
	}

	// Bad requests: a clear error, exit 1 or 2, and nothing queued.
	before := c.statusCounts()
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--sweep", "nope"}, 1, `(?m)^Error: no sweep "nope"`},
		{[]string{"--sweep", "s", "--top", "0"}, 2, `--top must be at least 1, not 0`},
		{[]string{"--sweep", "s", "--seeds", "0"}, 2, `--seeds must be at least 1, not 0`},
		{[]string{}, 2, `nothing to replicate`},
		{[]string{"--jobs", "99"}, 1, `(?m)^Error: no job 99 in the queue$`},
		{[]string{"--jobs", strconv.FormatInt(noLoss[0].JobID, 10)}, 1,
			`(?m)^Error: job 4 has no succeeded run with a value of its objective\n^Try: `},
	} {
		got := c.run(append([]string{"replicate", "--scripts", scripts}, tt.args...)...)
		if got.code != tt.code || !regexp.MustCompile(tt.want).MatchString(got.stderr) {
			t.Errorf("replicate %s: exit %d, stderr:\n%s\nwant exit %d and %s", strings.Join(tt.args, " "), got.code, got.stderr, tt.code, tt.want)
		}
	}
	if after := c.statusCounts(); after["unassigned"] != before["unassigned"] || after["succeeded"] != before["succeeded"] {
		t.Errorf("a refused replicate changed the queue: %v, then %v", before, after)
	}

	c.mustRun("dispatch", "--plain", "--python", hostPython, "--slots", "2", "--scripts", scripts, "--poll", e2ePoll)
	out := c.mustRun("outcomes", "--replicates", "--sweep", "s", "-o", "json")
	var groups []replicateGroup
	if err := json.Unmarshal([]byte(out.stdout), &groups); err != nil {
		t.Fatalf("outcomes --replicates -o json: %v\n%s", err, out.stdout)
	}
	if len(groups) != 1 || len(groups[0].Configs) != 2 || groups[0].Objective != "loss" {
		t.Fatalf("groups = %+v, want one of two configurations by loss", groups)
	}
	g := groups[0]
	for i, cfg := range g.Configs {
		if cfg.JobID != wantSources[3*i] || cfg.Rank != i+1 || cfg.N != 4 || len(cfg.Values) != 4 || cfg.Missing != 0 ||
			cfg.Jobs[0] != cfg.JobID || cfg.Mean == nil || cfg.SD == nil {
			t.Fatalf("configuration %d = %+v, want job %d's run and its 3 copies", i, cfg, wantSources[3*i])
		}
		mean, ss := 0.0, 0.0
		for _, v := range cfg.Values {
			mean += v / 4
		}
		for _, v := range cfg.Values {
			ss += (v - mean) * (v - mean)
		}
		if math.Abs(*cfg.Mean-mean) > 1e-9 || math.Abs(*cfg.SD-math.Sqrt(ss/3)) > 1e-9 {
			t.Errorf("configuration %d: mean %v ± %v, but its values %v give %v ± %v", i, *cfg.Mean, *cfg.SD, cfg.Values, mean, math.Sqrt(ss/3))
		}
	}
	holds := *g.Configs[0].Mean < *g.Configs[1].Mean
	if g.Holds != holds || (g.Configs[0].RankByMean == 1) != holds {
		t.Errorf("rankingHolds %v, ranks by mean %d, %d; the means %v, %v say %v",
			g.Holds, g.Configs[0].RankByMean, g.Configs[1].RankByMean, *g.Configs[0].Mean, *g.Configs[1].Mean, holds)
	}
	tbl := c.mustRun("outcomes", "--replicates", "--project", "p")
	if !regexp.MustCompile(`(?m)^ +GROUP +OBJECTIVE +RANK +JOB +MEAN +SD +N +VALUES +BY MEAN +MISSING *$`).MatchString(tbl.stdout) ||
		!regexp.MustCompile(`(?m)^ +1 +loss:min +1 +2 +\S+ +\S+ +4 +(\S+ ){3}\S+ +[12] +0 *$`).MatchString(tbl.stdout) {
		t.Errorf("outcomes --replicates table:\n%s", tbl.stdout)
	}
	if !regexp.MustCompile(`(?m)^Group 1: the ranking by mean loss (holds|does not hold)`).MatchString(tbl.stderr) {
		t.Errorf("outcomes --replicates stderr:\n%s", tbl.stderr)
	}
}
