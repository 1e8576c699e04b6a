// Package proctree reads processes from /proc and stops a changing set of
// them as a whole, for the test helpers that kill a daemon together with
// everything it started (sshtest's crashed or vanished hosts, slurmtest's
// cluster) and the tests that look at process trees.
package proctree

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pollEvery is how long Freeze waits between two reads of /proc while a
// process it signalled has not stopped yet.
const pollEvery = time.Millisecond

// Freeze sends SIGSTOP to every pid collect returns, waits until each of
// them (every thread of it) is stopped, and calls collect again until it
// names no pid not yet stopped; it returns the stopped pids. A stopped
// process cannot fork, and its children keep it as their parent, so once
// the set stops growing it is whole: killing it then leaves nothing behind
// that started in between.
//
// SIGSTOP is delivered asynchronously: kill returns while the process may
// still run (and fork) for a while, so the wait is what makes the set
// whole. A process that is gone or a zombie counts as stopped. When some
// pid is still running after timeout, Freeze returns every pid it
// signalled and an error naming the ones still running; the caller should
// kill them all the same.
//
// WARNING: a process blocked in vfork (posix_spawn) whose child was
// stopped before its exec stays in state D until that child dies, so it
// reaches the timeout.
func Freeze(timeout time.Duration, collect func() []int) ([]int, error) {
	deadline := time.Now().Add(timeout)
	signalled := map[int]bool{}
	var out []int
	for {
		var added []int
		for _, p := range collect() {
			if !signalled[p] {
				_ = syscall.Kill(p, syscall.SIGSTOP)
				signalled[p] = true
				added = append(added, p)
			}
		}
		if len(added) == 0 {
			return out, nil
		}
		out = append(out, added...)
		if err := waitStopped(added, deadline); err != nil {
			return out, fmt.Errorf("freeze: %w after %v", err, timeout)
		}
	}
}

// waitStopped polls /proc until every thread of every pid is stopped, a
// zombie, or gone; at deadline it returns an error naming those that are
// not.
func waitStopped(pids []int, deadline time.Time) error {
	for {
		var running []string
		for _, pid := range pids {
			if st, ok := runningThread(pid); ok {
				running = append(running, fmt.Sprintf("%d (state %c)", pid, st))
			}
		}
		if len(running) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not stopped: %s", strings.Join(running, ", "))
		}
		time.Sleep(pollEvery)
	}
}

// runningThread returns the state of a thread of pid that is neither
// stopped ('T', or 't' under a tracer) nor dead ('Z', 'X'); it reports
// false when there is none, pid being gone included. A process stops
// thread by thread, and its main thread may stop before another one that
// is about to fork, so every thread is read.
func runningThread(pid int) (byte, bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/stat")
		if err != nil {
			continue // the thread ended
		}
		p, ok := parseStat(pid, string(b))
		if !ok {
			continue
		}
		switch p.State {
		case 'T', 't', 'Z', 'X':
		default:
			return p.State, true
		}
	}
	return 0, false
}
