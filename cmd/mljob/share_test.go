package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/sshtest"
)

// timelinePy records when the run's script started and ended (time.time()
// on the host, which is this machine for every test sshd), where it ran
// (its run dir) and for which laptop and job, in a file of its own in the
// job's "timeline" dir; then it prints its outcome.
const timelinePy = `import json, os, sys, time
job = json.loads(sys.argv[1])
t0 = time.time()
while job.get("gate") and not os.path.exists(job["gate"]):
    time.sleep(0.05)  # held until the test opens the gate
time.sleep(float(job.get("sleepSeconds", 0.3)))
t1 = time.time()
rec = {"laptop": job["laptop"], "x": job["x"], "start": t0, "end": t1, "cwd": os.getcwd(),
       "gpus": os.environ.get("CUDA_VISIBLE_DEVICES")}
name = os.path.join(job["timeline"], "%s-%d.json" % (job["laptop"], job["x"]))
with open(name + ".tmp", "w") as f:
    json.dump(rec, f)
os.rename(name + ".tmp", name)
print(json.dumps({"status": 200, "loss": 0.0}))
`

// span is one run as timelinePy recorded it.
type span struct {
	Laptop     string  `json:"laptop"`
	X          int     `json:"x"`
	Start, End float64 `json:"-"`
	StartRaw   float64 `json:"start"`
	EndRaw     float64 `json:"end"`
	Cwd        string  `json:"cwd"`
	GPUs       *string `json:"gpus"`
	Host       string  `json:"-"`
}

// readTimeline reads the spans in dir, each placed on the server whose
// workdir holds its run dir.
func readTimeline(tb testing.TB, dir string, servers []*sshtest.Server) []span {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var spans []span
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var s span
		if err := json.Unmarshal(data, &s); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		s.Start, s.End = s.StartRaw, s.EndRaw
		for _, srv := range servers {
			if strings.HasPrefix(s.Cwd, srv.Workdir+string(filepath.Separator)) {
				s.Host = srv.Name
			}
		}
		if s.Host == "" {
			tb.Fatalf("%s: ran in %s, under no test host's workdir", f, s.Cwd)
		}
		spans = append(spans, s)
	}
	return spans
}

