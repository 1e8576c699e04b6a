package slurmtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mljob/mljob/internal/proctree"
)

// proc is one process as /proc shows it, with its working directory.
type proc struct {
	proctree.Proc
	cwd string // "" when unreadable
}

// listProcs reads every process from /proc.
func listProcs() []proc {
	ps := proctree.List()
	out := make([]proc, len(ps))
	for i, p := range ps {
		out[i] = withCwd(p)
	}
	return out
}

// withCwd adds p's working directory.
func withCwd(p proctree.Proc) proc {
	cwd, _ := os.Readlink("/proc/" + strconv.Itoa(p.PID) + "/cwd")
	return proc{Proc: p, cwd: cwd}
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
	var live []proctree.Proc
	alive := map[int]bool{}
	var seeds []int
	for _, p := range listProcs() {
		if p.State == 'Z' {
			continue
		}
		live = append(live, p.Proc)
		alive[p.PID] = true
		if p.cwd == dir || strings.HasPrefix(p.cwd, dir+string(filepath.Separator)) {
			seeds = append(seeds, p.PID)
		}
	}
	for _, r := range roots {
		if alive[r] {
			seeds = append(seeds, r)
		}
	}
	return proctree.Tree(live, seeds...)
}

// freezeTimeout bounds how long killCluster waits for the processes it
// stops to be stopped.
const freezeTimeout = 10 * time.Second

// killCluster kills every process clusterProcs finds. Each is stopped
// before any is killed: a stopped process cannot fork or start a job step,
// so the set stays whole while it is collected. Process groups are
// signalled too, for children that moved between two reads of /proc.
func killCluster(dir string, roots []int) []int {
	// A process still running at the deadline is killed all the same, and
	// Stop's waitGone reports one that outlives that.
	stopped, _ := proctree.Freeze(freezeTimeout, func() []int { return clusterProcs(dir, roots) })
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
			if p, ok := proctree.Read(pid); ok && p.State != 'Z' {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(20 * time.Millisecond)
	}
}
