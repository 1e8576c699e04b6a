package sshtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/mljob/mljob/internal/proctree"
)

// Crash kills the daemon and its per-connection sshd processes, and
// nothing else: the commands its sessions started, and the detached runs
// they started, go on, as they do on a host whose sshd crashed or was
// restarted. The client sees its connections drop at once. Restart brings
// the daemon back; Stop later also kills what Crash left running. It does
// nothing when the daemon is not running.
func (s *Server) Crash() {
	s.mu.Lock()
	d := s.run
	s.run = nil
	s.mu.Unlock()
	if d == nil {
		return
	}
	root := d.cmd.Process.Pid
	// Stop the sshd processes before killing any, as killTree does: a
	// stopped daemon cannot accept, so the set is whole when collected.
	sshds := map[int]bool{}
	stopped, err := proctree.Freeze(freezeTimeout, func() []int {
		var ps []int
		for _, p := range proctree.Tree(proctree.List(), root) {
			if isSSHD(p) {
				ps = append(ps, p)
			}
		}
		return ps
	})
	if err != nil {
		// They are killed all the same; the log says why a connection
		// may have outlived the crash.
		fmt.Fprintf(&s.log, "--- sshtest: crash: %v ---\n", err)
	}
	for _, p := range stopped {
		sshds[p] = true
	}
	var orphans []proctree.Proc
	for _, p := range proctree.Tree(proctree.List(), root)[1:] {
		if sshds[p] {
			continue
		}
		if pr, ok := proctree.Read(p); ok {
			orphans = append(orphans, pr)
		}
	}
	for p := range sshds {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	<-d.exited
	d.drain()
	s.log.Write([]byte("--- sshtest: crash ---\n"))
	s.mu.Lock()
	s.orphans = append(s.orphans, orphans...)
	s.mu.Unlock()
}

// isSSHD reports whether pid runs an OpenSSH server binary: sshd itself,
// or the sshd-session and sshd-auth helpers of OpenSSH 9.8 and later.
// Where /proc/pid/exe cannot be read, the command name decides.
func isSSHD(pid int) bool {
	name := ""
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err == nil {
		name = filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	} else if comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err == nil {
		name = strings.TrimSpace(string(comm))
	}
	return name == "sshd" || strings.HasPrefix(name, "sshd-")
}

// stillRuns reports whether p, as read before, is still running: a pid
// reused by an unrelated process has another start time, and is never
// killed in its place.
func stillRuns(p proctree.Proc) bool {
	q, ok := proctree.Read(p.PID)
	return ok && q.Start == p.Start
}
