package sshtest

import (
	"syscall"

	"github.com/mljob/mljob/internal/proctree"
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
	for _, p := range proctree.Freeze(func() []int { return proctree.Tree(proctree.List(), pid) }) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}
