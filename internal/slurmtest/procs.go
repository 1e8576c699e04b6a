package slurmtest

import (
	"github.com/mljob/mljob/internal/proctree"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one process as /proc shows it.
type proc struct {
	pid, ppid int
	state     byte   // 'R', 'S', 'Z', ...
	comm      string // the name in /proc/pid/stat, at most 15 bytes
	cwd       string // "" when unreadable
}

// listProcs reads every process from /proc.
func listProcs() []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// readProc reads pid's /proc/pid/stat and cwd. The command name in stat may
// itself hold spaces and ')', so the fields are counted after the last ')'.
func readProc(pid int) (proc, bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return proc{}, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return proc{}, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 2 || len(f[0]) == 0 {
		return proc{}, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return proc{}, false
	}
	cwd, _ := os.Readlink(dir + "/cwd")
	return proc{pid: pid, ppid: ppid, state: f[0][0], comm: s[open+1 : end], cwd: cwd}, true
}

// clusterProcs returns the live processes that belong to the cluster in
// dir: the roots (the daemons Start ran), every process whose working
// directory is dir or below it, and all their descendants.
//
// The working directory is what finds the slurmstepd processes: slurmd
// starts each through a double fork and setsid, so they are neither its
// children nor in its process group, and they overwrite their environment
// with their title; but they keep slurmd's working directory, which Start
// sets to the cluster's own dir.
func clusterProcs(dir string, roots []int) []int {
	procs := listProcs()
	children := map[int][]int{}
	seen := map[int]bool{}
	var queue []int
	add := func(pid int) {
		if !seen[pid] {
			seen[pid] = true
			queue = append(queue, pid)
		}
	}
	live := map[int]bool{}
	for _, p := range procs {
		if p.state == 'Z' {
			continue
		}
		live[p.pid] = true
		children[p.ppid] = append(children[p.ppid], p.pid)
		if p.cwd == dir || strings.HasPrefix(p.cwd, dir+string(filepath.Separator)) {
			add(p.pid)
		}
	}
	for _, r := range roots {
		if live[r] {
			add(r)
		}
	}
	var out []int
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, p)
		for _, c := range children[p] {
			add(c)
		}
	}
	return out
}

// killCluster kills every process clusterProcs finds. Each is stopped
// before any is killed: a stopped process cannot fork or start a job step,
// so the set stays whole while it is collected. Process groups are
// signalled too, for children that moved between two reads of /proc.
func killCluster(dir string, roots []int) []int {
	stopped := proctree.Freeze(func() []int { return clusterProcs(dir, roots) })
	for _, r := range roots {
		// Start gave each daemon its own group (Setpgid), whose id is its pid.
		_ = syscall.Kill(-r, syscall.SIGKILL)
	}
	for _, p := range stopped {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	return stopped
}

// waitGone waits until none of pids is alive; a zombie counts as gone, as
// only its parent (for slurmstepd, init) can reap it. It reports the pids
// still alive at the deadline.
func waitGone(pids []int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		var alive []int
		for _, pid := range pids {
			if p, ok := readProc(pid); ok && p.state != 'Z' {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(20 * time.Millisecond)
	}
}
