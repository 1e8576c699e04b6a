package hostcheck

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/hosts"
)

// fakeSMI puts an nvidia-smi on PATH that answers the check's three
// queries: two GPUs; on GPU 0 (1000 MiB free) a process of pid 1, which no
// wrapper runs; on GPU 1 (16000 MiB free) mine, a child of a pid a lease
// file notes as its wrapper's.
func fakeSMI(t *testing.T, mine int) {
	t.Helper()
	bin := t.TempDir()
	src := fmt.Sprintf(`#!/bin/sh
case "$1" in
--query-gpu=index,name,*) printf '0, Fake GPU, 16384, 3\n1, Fake GPU, 16384, 0\n' ;;
--query-gpu=index,uuid,*) printf '0, GPU-aaa, 1000\n1, GPU-bbb, 16000\n' ;;
--query-compute-apps=*) printf 'GPU-aaa, 1, 500\nGPU-bbb, %d, 100\n' ;;
*) exit 2 ;;
esac
`, mine)
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(src), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// holdLease takes name's flock in dir as a run's wrapper does, its file
// recording holder and the wrapper's pid; the lease is freed at cleanup.
func holdLease(t *testing.T, dir, name, holder string, pid int) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(f, "%s\npid %d\n", holder, pid); err != nil {
		t.Fatal(err)
	}
}

// TestCheckLeasesAndBusyGPUs: hosts check reports who holds which lease
// (from the holder line), a free lease as free, a live waiting ticket, and
// marks the GPUs gpu_busy counts as used by others, by the dispatcher's
// rule: a process under a lease-holding wrapper is mljob's.
func TestCheckLeasesAndBusyGPUs(t *testing.T) {
	// A child of this test process stands for a run's script: this
	// process is the "wrapper" whose pid a held lease notes.
	child := exec.Command("sleep", "600")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	fakeSMI(t, child.Process.Pid)

	lock := t.TempDir()
	holder := `{"user":"alice","laptop":"lap1","queue":"q","dispatcher":"d","job":12,"order":3,"attempt":1,"start":"2026-01-02T03:04:05Z"}`
	holdLease(t, lock, "gpu-1", holder, os.Getpid())
	// A lease some run held once and freed: its file stays, not held.
	if err := os.WriteFile(filepath.Join(lock, "gpu-0"), []byte(`{"user":"bob"}`+"\npid 999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Minute)
	if err := os.WriteFile(filepath.Join(lock, "wait.0123abcd"), []byte(fmt.Sprintf("%.6f\n", float64(since.UnixNano())/1e9)), 0o644); err != nil {
		t.Fatal(err)
	}
	// A ticket its dispatcher stopped refreshing is not waiting.
	stale := filepath.Join(lock, "wait.stale")
	if err := os.WriteFile(stale, []byte("1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(stale, since, since); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		gpuBusy string
		busy    []bool // per GPU 0, 1
		verdict Verdict
	}{
		{"foreign-processes", []bool{true, false}, Warn},
		{"memory:2", []bool{true, false}, Warn},
		{"memory:20", []bool{true, true}, Warn},
		{"ignore", []bool{false, false}, OK},
	}
	for _, tt := range tests {
		t.Run(tt.gpuBusy, func(t *testing.T) {
			h := hosts.LocalHost(2, hostPython, filepath.Join(t.TempDir(), "work"))
			h = h.WithGPUs([]string{"0", "1"}, lock)
			h.GPUBusy = tt.gpuBusy
			r := CheckHost(context.Background(), h, Options{Timeout: time.Minute})
			if r.Verdict != tt.verdict {
				t.Errorf("verdict %s, problems %+v; want %s", r.Verdict, r.Problems, tt.verdict)
			}
			if len(r.GPUs) != 2 {
				t.Fatalf("gpus %+v, want two", r.GPUs)
			}
			for i, g := range r.GPUs {
				if g.Busy != tt.busy[i] {
					t.Errorf("gpu %s busy %v, want %v (%+v)", g.Index, g.Busy, tt.busy[i], g)
				}
			}
			if f := r.GPUs[0].Foreign; f == nil || *f != 1 {
				t.Errorf("gpu 0 foreign %v, want 1 (pid 1 runs under no wrapper)", f)
			}
			if f := r.GPUs[1].Foreign; f == nil || *f != 0 {
				t.Errorf("gpu 1 foreign %v, want 0 (its process runs under a lease holder)", f)
			}
			for i, g := range r.GPUs {
				busyNamed := false
				for _, p := range r.Problems {
					busyNamed = busyNamed || strings.HasPrefix(p.Problem, "gpu "+g.Index+" is in use by others")
				}
				if busyNamed != tt.busy[i] {
					t.Errorf("gpu %s: a busy problem is there %v, want %v: %+v", g.Index, busyNamed, tt.busy[i], r.Problems)
				}
			}

			d := r.LockDir
			if d == nil || d.Path != lock || !d.Exists || !d.Writable {
				t.Fatalf("lock dir %+v, want %s there and writable", d, lock)
			}
			got := map[string]string{}
			for _, l := range d.Leases {
				got[l.Name] = fmt.Sprint(l.Held, " ", l.Who())
			}
			want := map[string]string{"gpu-0": "false ", "gpu-1": "true alice@lap1 job 12 since 2026-01-02T03:04:05Z"}
			if fmt.Sprint(got) != fmt.Sprint(want) || d.Held() != 1 {
				t.Errorf("leases %v (held %d), want %v", got, d.Held(), want)
			}
			if len(d.Waiting) != 1 || d.Waiting[0].Name != "wait.0123abcd" || int64(d.Waiting[0].Since) != since.Unix() {
				t.Errorf("waiting %+v, want the one live ticket, since %d", d.Waiting, since.Unix())
			}
		})
	}
}

// TestCheckLockDirMissing: a lock dir the first run will make is fine; one
// that cannot be made (its parent is a file) FAILs with a fix naming
// lock_dir.
func TestCheckLockDirMissing(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		lockDir string
		verdict Verdict
	}{
		{"parent writable", filepath.Join(dir, "locks"), OK},
		{"parent a file", filepath.Join(file, "locks"), Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hosts.LocalHost(1, hostPython, filepath.Join(dir, "work"))
			h.LockDir = tt.lockDir
			r := CheckHost(context.Background(), h, Options{Timeout: time.Minute})
			if r.LockDir == nil || r.LockDir.Exists || r.Verdict != tt.verdict {
				t.Fatalf("lock dir %+v, verdict %s, problems %+v; want missing, %s", r.LockDir, r.Verdict, r.Problems, tt.verdict)
			}
			if tt.verdict == Fail && (len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Fix, "lock_dir")) {
				t.Errorf("problems %+v, want one whose fix names lock_dir", r.Problems)
			}
		})
	}
}
