package sshtest

import (
	"syscall"
	"time"

	"github.com/mljob/mljob/internal/proctree"
)

// freezeTimeout bounds how long killTree and Crash wait for the processes
// they stop to be stopped.
const freezeTimeout = 10 * time.Second

// killTree kills pid and all its descendants. sshd gives each connection a
// child that calls setsid, and each session another, so neither the
// daemon's process group nor killing the daemon alone ends the connections
// of a "vanished" host. The tree is read from /proc; where there is none,
// only pid is killed.
//
// Every process is stopped before any is killed (proctree.Freeze), so the
// tree stays whole while it is collected. A process that does not stop
// within freezeTimeout is killed all the same, so Freeze's error is not
// needed here.
func killTree(pid int) {
	stopped, _ := proctree.Freeze(freezeTimeout, func() []int { return proctree.Tree(proctree.List(), pid) })
	for _, p := range stopped {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}
