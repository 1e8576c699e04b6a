package sshtest

import (
	"github.com/mljob/mljob/internal/proctree"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// killTree kills pid and all its descendants. sshd gives each connection a
// child that calls setsid, and each session another, so neither the
// daemon's process group nor killing the daemon alone ends the connections
// of a "vanished" host. The tree is read from /proc; where there is none,
// only pid is killed.
//
// Every process is stopped before any is killed (proctree.Freeze), so the
// tree stays whole while it is collected.
func killTree(pid int) {
	for _, p := range proctree.Freeze(func() []int { return append([]int{pid}, descendants(pid)...) }) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// descendants returns the pids below pid, from /proc/*/stat.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(p); ok {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// parentOf reads the parent pid from /proc/pid/stat: the fourth field,
// counted after the command name, which may itself hold spaces and ')'.
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}
