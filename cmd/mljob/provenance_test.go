package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/slurmtest"
)

// TestE2EEnvironmentOverSSH: a run on an sshd host is linked to the
// environment that host's python reported: its version, the version of
// the module the script imports, and the host's name; the two runs share
// one stored environment, and show's text prints it.
func TestE2EEnvironmentOverSSH(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	scripts := filepath.Join(c.dir, "scripts")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scripts, "npjob.py"), []byte(npScript), 0o644); err != nil {
		t.Fatal(err)
	}
	subs := c.submit(scripts,
		map[string]any{"scriptName": "npjob.py", "projectName": "env", "x": 1},
		map[string]any{"scriptName": "npjob.py", "projectName": "env", "x": 2})
	c.mustRun(dispatchArgs(hostsFile, scripts)...)

	want := envFromPython(t)
	hashes := map[string]bool{}
	for _, s := range subs {
		e := c.environment(s.JobID)
		hashes[e.Hash] = true
		if e.Env.Python != want.Python {
			t.Errorf("job %d: python %q, the host's is %q", s.JobID, e.Env.Python, want.Python)
		}
		if got := e.Env.Modules["numpy"]; got != want.Numpy {
			t.Errorf("job %d: numpy %q, the host's is %q", s.JobID, got, want.Numpy)
		}
		if e.Env.Host != want.Host {
			t.Errorf("job %d: host %q, want %q", s.JobID, e.Env.Host, want.Host)
		}
	}
	if len(hashes) != 1 {
		t.Errorf("two runs in one environment stored as %d environments", len(hashes))
	}
	text := c.mustRun("show", fmt.Sprint(subs[0].JobID)).stdout
	if !strings.Contains(text, "numpy "+want.Numpy) {
		t.Errorf("show's text does not give numpy %s:\n%s", want.Numpy, text)
	}
}

// TestSlurmEnvironment: a Slurm run records the environment its task
// reported on its node, not the login node's: python's version and the
// version of the module the script imports as /usr/bin/python3 gives
// them, and the node's host name (the .node its task wrote). The report
// is a file of the run dir, made on the node before the script started.
func TestSlurmEnvironment(t *testing.T) {
	t.Parallel()
	cluster := slurmtest.Start(t, slurmtest.Options{CPUs: 2})
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	scripts := writeScripts(t, c.dir, map[string]string{"npjob.py": npScript})
	entry := slurmEntry{login: servers[0], cluster: cluster, workdir: filepath.Join(c.dir, "shared"), slots: 2}
	hostsFile := writeMixedHosts(t, c.dir, nil, keys, entry)
	subs := c.submit(scripts,
		map[string]any{"scriptName": "npjob.py", "projectName": "slurm-env", "x": 1},
		map[string]any{"scriptName": "npjob.py", "projectName": "slurm-env", "x": 2})
	c.mustRun(dispatchArgs(hostsFile, scripts, "-v")...)

	want := envFromPython(t)
	for _, s := range subs {
		a := c.show(s.JobID).Attempts
		if len(a) != 1 || a[0].Host != "campus" {
			t.Fatalf("job %d: attempts %+v, want one on campus", s.JobID, a)
		}
		node, err := os.ReadFile(filepath.Join(a[0].RunDir, ".node"))
		if err != nil {
			t.Fatalf("job %d: the task wrote no .node: %v", s.JobID, err)
		}
		if _, err := os.Stat(filepath.Join(a[0].RunDir, ".env.json")); err != nil {
			t.Errorf("job %d: the task left no environment report in its run dir: %v", s.JobID, err)
		}
		e := c.environment(s.JobID)
		if e.Env.Python != want.Python {
			t.Errorf("job %d: python %q, the node's is %q", s.JobID, e.Env.Python, want.Python)
		}
		if got := e.Env.Modules["numpy"]; got != want.Numpy {
			t.Errorf("job %d: numpy %q, the node's is %q", s.JobID, got, want.Numpy)
		}
		if h := strings.TrimSpace(string(node)); e.Env.Host != h {
			t.Errorf("job %d: host %q, want the node's %q", s.JobID, e.Env.Host, h)
		}
	}
}

// npScript imports numpy at module level: its runs' environments name
// numpy's version.
const npScript = "import json, sys\nimport numpy\nprint(json.dumps({'loss': float(numpy.float64(json.loads(sys.argv[1])['x']))}))\n"

// shownEnv is one environment of show -o json.
type shownEnv struct {
	Hash string `json:"envHash"`
	Env  struct {
		Python  string            `json:"python"`
		Modules map[string]string `json:"modules"`
		Host    string            `json:"host"`
	} `json:"environment"`
}

// environment is the one environment show -o json gives for jobID's runs.
func (c *cli) environment(jobID int64) shownEnv {
	c.tb.Helper()
	r := c.mustRun("show", fmt.Sprint(jobID), "-o", "json")
	var shown struct {
		Environments []shownEnv `json:"environments"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil {
		c.tb.Fatalf("show %d -o json: %v\n%s", jobID, err, r.stdout)
	}
	if len(shown.Environments) != 1 {
		c.tb.Fatalf("job %d: %d environments, want 1:\n%s", jobID, len(shown.Environments), r.stdout)
	}
	return shown.Environments[0]
}

// hostEnv is what the test hosts' python says of itself (they are this
// machine).
type hostEnv struct {
	Python, Numpy, Host string
}

// envFromPython asks hostPython for its version, numpy's and the host name.
func envFromPython(tb testing.TB) hostEnv {
	tb.Helper()
	out, err := exec.Command(hostPython, "-c", "import platform, socket, numpy; print(platform.python_version()); print(numpy.__version__); print(socket.gethostname())").Output()
	if err != nil {
		tb.Fatalf("%s: %v", hostPython, err)
	}
	f := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(f) != 3 {
		tb.Fatalf("%s printed %q", hostPython, out)
	}
	return hostEnv{Python: f[0], Numpy: f[1], Host: f[2]}
}
