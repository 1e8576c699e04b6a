package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
	script := "import json, sys\nimport numpy\nprint(json.dumps({'loss': float(numpy.float64(json.loads(sys.argv[1])['x']))}))\n"
	if err := os.WriteFile(filepath.Join(scripts, "npjob.py"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	subs := c.submit(scripts,
		map[string]any{"scriptName": "npjob.py", "projectName": "env", "x": 1},
		map[string]any{"scriptName": "npjob.py", "projectName": "env", "x": 2})
	c.mustRun(dispatchArgs(hostsFile, scripts)...)

	want := envFromPython(t)
	hashes := map[string]bool{}
	for _, s := range subs {
		r := c.mustRun("show", fmt.Sprint(s.JobID), "-o", "json")
		var shown struct {
			Environments []struct {
				Hash string `json:"envHash"`
				Env  struct {
					Python  string            `json:"python"`
					Modules map[string]string `json:"modules"`
					Host    string            `json:"host"`
				} `json:"environment"`
			} `json:"environments"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil {
			t.Fatalf("show %d -o json: %v\n%s", s.JobID, err, r.stdout)
		}
		if len(shown.Environments) != 1 {
			t.Fatalf("job %d: %d environments, want 1:\n%s", s.JobID, len(shown.Environments), r.stdout)
		}
		e := shown.Environments[0]
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
