package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/artifacts"
)

// artScript writes a checkpoint of the job's "size" random bytes (or, with
// "sparse", a sparse file of that size: a big artifact that costs no disk), a plot,
// a note under artifacts/, and a symlink out of the run dir that matches
// the job's globs and must never come home.
const artScript = `import json, os, sys
job = json.loads(sys.argv[1])
with open("model.pt", "wb") as f:
    if job.get("sparse"):
        f.truncate(job["size"])
    else:
        f.write(os.urandom(job["size"]))
os.makedirs("plots", exist_ok=True)
with open("plots/loss.png", "wb") as f:
    f.write(os.urandom(1000))
os.makedirs("artifacts", exist_ok=True)
with open("artifacts/notes.txt", "w") as f:
    f.write("job %s\n" % job["size"])
os.symlink("/etc/passwd", "leak.pt")
print(json.dumps({"status": 200, "loss": 1}))
`

type artifactJSON struct {
	JobID  int64  `json:"jobId"`
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	State  string `json:"state"`
	Home   string `json:"home"`
}

func (c *cli) artifacts(jobID int64) ([]artifactJSON, result) {
	c.tb.Helper()
	r := c.mustRun("artifacts", strconv.FormatInt(jobID, 10), "-o", "json")
	var rows []artifactJSON
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		c.tb.Fatalf("artifacts -o json: %v\n%s", err, r.stdout)
	}
	return rows, r
}

// checkHome checks that every artifact of job is home, and byte-identical
// to its file in the run dir on the host (here, the same machine).
func checkHome(t *testing.T, c *cli, jobID int64, runDir string) []artifactJSON {
	t.Helper()
	rows, r := c.artifacts(jobID)
	var paths []string
	for _, a := range rows {
		paths = append(paths, a.Path)
		if a.State != "home" {
			t.Errorf("job %d %s: state %s, want home; stderr: %s", jobID, a.Path, a.State, r.stderr)
			continue
		}
		host, err := os.ReadFile(filepath.Join(runDir, a.Path))
		if err != nil {
			t.Fatal(err)
		}
		home, err := os.ReadFile(a.Home)
		if err != nil {
			t.Fatal(err)
		}
		sum, _ := artifacts.HashFile(a.Home)
		if !bytes.Equal(host, home) || sum != a.SHA256 || int64(len(home)) != a.Size {
			t.Errorf("job %d %s: home copy differs from the run dir's (sha256 %s, recorded %s)", jobID, a.Path, sum, a.SHA256)
		}
	}
	want := []string{"artifacts/notes.txt", "model.pt", "plots/loss.png"}
	if !slices.Equal(paths, want) {
		t.Errorf("job %d artifacts %q, want %q (the symlink leak.pt never)", jobID, paths, want)
	}
	return rows
}

