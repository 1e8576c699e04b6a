package sshworker_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mljob/mljob/internal/run"
)

// burnChild is a script that burns 2 s of CPU in a child process (a new
// interpreter, which the script waits for) and does next to nothing itself.
const burnChild = `import subprocess, sys
subprocess.run([sys.executable, "-c", """
import time
t = time.process_time()
while time.process_time() - t < 2.0:
    pass
"""], check=True)
print('{"loss": 1}')
`

// burnOrphan burns 2 s of CPU in an orphan: a grandchild in a session of
// its own whose parent exits at once, so the wrapper (a subreaper) inherits
// and reaps it. The script waits until the orphan is gone (reaped: kill 0
// fails), so that it was reaped before the script ended.
const burnOrphan = `import os, subprocess, sys, time
r, w = os.pipe()
mid = os.fork()
if mid == 0:
    g = subprocess.Popen([sys.executable, "-c", """
import time
t = time.process_time()
while time.process_time() - t < 2.0:
    pass
"""], start_new_session=True)
    os.write(w, b"%d" % g.pid)
    os._exit(0)
os.waitpid(mid, 0)
orphan = int(os.read(r, 32))
while True:
    try:
        os.kill(orphan, 0)
    except ProcessLookupError:
        break
    time.sleep(0.05)
print('{"loss": 1}')
`

// TestCostCountsOrphanCPU checks that an orphan's CPU counts: the wrapper
// reaps it as a subreaper, by the shell path and through the agent.
func TestCostCountsOrphanCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("burns 2 s of CPU per start path; skipped with -short")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "orphan.py")
	if err := os.WriteFile(script, []byte(burnOrphan), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, agent := range []bool{false, true} {
		t.Run(map[bool]string{false: "shell", true: "agent"}[agent], func(t *testing.T) {
			h, _ := localHost(t)
			if agent {
				h.EnableAgent(hostPython, false, func(msg string) { t.Errorf("agent not used: %s", msg) })
				t.Cleanup(h.StopAgent)
			}
			res, err := h.Run(context.Background(), run.Spec{
				ID:         nextID(),
				Files:      []run.File{fileOf(t, "orphan.py", script)},
				Input:      run.Input{Name: "job.json", Data: []byte(`{}`)},
				Argv:       []string{hostPython, "-u", "orphan.py"},
				ArgFile:    "job.json",
				StdoutTail: 1 << 16,
				StderrTail: 1 << 16,
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != 0 || res.Cost == nil {
				t.Fatalf("exit %d, cost %+v; stderr %q", res.ExitCode, res.Cost, res.Stderr)
			}
			t.Logf("cost: wall %.3f s, cpu %.3f s", res.Cost.WallSeconds, res.Cost.CPUSeconds())
			if cpu := res.Cost.CPUSeconds(); math.Abs(cpu-2) > 0.2 {
				t.Errorf("CPU %.3f s, want the orphan's 2 s ± 10 %%", cpu)
			}
		})
	}
}

// TestCostCountsChildCPU is the proof that a run's CPU-seconds count its
// process tree: a script whose child burns 2 s of CPU reads 2 s ± 10 %,
// through the real wrapper, by every way a run starts (the agent, warm and
// cold, and the shell path), here and over sshd.
func TestCostCountsChildCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("burns 2 s of CPU per start path; skipped with -short")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "burn.py")
	if err := os.WriteFile(script, []byte(burnChild), 0o644); err != nil {
		t.Fatal(err)
	}
	transports := []struct {
		name    string
		newHost func(t *testing.T) hostFactory
	}{
		{"local", func(*testing.T) hostFactory { return localHost }},
		{"sshd", sshHosts},
	}
	starts := []struct {
		name  string
		agent bool
		warm  bool
	}{
		{"shell", false, false},
		{"agent cold", true, false},
		{"agent warm", true, true},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			newHost := tr.newHost(t)
			for _, st := range starts {
				t.Run(st.name, func(t *testing.T) {
					h, _ := newHost(t)
					if st.agent {
						h.EnableAgent(hostPython, st.warm, func(msg string) { t.Errorf("agent not used: %s", msg) })
						t.Cleanup(h.StopAgent)
					}
					spec := run.Spec{
						ID:         nextID(),
						Files:      []run.File{fileOf(t, "burn.py", script)},
						Input:      run.Input{Name: "job.json", Data: []byte(`{}`)},
						Argv:       []string{hostPython, "-u", "burn.py"},
						ArgFile:    "job.json",
						StdoutTail: 1 << 16,
						StderrTail: 1 << 16,
					}
					res, err := h.Run(context.Background(), spec, nil)
					if err != nil {
						t.Fatal(err)
					}
					if res.ExitCode != 0 || res.Cost == nil {
						t.Fatalf("exit %d, cost %+v; stderr %q", res.ExitCode, res.Cost, res.Stderr)
					}
					c := *res.Cost
					t.Logf("cost: wall %.3f s, cpu %.3f s (user %.3f, sys %.3f), peak rss %d B",
						c.WallSeconds, c.CPUSeconds(), c.UserSeconds, c.SysSeconds, c.MaxRSSBytes)
					if math.Abs(c.CPUSeconds()-2) > 0.2 {
						t.Errorf("CPU %.3f s, want 2 s ± 10 %%", c.CPUSeconds())
					}
					// One thread burnt 2 s of CPU: the wall cannot be shorter.
					if c.WallSeconds < 2 {
						t.Errorf("wall %.3f s, want at least the child's 2 s of CPU", c.WallSeconds)
					}
					if c.MaxRSSBytes <= 0 || c.GPUs != 0 {
						t.Errorf("peak RSS %d, GPUs %d: want a positive RSS and no GPU", c.MaxRSSBytes, c.GPUs)
					}
				})
			}
		})
	}
}

// TestCostGPUs checks the GPUs a run holds are those of its
// CUDA_VISIBLE_DEVICES, and that a run that fails still has its cost.
func TestCostGPUs(t *testing.T) {
	tests := []struct {
		name, devices string
		set           bool
		want          int
	}{
		{name: "unset", want: 0},
		{name: "one", devices: "3", set: true, want: 1},
		{name: "two", devices: "0,1", set: true, want: 2},
		{name: "hidden", devices: "-1", set: true, want: 0},
		{name: "empty", devices: "", set: true, want: 0},
		{name: "stops at a bad id", devices: "0,-1,2", set: true, want: 1},
	}
	h, _ := localHost(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := shSpec(t, nextID(), `exit 3`)
			if tt.set {
				spec.Env = []string{"CUDA_VISIBLE_DEVICES=" + tt.devices}
			}
			res, err := h.Run(context.Background(), spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != 3 || res.Cost == nil {
				t.Fatalf("exit %d, cost %+v: want 3 and a cost", res.ExitCode, res.Cost)
			}
			if res.Cost.GPUs != tt.want {
				t.Errorf("GPUs %d, want %d", res.Cost.GPUs, tt.want)
			}
			if got, want := res.Cost.GPUSeconds(), float64(tt.want)*res.Cost.WallSeconds; got != want {
				t.Errorf("GPU-seconds %v, want %v", got, want)
			}
		})
	}
}