// maxOverlap is the most spans of host that run at one instant (an end
// and a start at the same instant do not overlap).
func maxOverlap(spans []span, host string) int {
	type edge struct {
		t     float64
		delta int
	}
	var edges []edge
	for _, s := range spans {
		if s.Host == host {
			edges = append(edges, edge{s.Start, 1}, edge{s.End, -1})
		}
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if a.t != b.t {
			if a.t < b.t {
				return -1
			}
			return 1
		}
		return a.delta - b.delta // ends first
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}

// timelineJobs are n timelinePy jobs of laptop, sleeping sleep seconds.
func timelineJobs(laptop, dir string, n int, sleep float64) []any {
	jobs := make([]any, n)
	for i := range jobs {
		jobs[i] = map[string]any{"scriptName": "timeline.py", "projectName": laptop, "laptop": laptop, "x": i,
			"timeline": dir, "sleepSeconds": sleep}
	}
	return jobs
}

// oneOutcomeEach checks that every submitted job of c has exactly one
// outcome, a success.
func oneOutcomeEach(tb testing.TB, c *cli, subs []submitted, who string) {
	tb.Helper()
	per := map[int64]int{}
	for _, o := range c.outcomes() {
		per[o.JobID]++
		if o.State != "succeeded" || o.Attempt != 1 {
			tb.Errorf("%s: job %d: %s in attempt %d (%s), want succeeded in attempt 1", who, o.JobID, o.State, o.Attempt, o.Error)
		}
	}
	for _, s := range subs {
		if per[s.JobID] != 1 {
			tb.Errorf("%s: job %d has %d outcomes, want 1", who, s.JobID, per[s.JobID])
		}
	}
}

// TestShareHosts is the proof of host-side leases with the built binary:
// two laptops (two databases, two dispatchers started at once) run 60 jobs
// each on the same 3 hosts with 2 slots each. By the times the scripts
// recorded, no host ever ran more than 2 at once; every job of both
// databases has exactly one outcome; and while both had work, each got at
// least a third of the runs (fair sharing). Then laptop a fills every
// slot with long runs and is killed with SIGKILL while b waits: a's
// detached runs keep their leases to their end, b's runs on those slots
// start only after them, b finishes its jobs, and a's next dispatch
// collects a's.
func TestShareHosts(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 3)
	a, b := newCLI(t), newCLI(t)
	hostsFile := writeHosts(t, a.dir, servers, keys, hostsOptions{slots: 2})
	scripts := writeScripts(t, a.dir, map[string]string{"timeline.py": timelinePy})
	timeline := filepath.Join(a.dir, "timeline")
	if err := os.MkdirAll(timeline, 0o777); err != nil {
		t.Fatal(err)
	}
	hostNames := []string{servers[0].Name, servers[1].Name, servers[2].Name}

	t.Run("both", func(t *testing.T) {
		const n = 60
		subsA := a.submit(scripts, timelineJobs("a", timeline, n, 0.3)...)
		subsB := b.submit(scripts, timelineJobs("b", timeline, n, 0.3)...)
		da := a.startDispatch(nil, dispatchArgs(hostsFile, scripts, "-v")...)
		db := b.startDispatch(nil, dispatchArgs(hostsFile, scripts, "-v")...)
		for _, d := range []*bgDispatch{da, db} {
			if code := d.wait(t); code != 0 {
				t.Fatalf("dispatch exit %d; stderr:\n%s", code, d.stderr)
			}
		}
		oneOutcomeEach(t, a, subsA, "a")
		oneOutcomeEach(t, b, subsB, "b")
		spans := readTimeline(t, timeline, servers)
		if len(spans) != 2*n {
			t.Fatalf("%d runs recorded, want %d", len(spans), 2*n)
		}
		for _, h := range hostNames {
			if m := maxOverlap(spans, h); m > 2 {
				t.Errorf("host %s ran %d runs at once, want at most its 2 slots", h, m)
			}
		}
		// While both had work: up to the last start of the laptop whose
		// runs all started first.
		last := map[string]float64{}
		for _, s := range spans {
			last[s.Laptop] = max(last[s.Laptop], s.Start)
		}
		until := min(last["a"], last["b"])
		got := map[string]int{}
		total := 0
		for _, s := range spans {
			if s.Start <= until {
				got[s.Laptop]++
				total++
			}
		}
		for _, l := range []string{"a", "b"} {
			if 3*got[l] < total {
				t.Errorf("laptop %s got %d of the %d runs started while both had work, want at least a third", l, got[l], total)
			}
		}
		t.Logf("runs started while both had work: a %d, b %d", got["a"], got["b"])
		for _, f := range mustGlob(t, filepath.Join(timeline, "*.json")) {
			os.Remove(f)
		}
	})

	t.Run("kill9", func(t *testing.T) {
		// a's runs hold their slots until the gate opens, after a is killed:
		// under load, a fixed sleep could end them before b waits.
		gate := filepath.Join(a.dir, "gate")
		jobsA := timelineJobs("a", timeline, 6, 0.3)
		for _, j := range jobsA {
			j.(map[string]any)["gate"] = gate
		}
		subsA := a.submit(scripts, jobsA...)
		subsB := b.submit(scripts, timelineJobs("b", timeline, 12, 0.3)...)
		da := a.startDispatch(nil, dispatchArgs(hostsFile, scripts, "-v")...)
		waitFor(t, "a's 6 runs to hold every slot", time.Minute, func() bool { return a.statusCounts()["running"] == 6 })
		db := b.startDispatch(nil, dispatchArgs(hostsFile, scripts, "-v")...)
		waitFor(t, "b to wait for a lease", time.Minute, func() bool {
			return strings.Contains(db.stderr.String(), "no lease free for us") || db.exited()
		})
		da.kill9(t)
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if code := db.wait(t); code != 0 {
			t.Fatalf("b's dispatch exit %d; stderr:\n%s", code, db.stderr)
		}
		oneOutcomeEach(t, b, subsB, "b")
		a.mustRun(dispatchArgs(hostsFile, scripts)...) // collects a's detached runs
		oneOutcomeEach(t, a, subsA, "a")

		spans := readTimeline(t, timeline, servers)
		if len(spans) != 18 {
			t.Fatalf("%d runs recorded, want 18", len(spans))
		}
		for _, h := range hostNames {
			if m := maxOverlap(spans, h); m > 2 {
				t.Errorf("host %s ran %d runs at once, want at most its 2 slots", h, m)
			}
			// a held both slots of h: b starts there only once one of
			// a's runs there has ended.
			firstEnd := 0.0
			for _, s := range spans {
				if s.Host == h && s.Laptop == "a" && (firstEnd == 0 || s.End < firstEnd) {
					firstEnd = s.End
				}
			}
			for _, s := range spans {
				if s.Host == h && s.Laptop == "b" && s.Start < firstEnd {
					t.Errorf("b's run %d started on %s at %.3f, before any of a's detached runs there ended (%.3f)", s.X, h, s.Start, firstEnd)
				}
			}
		}
	})
}