// TestArtifactsE2E: a run's artifacts come home byte-identical over a real
// sshd host; fetch copies them out; a run over its cap is refused with
// the reason and its outcome recorded; a glob leaving the run dir is
// refused at submit.
func TestArtifactsE2E(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	scripts := writeScripts(t, c.dir, map[string]string{"art.py": artScript})
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	subs := c.submit(scripts,
		map[string]any{"scriptName": "art.py", "projectName": "a", "size": 3_000_000, "artifacts": []string{"*.pt", "plots/*.png"}},
		map[string]any{"scriptName": "art.py", "projectName": "a", "size": 1_000_000_000, "sparse": true, "artifacts": []string{"*.pt"}, "artifactsCap": "100MB"},
	)
	before := c.statusCounts()
	r := c.run("submit", "--scripts", scripts, mustWrite(t, c.dir, "bad-*.json",
		[]byte(`{"scriptName":"art.py","projectName":"a","size":1,"artifacts":["../*"]}`)))
	if r.code == 0 || !strings.Contains(r.stderr, "leaves the run dir") {
		t.Fatalf("submit of ../*: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if after := c.statusCounts(); after["unassigned"] != before["unassigned"] {
		t.Fatalf("a refused submit changed the queue: %v → %v", before, after)
	}

	c.mustRun(dispatchArgs(hostsFile, scripts, "-v")...)
	dirs := runDirs(t, servers)
	checkHome(t, c, subs[0].JobID, dirs[subs[0].OrderID][1])
	var shown struct {
		Attempts []struct {
			Artifacts struct {
				State string `json:"state"`
				Files []struct {
					Path  string `json:"path"`
					Size  int64  `json:"size"`
					State string `json:"state"`
				} `json:"files"`
			} `json:"artifacts"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal([]byte(c.mustRun("show", strconv.FormatInt(subs[0].JobID, 10), "-o", "json").stdout), &shown); err != nil {
		t.Fatal(err)
	}
	if len(shown.Attempts) != 1 || shown.Attempts[0].Artifacts.State != "done" || len(shown.Attempts[0].Artifacts.Files) != 3 ||
		shown.Attempts[0].Artifacts.Files[1].Path != "model.pt" || shown.Attempts[0].Artifacts.Files[1].Size != 3_000_000 {
		t.Errorf("show -o json: attempts %+v, want the 3 artifacts home", shown.Attempts)
	}
	if r := c.mustRun("show", strconv.FormatInt(subs[0].JobID, 10)); !strings.Contains(r.stdout, "Artifacts of order") || !strings.Contains(r.stdout, "model.pt") {
		t.Errorf("show: no artifacts listed:\n%s", r.stdout)
	}

	out := filepath.Join(c.dir, "out")
	c.mustRun("fetch", strconv.FormatInt(subs[0].JobID, 10), "-o", out)
	for _, p := range []string{"model.pt", "plots/loss.png", "artifacts/notes.txt"} {
		a, _ := os.ReadFile(filepath.Join(out, p))
		b, _ := os.ReadFile(filepath.Join(dirs[subs[0].OrderID][1], p))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("fetch -o: %s is not the run's (%d bytes, want %d)", p, len(a), len(b))
		}
	}

	// Over the cap: nothing copied, the reason given, the outcome kept.
	if o := byJob(t, c.outcomes())[subs[1].JobID]; o.State != "succeeded" {
		t.Errorf("the run over its artifacts cap: outcome %q, want succeeded", o.State)
	}
	rows, r := c.artifacts(subs[1].JobID)
	if !strings.Contains(r.stderr, "over the cap of 100000000 bytes") {
		t.Errorf("artifacts of the run over its cap: stderr %q, want the cap named", r.stderr)
	}
	for _, a := range rows {
		if a.State != "over-cap" {
			t.Errorf("%s: state %s, want over-cap", a.Path, a.State)
		}
	}
	if _, err := os.Stat(filepath.Join(c.dir, "artifacts", strconv.FormatInt(subs[1].JobID, 10), "1", "model.pt")); !os.IsNotExist(err) {
		t.Errorf("a run over its cap left model.pt at home (%v)", err)
	}
	if r := c.run("fetch", strconv.FormatInt(subs[1].JobID, 10), "-o", out); r.code != 1 || !strings.Contains(r.stderr, "not home") {
		t.Errorf("fetch of a run over its cap: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestArtifactsCrashBeforeFetch: the dispatcher dies (as kill -9) after a
// run's outcome is written and before its artifacts are copied; the next
// dispatch, with nothing left to run, fetches them.
func TestArtifactsCrashBeforeFetch(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	scripts := writeScripts(t, c.dir, map[string]string{"art.py": artScript})
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	subs := c.submit(scripts, map[string]any{"scriptName": "art.py", "projectName": "a", "size": 2_000_000, "artifacts": []string{"*.pt", "plots/*.png"}})

	d := c.startDispatch([]string{crashArtifactsEnv + "=" + strconv.FormatInt(subs[0].OrderID, 10)}, dispatchArgs(hostsFile, scripts, "-v")...)
	d.waitKilled(t)
	if o := byJob(t, c.outcomes())[subs[0].JobID]; o.State != "succeeded" {
		t.Fatalf("after the crash: outcome %q, want succeeded (recorded before the crash point)", o.State)
	}
	r := c.mustRun("artifacts", strconv.FormatInt(subs[0].JobID, 10))
	if !strings.Contains(r.stderr, "not all home yet") {
		t.Fatalf("after the crash: artifacts says %q, want them owed", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "artifacts", strconv.FormatInt(subs[0].JobID, 10))); !os.IsNotExist(err) {
		t.Fatalf("something came home before the crash point: %v", err)
	}

	r = c.mustRun(dispatchArgs(hostsFile, scripts, "-v")...)
	if !strings.Contains(r.stderr, "fetching its artifacts") {
		t.Errorf("second dispatch did not fetch the owed artifacts; stderr:\n%s", r.stderr)
	}
	checkHome(t, c, subs[0].JobID, runDirs(t, servers)[subs[0].OrderID][1])
}

// quietScript writes nothing but its Outcome line.
const quietScript = `import json
print(json.dumps({"status": 200, "loss": 1}))
`

// TestArtifactsNoExtraSession: runs that name no artifact globs and leave
// no artifacts/ dir cost no session to list them (the run's result says
// there is no dir); runs that name a glob are listed, one session each.
// Each dispatch has an sshd of its own, whose log counts the sessions.
func TestArtifactsNoExtraSession(t *testing.T) {
	t.Parallel()
	const n = 4
	servers, keys := startHosts(t, 2)
	sessions := map[bool]int{}
	for i, globs := range []bool{false, true} {
		c := newCLI(t)
		scripts := writeScripts(t, c.dir, map[string]string{"q.py": quietScript})
		hostsFile := writeHosts(t, c.dir, servers[i:i+1], keys, hostsOptions{slots: 1})
		jobs := make([]any, n)
		for k := range jobs {
			j := map[string]any{"scriptName": "q.py", "projectName": "q", "x": k}
			if globs {
				j["artifacts"] = []string{"*.pt"}
			}
			jobs[k] = j
		}
		subs := c.submit(scripts, jobs...)
		c.mustRun(dispatchArgs(hostsFile, scripts)...)
		for _, s := range subs {
			rows, r := c.artifacts(s.JobID)
			if len(rows) != 0 || r.code != 0 {
				t.Errorf("globs %v: job %d artifacts %+v (exit %d, %s), want none", globs, s.JobID, rows, r.code, r.stderr)
			}
		}
		sessions[globs] = strings.Count(servers[i].Log(), "Starting session:")
	}
	t.Logf("sessions: %d without globs, %d with", sessions[false], sessions[true])
	if sessions[true]-sessions[false] < n {
		t.Errorf("sessions: %d without globs, %d with: want the runs without globs to save one listing each (%d)",
			sessions[false], sessions[true], n)
	}
}
