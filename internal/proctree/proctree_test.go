package proctree_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

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
	collect := func() []int { return proctree.Tree(proctree.List(), parent) }
	// Freeze only once the shell has started a child: frozen sooner, the
	// set is whole with the shell alone, and the test would prove nothing.
	for deadline := time.Now().Add(10 * time.Second); len(collect()) < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the shell %d started no child in 10s", parent)
		}
		time.Sleep(time.Millisecond)
	}
	frozen, err := proctree.Freeze(10*time.Second, collect)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, p := range frozen {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}()
	if len(frozen) < 2 || frozen[0] != parent {
		t.Fatalf("frozen %v, want the shell %d first, then its children", frozen, parent)
	}
	for _, pid := range collect() {
		if p, ok := proctree.Read(pid); ok && p.State != 'T' && p.State != 'Z' {
			t.Errorf("pid %d is in state %q after Freeze, want stopped", pid, p.State)
		}
	}
}

// TestRead reads a child whose command name holds spaces and parentheses,
// which /proc/PID/stat does not escape.
func TestRead(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip(err)
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	name := "a) b (c"
	bin := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	p, ok := proctree.Read(cmd.Process.Pid)
	if !ok || p.PID != cmd.Process.Pid || p.PPID != os.Getpid() || p.Comm != name || p.State == 0 || p.Start == 0 {
		t.Fatalf("Read = %+v, %v; want pid %d, parent %d, comm %q and a start time", p, ok, cmd.Process.Pid, os.Getpid(), name)
	}
	if again, _ := proctree.Read(p.PID); again.Start != p.Start {
		t.Errorf("start time changed from %d to %d", p.Start, again.Start)
	}
	found := false
	for _, q := range proctree.List() {
		found = found || q.PID == p.PID && q.Comm == name && q.Start == p.Start
	}
	if !found {
		t.Errorf("List has no %+v", p)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if q, ok := proctree.Read(p.PID); ok && q.Start == p.Start {
		t.Errorf("Read after the process was reaped = %+v", q)
	}
}

func TestTree(t *testing.T) {
	procs := []proctree.Proc{
		{PID: 10, PPID: 1}, {PID: 11, PPID: 10}, {PID: 12, PPID: 10},
		{PID: 13, PPID: 11}, {PID: 20, PPID: 1}, {PID: 21, PPID: 20},
	}
	tests := []struct {
		name  string
		roots []int
		want  []int
	}{
		{"one root", []int{10}, []int{10, 11, 12, 13}},
		{"a leaf", []int{13}, []int{13}},
		{"roots first, each pid once", []int{11, 10}, []int{11, 10, 13, 12}},
		{"a root not listed", []int{99}, []int{99}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := proctree.Tree(procs, tt.roots...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Tree(%v) = %v, want %v", tt.roots, got, tt.want)
			}
		})
	}
}
