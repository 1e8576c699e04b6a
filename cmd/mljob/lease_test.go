package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// holdLease takes the lease name in lockDir from outside mljob (as
// another user's run would hold it) and returns the function that lets it
// go. The holder is a python process blocked on its stdin.
func holdLease(tb testing.TB, lockDir, name string) (release func()) {
	tb.Helper()
	const prog = `import fcntl, os, sys
d, name = sys.argv[1], sys.argv[2]
os.makedirs(d, exist_ok=True)
fd = os.open(os.path.join(d, name), os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b'{"user": "someone-else"}\n')
print("held", flush=True)
sys.stdin.read()
`
	cmd := exec.Command(hostPython, "-c", prog, lockDir, name)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "held\n" {
		tb.Fatalf("lease holder: %q, %v", line, err)
	}
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		stdin.Close()
		io.Copy(io.Discard, stdout)
		cmd.Wait()
	}
	tb.Cleanup(release)
	return release
}

// TestLeaseHeldWaits: the only slot of the only host has its lease held
// by someone else. The dispatch neither fails nor counts an attempt: it
// waits (looking again at each probe) and starts the job once the lease
// is let go, in attempt 1. On the shell path, where the probe cannot see
// leases, each start is refused on the host and the order goes back
// untried.
func TestLeaseHeldWaits(t *testing.T) {
	t.Parallel()
	for _, m := range []struct {
		name  string
		extra []string
	}{
		{"agent", nil},
		{"shell", []string{"--no-agent"}},
	} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			servers, keys := startHosts(t, 1)
			c := newCLI(t)
			hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
			release := holdLease(t, servers[0].LockDir, "slot-0")
			subs := c.submit(c.scripts, echoJobs("held", 1, 0)...)

			d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, append([]string{"-v"}, m.extra...)...)...)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("dispatch stderr:\n%s", d.stderr)
				}
			})
			waitFor(t, "the dispatcher to wait for the lease", time.Minute, func() bool {
				return strings.Contains(d.stderr.String(), "no lease free for us") || d.exited()
			})
			if d.exited() {
				t.Fatalf("dispatch ended while the lease was held; stderr:\n%s", d.stderr)
			}
			if runs, _ := filepath.Glob(filepath.Join(servers[0].Workdir, "runs", "*")); len(runs) != 0 {
				t.Errorf("run dirs %v made while the slot's lease was held", runs)
			}
			release()
			if code := d.wait(t); code != 0 {
				t.Fatalf("dispatch exit %d; stderr:\n%s", code, d.stderr)
			}
			sh := c.show(subs[0].JobID)
			if len(sh.Attempts) != 1 || len(sh.Outcomes) != 1 || sh.Outcomes[0].State != "succeeded" {
				t.Fatalf("job: %d attempts, outcomes %+v; want one attempt, succeeded; stderr:\n%s", len(sh.Attempts), sh.Outcomes, d.stderr)
			}
			if sh.Attempts[0].Attempt != 1 {
				t.Errorf("ran in attempt %d, want 1: a refused start counts no attempt", sh.Attempts[0].Attempt)
			}
		})
	}
}

// leaseFree reports whether no one holds the lease name in lockDir: a
// non-blocking flock from a process of its own.
func leaseFree(tb testing.TB, lockDir, name string) bool {
	tb.Helper()
	const prog = `import fcntl, os, sys
fd = os.open(os.path.join(sys.argv[1], sys.argv[2]), os.O_RDONLY)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    print("held")
else:
    print("free")
`
	out, err := exec.Command(hostPython, "-c", prog, lockDir, name).CombinedOutput()
	if err != nil {
		tb.Fatalf("flock %s: %v\n%s", name, err, out)
	}
	return strings.TrimSpace(string(out)) == "free"
}

