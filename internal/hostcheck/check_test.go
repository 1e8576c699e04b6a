package hostcheck

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/sshtest"
	"github.com/mljob/mljob/internal/testdep"
)

// hostPython sees Debian's python3-* packages; the python3 first on PATH
// may be a build that sees none of them.
const hostPython = "/usr/bin/python3"

// closedPort returns a loopback port nothing listens on.
func closedPort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		tb.Fatal(err)
	}
	return port
}

func sshHost(s *sshtest.Server, keys sshtest.Keys, knownHosts string) hosts.Host {
	return hosts.Host{
		Name: s.Name, Kind: hosts.KindSSH, Address: s.Host, Port: s.Port, User: keys.User,
		IdentityFile: keys.IdentityFile, KnownHosts: []string{knownHosts}, Python: hostPython,
		Workdir: filepath.Join(s.Workdir, "mljob"), LockDir: s.LockDir, Slots: 1, ConnectTimeout: 5 * time.Second,
	}
}

// mustWriteFile writes data to name in dir and returns its path.
func mustWriteFile(tb testing.TB, dir, name, data string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestCheckSSHHosts checks a healthy host and three broken ones, each
// broken one way, against real sshd daemons in one parallel Check.
func TestCheckSSHHosts(t *testing.T) {
	servers, keys := sshtest.Start(t, 3, sshtest.Options{SkipBashrc: true})
	dir := t.TempDir()
	// known_hosts without host2: its key is unknown.
	partial := mustWriteFile(t, dir, "known_hosts", servers[0].KnownHostsLine+"\n"+servers[2].KnownHostsLine+"\n")

	healthy := sshHost(servers[0], keys, partial)
	unknownKey := sshHost(servers[1], keys, partial)
	noPython := sshHost(servers[2], keys, partial)
	noPython.Python = "/nonexistent/bin/python3"
	down := sshHost(servers[0], keys, partial)
	down.Name, down.Port = "down", closedPort(t)

	opts := Options{Imports: []pyexec.Import{{Module: "json", Scripts: []string{"a.py"}}}, Timeout: 20 * time.Second, HostsFile: "hosts.yaml"}
	reports := Check(context.Background(), []hosts.Host{healthy, unknownKey, noPython, down}, opts)

	tests := []struct {
		name      string
		verdict   Verdict
		hostKey   string
		auth      string
		reachable bool
		problem   string // substring of the one problem; "" for none
		fix       string // substring of its fix
	}{
		{name: "host1", verdict: OK, hostKey: "ok", auth: "identity-file", reachable: true},
		{name: "host2", verdict: Fail, hostKey: "unknown", reachable: true,
			problem: "unknown host key", fix: "ssh-keyscan -p " + itoa(servers[1].Port)},
		{name: "host3", verdict: Fail, hostKey: "ok", auth: "identity-file", reachable: true,
			problem: "python /nonexistent/bin/python3 not found", fix: "set python in hosts.yaml"},
		{name: "down", verdict: Fail, problem: "unreachable", fix: "is sshd running on 127.0.0.1:" + itoa(down.Port)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reports[i]
			if r.Host != tt.name || r.Verdict != tt.verdict || r.HostKey != tt.hostKey || r.Auth != tt.auth || r.Reachable != tt.reachable {
				t.Errorf("got host %s verdict %s key %q auth %q reachable %v; want %s %s %q %q %v (problems %+v)",
					r.Host, r.Verdict, r.HostKey, r.Auth, r.Reachable, tt.name, tt.verdict, tt.hostKey, tt.auth, tt.reachable, r.Problems)
			}
			if tt.problem == "" {
				if len(r.Problems) != 0 {
					t.Errorf("problems %+v, want none", r.Problems)
				}
				return
			}
			if len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Problem, tt.problem) || !strings.Contains(r.Problems[0].Fix, tt.fix) {
				t.Errorf("problems %+v; want one with %q, fix %q", r.Problems, tt.problem, tt.fix)
			}
		})
	}

	h := reports[0]
	if h.PythonPath != hostPython || !strings.HasPrefix(h.PythonVersion, "3.") || h.Load == nil || h.Free == nil ||
		h.Exists || h.DiskPath != servers[0].Workdir || h.CPUs < 1 {
		t.Errorf("healthy host details: %+v", h)
	}
	if len(h.Imports) != 0 {
		t.Errorf("imports %v: json is standard and should not be checked", h.Imports)
	}
}

