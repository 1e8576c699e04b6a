package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/hostcheck"
	"github.com/mljob/mljob/internal/sshtest"
)

// fancyScripts writes a scripts dir whose needs.py imports
// mljob_fancy_mod, a module found only on a PYTHONPATH holding the
// returned mods dir, and prints an outcome.
func fancyScripts(tb testing.TB, dir string) (scripts, mods string) {
	tb.Helper()
	scripts, mods = filepath.Join(dir, "scripts"), filepath.Join(dir, "mods")
	for path, src := range map[string]string{
		filepath.Join(scripts, "needs.py"):        "import json\nimport sys\nimport mljob_fancy_mod\n\nprint(json.dumps({\"status\": 200, \"loss\": mljob_fancy_mod.LOSS}))\n",
		filepath.Join(mods, "mljob_fancy_mod.py"): "LOSS = 0.25\n",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return scripts, mods
}

// runDirsIn lists the run dirs under a host's workdir.
func runDirsIn(tb testing.TB, workdir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(filepath.Join(workdir, "runs"))
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestDispatchChecksImports: a host whose python lacks a module the
// script imports is refused for that script before anything runs there:
// alone, the dispatch exits 1 with the fix (python: in the hosts file) and
// the jobs stay queued, untried; beside a host that has the module, every
// job runs on the good host and none on the bad one.
func TestDispatchChecksImports(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 2)
	c := newCLI(t)
	scripts, mods := fancyScripts(t, c.dir)
	good, bad := servers[0], servers[1]
	var b strings.Builder
	writeDefaults(&b, keys, keys.KnownHosts)
	fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    workdir: %q\n    lock_dir: %q\n    slots: 2\n    env: {PYTHONPATH: %q}\n", good.Name, good.Host, good.Port, good.Workdir, good.LockDir, mods)
	fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    workdir: %q\n    lock_dir: %q\n    slots: 2\n", bad.Name, bad.Host, bad.Port, bad.Workdir, bad.LockDir)
	both := mustWrite(t, c.dir, "hosts-*.yaml", []byte(b.String()))
	b.Reset()
	writeDefaults(&b, keys, keys.KnownHosts)
	fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    workdir: %q\n    lock_dir: %q\n    slots: 2\n", bad.Name, bad.Host, bad.Port, bad.Workdir, bad.LockDir)
	badOnly := mustWrite(t, c.dir, "hosts-*.yaml", []byte(b.String()))

	const n = 6
	jobs := make([]any, n)
	for i := range jobs {
		jobs[i] = map[string]any{"scriptName": "needs.py", "projectName": "fancy", "i": i}
	}
	subs := c.submit(scripts, jobs...)

	r := c.run(dispatchArgs(badOnly, scripts, "--plain")...)
	for _, want := range []string{
		"host2 cannot run needs.py: " + hostPython,
		"cannot import mljob_fancy_mod",
		"Try: set python: in host2's entry of the hosts file (line ",
		"6 order(s) wait for needs.py",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("dispatch on the bad host: stderr lacks %q", want)
		}
	}
	if r.code != 1 {
		t.Errorf("dispatch on the bad host: exit %d, want 1", r.code)
	}
	if t.Failed() {
		t.Fatalf("stderr:\n%s", r.stderr)
	}
	if got := c.statusCounts(); got["unassigned"] != n {
		t.Errorf("after the refusal: counts %v, want %d unassigned", got, n)
	}
	for _, s := range subs {
		if sh := c.show(s.JobID); len(sh.Attempts) != 0 || len(sh.Outcomes) != 0 {
			t.Errorf("job %d: attempts %+v, outcomes %+v; want none", s.JobID, sh.Attempts, sh.Outcomes)
		}
	}
	if dirs := runDirsIn(t, bad.Workdir); len(dirs) != 0 {
		t.Errorf("run dirs on the refused host: %v", dirs)
	}

	r = c.mustRun(dispatchArgs(both, scripts, "--plain")...)
	rows := c.outcomes()
	if len(rows) != n {
		t.Fatalf("%d outcomes, want %d\nstderr:\n%s", len(rows), n, r.stderr)
	}
	for _, o := range rows {
		if o.State != "succeeded" || o.Host != good.Name || o.Loss == nil || *o.Loss != 0.25 {
			t.Errorf("job %d: %s on %s, loss %v, error %q; want succeeded on %s with loss 0.25", o.JobID, o.State, o.Host, o.Loss, o.Error, good.Name)
		}
	}
	if dirs := runDirsIn(t, bad.Workdir); len(dirs) != 0 {
		t.Errorf("run dirs on the refused host: %v", dirs)
	}
}

