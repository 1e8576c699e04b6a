package proctree_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mljob/mljob/internal/proctree"
)

// TestFreezeStopsWhatAppearsMeanwhile freezes a shell that keeps starting
// children: the set grows while it is being stopped, and Freeze returns
// only once every member, the late ones included, is stopped.
func TestFreezeStopsWhatAppearsMeanwhile(t *testing.T) {
	cmd := exec.Command("sh", "-c", `while :; do sleep 5 & done`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	parent := cmd.Process.Pid
	defer func() {
		_ = syscall.Kill(parent, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	collect := func() []int { return append([]int{parent}, children(parent)...) }
	frozen := proctree.Freeze(collect)
	defer func() {
		for _, p := range frozen {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}()
	if len(frozen) == 0 || frozen[0] != parent {
		t.Fatalf("frozen %v, want the shell %d first", frozen, parent)
	}
	for _, p := range collect() {
		if st := state(p); st != "T" && st != "Z" && st != "" {
			t.Errorf("pid %d is in state %q after Freeze, want stopped", p, st)
		}
	}
}

// children lists the pids whose parent is pid, from /proc.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// state is the one-letter state of pid ("" when it is gone).
func state(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return f[0]
}