// mustGlob is filepath.Glob, failing tb on a bad pattern.
func mustGlob(tb testing.TB, pattern string) []string {
	tb.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// fakeSMI is an nvidia-smi for a host with two GPUs, where GPU 1 runs a
// compute process that is no mljob run (pid 1).
const fakeSMI = `#!/bin/sh
case "$*" in
*--query-compute-apps*) echo "GPU-bbbb, 1, 2048" ;;
*index,uuid,memory.free*) printf '0, GPU-aaaa, 80000\n1, GPU-bbbb, 78000\n' ;;
*) printf '0, 0, 10\n1, 95, 2048\n' ;;
esac
`

// TestGPUPacking: with a fake nvidia-smi on the host's PATH showing a
// foreign compute process on GPU 1, runs_per_gpu: 2 puts every run on
// GPU 0, two at once, both seeing CUDA_VISIBLE_DEVICES=0; GPU 1 is never
// used.
func TestGPUPacking(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(fakeSMI), 0o755); err != nil {
		t.Fatal(err)
	}
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true, Env: []string{"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin"}})
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{gpus: []string{"0", "1"}})
	data, err := os.ReadFile(hostsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hostsFile, append(data, "    runs_per_gpu: 2\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	scripts := writeScripts(t, c.dir, map[string]string{"timeline.py": timelinePy})
	timeline := filepath.Join(c.dir, "timeline")
	if err := os.MkdirAll(timeline, 0o777); err != nil {
		t.Fatal(err)
	}
	subs := c.submit(scripts, timelineJobs("a", timeline, 6, 0.5)...)
	r := c.mustRun(dispatchArgs(hostsFile, scripts, "-v")...)
	oneOutcomeEach(t, c, subs, "a")
	spans := readTimeline(t, timeline, servers)
	for _, s := range spans {
		if got := "(unset)"; s.GPUs == nil || *s.GPUs != "0" {
			if s.GPUs != nil {
				got = *s.GPUs
			}
			t.Errorf("run %d saw CUDA_VISIBLE_DEVICES=%s, want 0 (GPU 1 runs a foreign process)", s.X, got)
		}
	}
	if m := maxOverlap(spans, servers[0].Name); m != 2 {
		t.Errorf("at most %d runs at once on GPU 0, want 2 (runs_per_gpu: 2); stderr:\n%s", m, r.stderr)
	}
}

// fakeSMI4 is an nvidia-smi for a host with four idle GPUs.
const fakeSMI4 = `#!/bin/sh
case "$*" in
*--query-compute-apps*) ;;
*index,uuid,memory.free*) printf '0, GPU-a0, 80000\n1, GPU-a1, 80000\n2, GPU-a2, 80000\n3, GPU-a3, 80000\n' ;;
*) printf '0, 0, 0\n1, 0, 0\n2, 0, 0\n3, 0, 0\n' ;;
esac
`

// TestMultiGPUJobs: on a host listing gpus [0, 1, 2, 3] (a fake
// nvidia-smi showing four idle GPUs), jobs with "gpus": 2 each see two
// GPUs in CUDA_VISIBLE_DEVICES, jobs without "gpus" one, and runs going at
// once never share a GPU; a job asking for 8 GPUs is refused with a
// failed outcome saying why, while the others run (the dispatch ends).
func TestMultiGPUJobs(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(fakeSMI4), 0o755); err != nil {
		t.Fatal(err)
	}
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true, Env: []string{"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin"}})
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{gpus: []string{"0", "1", "2", "3"}})
	scripts := writeScripts(t, c.dir, map[string]string{"timeline.py": timelinePy})
	timeline := filepath.Join(c.dir, "timeline")
	if err := os.MkdirAll(timeline, 0o777); err != nil {
		t.Fatal(err)
	}
	jobs := timelineJobs("a", timeline, 7, 0.5)
	want := map[int]int{} // x → GPUs its run sees
	for i, j := range jobs {
		switch {
		case i < 4:
			j.(map[string]any)["gpus"] = 2
			want[i] = 2
		case i < 6:
			want[i] = 1
		default:
			j.(map[string]any)["gpus"] = 8
		}
	}
	subs := c.submit(scripts, jobs...)
	r := c.run(dispatchArgs(hostsFile, scripts, "-v")...)
	if !strings.Contains(r.stderr, "more than any host of this dispatch has (at most 4") {
		t.Errorf("dispatch stderr does not say why the 8-GPU job is refused:\n%s", r.stderr)
	}
	for _, o := range c.outcomes() {
		if o.JobID == subs[6].JobID {
			if o.State != "failed" || !strings.Contains(o.Error, `asks for 8 GPUs`) {
				t.Errorf("8-GPU job: %s (%s), want failed saying it asks for 8 GPUs", o.State, o.Error)
			}
			continue
		}
		if o.State != "succeeded" || o.Attempt != 1 {
			t.Errorf("job %d: %s in attempt %d (%s), want succeeded in attempt 1", o.JobID, o.State, o.Attempt, o.Error)
		}
	}
	spans := readTimeline(t, timeline, servers)
	if len(spans) != 6 {
		t.Fatalf("%d runs recorded, want 6 (the 8-GPU job never runs); stderr:\n%s", len(spans), r.stderr)
	}
	sets := make([][]string, len(spans))
	for i, s := range spans {
		if s.GPUs == nil {
			t.Fatalf("run %d saw no CUDA_VISIBLE_DEVICES", s.X)
		}
		sets[i] = strings.Split(*s.GPUs, ",")
		seen := map[string]bool{}
		for _, g := range sets[i] {
			if seen[g] || !slices.Contains([]string{"0", "1", "2", "3"}, g) {
				t.Errorf("run %d saw CUDA_VISIBLE_DEVICES=%s: want distinct ids of the host's GPUs", s.X, *s.GPUs)
			}
			seen[g] = true
		}
		if len(sets[i]) != want[s.X] {
			t.Errorf("run %d saw CUDA_VISIBLE_DEVICES=%s, want %d GPUs", s.X, *s.GPUs, want[s.X])
		}
	}
	for i, a := range spans {
		for j, b := range spans[:i] {
			if a.Start < b.End && b.Start < a.End {
				for _, g := range sets[i] {
					if slices.Contains(sets[j], g) {
						t.Errorf("runs %d (GPUs %v) and %d (GPUs %v) overlapped on GPU %s", a.X, sets[i], b.X, sets[j], g)
					}
				}
			}
		}
	}
	for _, g := range []string{"0", "1", "2", "3"} {
		if !leaseFree(t, servers[0].LockDir, "gpu-"+g) {
			t.Errorf("lease gpu-%s still held after the dispatch", g)
		}
	}
}