// TestCheckMissingImport: a module the scripts need that the host's Python
// lacks fails the host, and the fix names the package.
func TestCheckMissingImport(t *testing.T) {
	h := hosts.LocalHost(1, hostPython, filepath.Join(t.TempDir(), "work"))
	imports := []pyexec.Import{
		{Module: "mljob_no_such_module", Scripts: []string{"train.py"}},
		{Module: "json", Scripts: []string{"train.py"}},
	}
	r := CheckHost(context.Background(), h, Options{Imports: imports})
	if r.Verdict != Fail || r.Auth != "local" || r.HostKey != "local" {
		t.Fatalf("verdict %s auth %q key %q, want FAIL local local", r.Verdict, r.Auth, r.HostKey)
	}
	if want := map[string]bool{"mljob_no_such_module": false}; !reflect.DeepEqual(r.Imports, want) {
		t.Errorf("imports %v, want %v", r.Imports, want)
	}
	if len(r.Problems) != 1 {
		t.Fatalf("problems %+v, want 1", r.Problems)
	}
	p := r.Problems[0]
	if !strings.Contains(p.Problem, "cannot import mljob_no_such_module (needed by train.py)") ||
		!strings.Contains(p.Fix, "mljob-no-such-module") && !strings.Contains(p.Fix, "pip install mljob_no_such_module") {
		t.Errorf("problem %+v", p)
	}
}

// TestCheckLocal: this machine with its Debian Python passes, with the
// repository's scripts' imports.
func TestCheckLocal(t *testing.T) {
	imports, err := pyexec.ScriptImports(filepath.Join("..", "..", "python-scripts"))
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "work")
	r := CheckHost(context.Background(), hosts.LocalHost(1, hostPython, work), Options{Imports: imports})
	if r.Verdict != OK {
		t.Fatalf("verdict %s, problems %+v", r.Verdict, r.Problems)
	}
	if !r.Imports["torch"] || !r.Imports["sklearn"] || r.Exists || r.DiskPath != filepath.Dir(work) {
		t.Errorf("report %+v", r)
	}
}

// TestCheckLocalNoPython: a --python that does not exist fails with a fix
// naming --python.
func TestCheckLocalNoPython(t *testing.T) {
	r := CheckHost(context.Background(), hosts.LocalHost(1, "/nonexistent/python3", t.TempDir()), Options{})
	if r.Verdict != Fail || len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Fix, "--python") {
		t.Fatalf("verdict %s problems %+v", r.Verdict, r.Problems)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestCheckGPUsAndModules: an entry listing more gpus than nvidia-smi shows
// (a fake one on PATH lists one) FAILs; the scripts' modules come with
// their versions, found with the entry's env (a PYTHONPATH), and torch,
// with nvidia-smi there, says whether it sees CUDA.
func TestCheckGPUsAndModules(t *testing.T) {
	testdep.SkipShort(t, "torch imported for its CUDA answer (seconds each)")
	dir := t.TempDir()
	bin, mods := filepath.Join(dir, "bin"), filepath.Join(dir, "mods")
	for path, src := range map[string]string{
		filepath.Join(bin, "nvidia-smi"):        "#!/bin/sh\necho '0, Fake GPU, 16384, 3'\n",
		filepath.Join(mods, "mljob_env_mod.py"): "",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	imports := []pyexec.Import{
		{Module: "numpy", Scripts: []string{"train.py"}},
		{Module: "torch", Scripts: []string{"train.py"}},
		{Module: "mljob_env_mod", Scripts: []string{"train.py"}},
	}
	tests := []struct {
		name     string
		gpus     []string
		verdict  Verdict
		problems []string // in order
	}{
		{"more gpus than shown", []string{"0", "1"}, Fail, []string{"gpus [0 1] configured but nvidia-smi lists 1", "gpus [0 1] configured but torch sees no CUDA device"}},
		{"as many as shown", []string{"0"}, Warn, []string{"gpus [0] configured but torch sees no CUDA device"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hosts.LocalHost(1, hostPython, filepath.Join(dir, "work"))
			h.GPUs = tt.gpus
			h.Env = []hosts.EnvVar{{Key: "PYTHONPATH", Value: mods}}
			r := CheckHost(context.Background(), h, Options{Imports: imports, Timeout: 2 * time.Minute})
			ok := r.Verdict == tt.verdict && len(r.Problems) == len(tt.problems)
			for i := 0; ok && i < len(tt.problems); i++ {
				ok = strings.Contains(r.Problems[i].Problem, tt.problems[i])
			}
			if !ok {
				t.Errorf("verdict %s, problems %+v; want %s with %q", r.Verdict, r.Problems, tt.verdict, tt.problems)
			}
			for _, m := range []string{"numpy", "torch"} {
				if st := r.Modules[m]; !st.Found || st.Version == "" {
					t.Errorf("%s: %+v, want found with a version", m, st)
				}
			}
			if !r.Modules["mljob_env_mod"].Found {
				t.Errorf("mljob_env_mod: %+v, want found on the entry's PYTHONPATH", r.Modules["mljob_env_mod"])
			}
			if r.CUDA == nil || r.CUDA.Available || len(r.GPUs) != 1 {
				t.Errorf("cuda %+v, gpus %+v; want torch's answer (no CUDA here) and nvidia-smi's one GPU", r.CUDA, r.GPUs)
			}
		})
	}
}