// TestLeaseHeldByRun: while a run goes on, its slot's lease is held on
// the host (by its wrapper: the dispatcher's session has nothing to do
// with it), and it is free once the run has ended; on the agent path and
// on the shell path alike.
func TestLeaseHeldByRun(t *testing.T) {
	t.Parallel()
	for _, m := range []struct {
		name  string
		extra []string
	}{
		{"agent", nil},
		{"shell", []string{"--no-agent"}},
	} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			servers, keys := startHosts(t, 1)
			c := newCLI(t)
			hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
			c.submit(c.scripts, echoJobs("hold", 1, 60)...)
			d := c.startDispatch(nil, dispatchArgs(hostsFile, c.scripts, append([]string{"-v"}, m.extra...)...)...)
			waitFor(t, "the run to be live", time.Minute, func() bool { return c.statusCounts()["running"] == 1 })
			if leaseFree(t, servers[0].LockDir, "slot-0") {
				t.Errorf("slot-0's lease is free while its run goes on")
			}
			d.kill9(t) // the run is detached: it keeps its lease
			if leaseFree(t, servers[0].LockDir, "slot-0") {
				t.Errorf("slot-0's lease is free once the dispatcher is gone, while its run goes on")
			}
			c.mustRun("cancel", "--project", "hold", "--hosts", hostsFile)
			c.mustRun(dispatchArgs(hostsFile, c.scripts, m.extra...)...)
			// The wrapper writes the exit code just before it exits, and
			// with it goes the lease.
			waitFor(t, "slot-0's lease to be free once the run ended", time.Minute, func() bool {
				return leaseFree(t, servers[0].LockDir, "slot-0")
			})
		})
	}
}

// TestLocalGPUs: dispatch --gpus 0,1 on this machine (no hosts file, a
// lock dir of the test's own) runs one job per GPU, each seeing its GPU
// in CUDA_VISIBLE_DEVICES, never two at once on one GPU; a "gpus": 2 job
// sees both; each run held its GPU's lease file in the lock dir, free
// once the dispatch is over. --gpus with --slots is a usage error.
func TestLocalGPUs(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	lockDir := filepath.Join(c.dir, "locks")
	scripts := writeScripts(t, c.dir, map[string]string{"timeline.py": timelinePy})
	timeline := filepath.Join(c.dir, "timeline")
	if err := os.MkdirAll(timeline, 0o777); err != nil {
		t.Fatal(err)
	}
	jobs := timelineJobs("a", timeline, 5, 0.3)
	jobs[4].(map[string]any)["gpus"] = 2
	subs := c.submit(scripts, jobs...)
	if r := c.run("dispatch", "--gpus", "0,1", "--slots", "2", "--scripts", scripts); r.code != 2 || !strings.Contains(r.stderr, "not both") {
		t.Errorf("--gpus with --slots: exit %d, stderr %q; want 2 and a usage error", r.code, r.stderr)
	}
	r := c.mustRun("dispatch", "--python", hostPython, "--gpus", "0,1", "--lock-dir", lockDir, "--scripts", scripts, "--poll", e2ePoll, "-v")
	oneOutcomeEach(t, c, subs, "a")
	files, err := filepath.Glob(filepath.Join(timeline, "*.json"))
	if err != nil || len(files) != 5 {
		t.Fatalf("%d runs recorded (%v), want 5; stderr:\n%s", len(files), err, r.stderr)
	}
	var spans []span
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var s span
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		want := []string{"0", "1"}
		if s.X == 4 {
			want = []string{"0,1", "1,0"}
		}
		if s.GPUs == nil || !slices.Contains(want, *s.GPUs) {
			t.Errorf("run %d saw CUDA_VISIBLE_DEVICES=%v, want one of %v", s.X, s.GPUs, want)
			continue
		}
		spans = append(spans, s)
	}
	for i, a := range spans {
		for _, b := range spans[:i] {
			if a.StartRaw < b.EndRaw && b.StartRaw < a.EndRaw && strings.ContainsAny(*a.GPUs, *b.GPUs) {
				t.Errorf("runs %d (%s) and %d (%s) overlapped on a GPU", a.X, *a.GPUs, b.X, *b.GPUs)
			}
		}
	}
	for _, g := range []string{"gpu-0", "gpu-1"} {
		data, err := os.ReadFile(filepath.Join(lockDir, g))
		if err != nil || !strings.Contains(string(data), `"job":`) {
			t.Errorf("lease file %s: %q, %v; want its last holder", g, data, err)
		}
		if !leaseFree(t, lockDir, g) {
			t.Errorf("lease %s still held after the dispatch", g)
		}
	}
}
