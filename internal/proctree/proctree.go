// Package proctree reads processes from /proc and stops a changing set of
// them as a whole, for the test helpers that kill a daemon together with
// everything it started (sshtest's crashed or vanished hosts, slurmtest's
// cluster) and the tests that look at process trees.
package proctree

import "syscall"

// Freeze sends SIGSTOP to every pid collect returns, and calls collect
// again until it names no pid not yet stopped; it returns the stopped
// pids. A stopped process cannot fork, and its children keep it as their
// parent, so once the set stops growing it is whole: killing it then
// leaves nothing behind that started in between.
func Freeze(collect func() []int) []int {
	stopped := map[int]bool{}
	var out []int
	for {
		grew := false
		for _, p := range collect() {
			if !stopped[p] {
				_ = syscall.Kill(p, syscall.SIGSTOP)
				stopped[p] = true
				out = append(out, p)
				grew = true
			}
		}
		if !grew {
			return out
		}
	}
}