// TestDispatchLocalChecksImports: without --hosts, this machine gets the
// same check: a --python that lacks the script's module runs nothing, the
// dispatch says to name another --python, and the job stays queued.
func TestDispatchLocalChecksImports(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	scripts, _ := fancyScripts(t, c.dir)
	subs := c.submit(scripts, map[string]any{"scriptName": "needs.py", "projectName": "fancy"})
	r := c.run("dispatch", "--scripts", scripts, "--python", hostPython, "--poll", e2ePoll, "--plain")
	for _, want := range []string{
		"host local cannot run needs.py: " + hostPython,
		"cannot import mljob_fancy_mod",
		"with --python PATH (or MLJOB_PYTHON, or python: in mljob's config file)",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	if sh := c.show(subs[0].JobID); len(sh.Attempts) != 0 || len(sh.Outcomes) != 0 {
		t.Errorf("attempts %+v, outcomes %+v; want none", sh.Attempts, sh.Outcomes)
	}
	if got := c.statusCounts(); got["unassigned"] != 1 {
		t.Errorf("counts %v, want 1 unassigned", got)
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}
}

// TestHostsCheckModulesAndGPUs: hosts check shows the version of each
// module the scripts import and, with nvidia-smi there, whether torch sees
// CUDA; a host listing
// more gpus than nvidia-smi shows (a fake nvidia-smi on the sshd host's
// PATH lists one) FAILs, one listing as many does not.
func TestHostsCheckModulesAndGPUs(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	bin := filepath.Join(c.dir, "fakebin")
	if err := os.MkdirAll(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	smi := "#!/bin/sh\necho '0, Fake GPU 16GB, 16384, 3'\n"
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(smi), 0o700); err != nil {
		t.Fatal(err)
	}
	servers, keys := sshtest.Start(t, 2, sshtest.Options{SkipBashrc: true, Env: []string{"PATH=" + bin + ":/usr/bin:/bin"}})
	hostsFile := writeHosts(t, c.dir, servers[:1], keys, hostsOptions{gpus: []string{"0", "1"}})
	one := writeHosts(t, c.dir, servers[1:], keys, hostsOptions{gpus: []string{"0"}})

	// Importing torch for CUDA takes seconds, many on a loaded machine.
	const timeout = "90s"
	r := c.run("hosts", "check", "--hosts", hostsFile, "--scripts", c.scripts, "--timeout", timeout, "-o", "json")
	// The fields read, spelled as in the JSON: hostcheck.Report.
	type report struct {
		Verdict hostcheck.Verdict `json:"verdict"`
		GPUs    []hostcheck.GPU   `json:"gpus"`
		Modules map[string]struct {
			Found   bool   `json:"found"`
			Version string `json:"version"`
		} `json:"modules"`
		CUDA *struct {
			Available bool `json:"available"`
		} `json:"cuda"`
		Problems []hostcheck.Problem `json:"problems"`
	}
	var reports []report
	if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil || len(reports) != 1 {
		t.Fatalf("json: %v\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	rep := reports[0]
	if r.code != 1 || rep.Verdict != hostcheck.Fail || len(rep.GPUs) != 1 {
		t.Errorf("two gpus listed, one shown: exit %d, verdict %s, gpus %+v; want 1, FAIL, one", r.code, rep.Verdict, rep.GPUs)
	}
	for _, m := range []string{"numpy", "pandas", "sklearn", "torch"} {
		if st, ok := rep.Modules[m]; !ok || !st.Found || st.Version == "" {
			t.Errorf("module %s: %+v, want found with a version", m, st)
		}
	}
	if rep.CUDA == nil || rep.CUDA.Available {
		t.Errorf("cuda %+v, want torch's answer: not available (no GPU here)", rep.CUDA)
	}

	r = c.run("hosts", "check", "--hosts", hostsFile, "--scripts", c.scripts, "--timeout", timeout)
	for _, re := range []string{
		`(?m)^host1: gpus \[0 1\] configured but nvidia-smi lists 1 — list only the GPUs the host has in `,
		`numpy \d\S*, pandas \d\S*, sklearn \d\S*, torch \d\S*`,
		`1x Fake GPU 16GB · torch: no CUDA`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("table output does not match %s:\n%s", re, r.stdout)
		}
	}

	r = c.run("hosts", "check", "--hosts", one, "--scripts", c.scripts, "--timeout", timeout, "-o", "json")
	reports = nil
	if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil || len(reports) != 1 {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	if rep := reports[0]; r.code != 0 || rep.Verdict == hostcheck.Fail {
		t.Errorf("one gpu listed, one shown: exit %d, verdict %s, problems %+v; want no FAIL", r.code, rep.Verdict, rep.Problems)
	}
}
