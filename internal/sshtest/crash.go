package sshtest

import (
	"github.com/mljob/mljob/internal/proctree"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
	for _, p := range proctree.Freeze(func() []int {
		var ps []int
		for _, p := range append([]int{root}, descendants(root)...) {
			if isSSHD(p) {
				ps = append(ps, p)
			}
		}
		return ps
	}) {
		sshds[p] = true
	}
	var orphans []proc
	for _, p := range descendants(root) {
		if sshds[p] {
			continue
		}
		if pr, ok := procOf(p); ok {
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

// proc names one process across time: a pid and its start time, so that a
// pid reused by an unrelated process is never killed.
type proc struct {
	pid   int
	start string
}

// procOf reads pid's start time (field 22 of /proc/pid/stat).
func procOf(pid int) (proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return proc{}, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return proc{}, false
	}
	return proc{pid: pid, start: f[19]}, true
}

// same reports whether p still runs.
func (p proc) same() bool {
	q, ok := procOf(p.pid)
	return ok && q.start == p.start
}
