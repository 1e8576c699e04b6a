package slurm

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshworker"
)

// waiter is one run waited on. Its fields past pmu belong to the poller.
type waiter struct {
	id   string
	done chan verdict // buffered: the poller never blocks

	pmu sync.Mutex // guards progress
	// progress is what the run's progress lines go to, its From moved on
	// with each delivery; off once its wait is over (see stopProgress).
	progress run.Progress

	task    string
	state   string
	running func() // Run: told once when the task is first seen on a node
	attach  bool
	started func(run.Started) // Attach: told once the run is known submitted
	told    bool              // started was called
	// doneSeen and endedSeen count polls that saw the exit code while
	// Slurm still listed the task live, and polls that saw the task ended
	// (or unlisted) without an exit code.
	doneSeen, endedSeen int
}

type verdictKind int

const (
	finished   verdictKind = iota // exit_code is there
	lost                          // the task ended without one
	notStarted                    // never submitted (Attach only)
)

type verdict struct {
	kind       verdictKind
	state      string
	start, end time.Time
}

// watch registers a waiter and makes sure the poller runs; from then on
// the poller owns w's fields.
func (s *Host) watch(w *waiter) *waiter {
	w.done = make(chan verdict, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiters[w.id] = w
	if !s.polling && s.life.Err() == nil {
		s.polling = true
		s.wg.Add(1)
		go s.pollLoop()
	}
	return w
}

func (s *Host) unwatch(w *waiter) {
	s.mu.Lock()
	if s.waiters[w.id] == w {
		delete(s.waiters, w.id)
	}
	s.mu.Unlock()
}

// progressFrom is where the run's progress lines are to be read from, and
// whether they are asked for.
func (w *waiter) progressFrom() (int64, bool) {
	w.pmu.Lock()
	defer w.pmu.Unlock()
	return w.progress.From, w.progress.On()
}

// deliver hands progress lines read by a poll to the run's waiter, unless
// its wait is over or they do not follow what it has (end before From).
func (w *waiter) deliver(lines []byte, end int64) {
	w.pmu.Lock()
	defer w.pmu.Unlock()
	if !w.progress.On() || end < w.progress.From {
		return
	}
	w.progress.Lines(lines, end)
	w.progress.From = end
}

// stopProgress ends the poller's deliveries and returns where they
// stopped: no call of Lines is under way once it returns.
func (w *waiter) stopProgress() run.Progress {
	w.pmu.Lock()
	defer w.pmu.Unlock()
	p := w.progress
	w.progress = run.Progress{}
	return p
}

// nudge asks for a poll now (after a cancel, say), not at the next tick.
func (s *Host) nudge() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// wait blocks until the poller has a verdict on w, then reads the result
// from the run dir.
func (s *Host) wait(ctx context.Context, w *waiter, dir string, stdoutTail, stderrTail int) (run.Result, error) {
	var v verdict
	select {
	case v = <-w.done:
	case <-ctx.Done():
		s.unwatch(w)
		w.stopProgress() // a poll under way delivers no more
		return run.Result{}, ctx.Err()
	}
	// The rest of the run's progress lines, from where the polls left.
	progress := w.stopProgress()
	switch v.kind {
	case notStarted:
		return run.Result{}, fmt.Errorf("attach %s on %s: %w", w.id, s.cfg.Name, sshworker.ErrNotStarted)
	case lost:
		res := run.Result{Started: run.Started{RunDir: dir, At: v.start, Task: w.task}, Lost: true, ExitCode: -1,
			SchedState: v.state, FinishedAt: time.Now()}
		res.Reason, res.Infra = endReason(v.state)
		if progress.On() {
			// What it printed before it was lost; none, or a host that
			// cannot say, is no reason to wait longer.
			_ = s.h.ReadProgress(ctx, w.id, s.h.Python(), progress, true)
		}
		return res, nil
	}
	res, err := s.h.Attach(ctx, w.id, run.AttachOptions{StdoutTail: stdoutTail, StderrTail: stderrTail, Progress: progress})
	if err != nil {
		return res, err
	}
	res.Task, res.Queued, res.SchedState = w.task, false, v.state
	res.Reason, res.Infra = endReason(v.state)
	// The task's own clock on both ends: the time it waited in the queue
	// is not the run's.
	if !v.start.IsZero() && !v.end.IsZero() {
		res.At, res.FinishedAt, res.Timed = v.start, v.end, true
	}
	return res, nil
}

func (s *Host) pollLoop() {
	defer s.wg.Done()
	t := time.NewTimer(s.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-s.life.Done():
			s.mu.Lock()
			s.polling = false
			s.mu.Unlock()
			return
		case <-t.C:
		case <-s.kick:
		}
		s.mu.Lock()
		ws := make([]*waiter, 0, len(s.waiters))
		for _, w := range s.waiters {
			ws = append(ws, w)
		}
		if len(ws) == 0 {
			s.polling = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		sort.Slice(ws, func(i, j int) bool { return ws[i].id < ws[j].id })
		s.pollOnce(ws)
		t.Reset(s.cfg.Poll)
	}
}

// pollOnce asks about every waited run in one session and hands out the
// verdicts.
func (s *Host) pollOnce(ws []*waiter) {
	var ids []string
	agent := ""
	for _, w := range ws {
		if from, ok := w.progressFrom(); ok {
			ids = append(ids, w.id+"@"+strconv.FormatInt(from, 10))
			agent = sshworker.ProgressProgram()
			continue
		}
		ids = append(ids, w.id)
	}
	argv := append([]string{"sh", "-c", pollScript, "mljob-slurm-poll", s.h.Workdir(), s.h.Python(), agent}, s.env...)
	argv = append(argv, ids...)
	var out, errOut sshworker.LimitedBuffer
	// Room for the progress lines of many runs; a frame cut at the limit
	// is read again at the next poll.
	out.Limit, errOut.Limit = 16<<20, 4096
	if err := s.h.Exec(s.life, argv, nil, &out, &errOut); err != nil {
		if s.life.Err() == nil {
			s.trouble(fmt.Sprintf("poll %s: %v%s (the runs go on in Slurm; asking again every %s)", s.cfg.Name, err, sshworker.Detail(errOut.String()), s.cfg.Poll))
		}
		return
	}
	report, frames, _ := bytes.Cut(out.Bytes(), []byte("\nprogress\n"))
	rep := parsePoll(string(report))
	if len(frames) > 0 {
		byID := make(map[string]*waiter, len(ws))
		for _, w := range ws {
			byID[w.id] = w
		}
		// Before the verdicts: a run decided now has every line read so
		// far, and its wait reads the rest from there.
		sshworker.ReadRunFrames(frames, func(id string, lines []byte, end int64) {
			if w := byID[id]; w != nil {
				w.deliver(lines, end)
			}
		})
	}
	if rep.squeueErr != "" {
		s.trouble(fmt.Sprintf("squeue on %s: %s (the run dirs still count; asking again every %s)", s.cfg.Name, rep.squeueErr, s.cfg.Poll))
	} else {
		s.trouble("")
	}
	s.askAccounting(ws, rep)
	var news PollNews
	for _, w := range ws {
		rr, ok := rep.runs[w.id]
		if !ok {
			continue
		}
		if w.task == "" {
			w.task = rr.task
		}
		before := w.state
		s.judge(w, rr, rep.tasks)
		if w.state != before {
			news.Changed = append(news.Changed, TaskState{RunID: w.id, State: w.state})
		}
	}
	s.mu.Lock()
	for _, w := range s.waiters {
		switch {
		case Running(w.state):
			news.Running++
		case Pending(w.state) && w.task != "":
			news.Pending++
		}
	}
	s.mu.Unlock()
	if s.cfg.OnPoll != nil {
		s.cfg.OnPoll(news)
	}
}

// trouble warns of a poll problem once, not every tick, and says when it
// is over; "" means the poll went well.
func (s *Host) trouble(msg string) {
	if msg == s.lastTrouble {
		return
	}
	if msg == "" {
		s.warnf("%s answers again", s.cfg.Name)
	} else {
		s.warnf("%s", msg)
	}
	s.lastTrouble = msg
}

// askAccounting fills in, from sacct, the states of tasks squeue no longer
// lists (the controller forgets ended jobs after MinJobAge). Where
// accounting is off it is asked once, then never again.
func (s *Host) askAccounting(ws []*waiter, rep pollReport) {
	if rep.tasks == nil {
		return
	}
	s.mu.Lock()
	off := s.noAcct
	s.mu.Unlock()
	if off {
		return
	}
	jobs := map[string]bool{}
	for _, w := range ws {
		task := w.task
		if task == "" {
			task = rep.runs[w.id].task
		}
		if _, listed := rep.tasks[task]; task != "" && !listed {
			jobs[task[:strings.LastIndexByte(task, '_')]] = true
		}
	}
	if len(jobs) == 0 {
		return
	}
	ids := make([]string, 0, len(jobs))
	for j := range jobs {
		ids = append(ids, j)
	}
	sort.Strings(ids)
	argv := append([]string{"sh", "-c", sacctScript, "mljob-sacct"}, s.env...)
	argv = append(argv, strings.Join(ids, ","))
	var out, errOut sshworker.LimitedBuffer
	out.Limit, errOut.Limit = 1<<20, 4096
	if err := s.h.Exec(s.life, argv, nil, &out, &errOut); err != nil {
		s.mu.Lock()
		s.noAcct = true
		s.mu.Unlock()
		return
	}
	for id, state := range parseSacct(out.String()) {
		rep.tasks[id] = state
	}
}

// judge decides what one poll means for one run.
func (s *Host) judge(w *waiter, rr runReport, tasks map[string]string) {
	if w.attach && w.started != nil {
		// Told once when the run is known submitted, and again (Queued
		// false) when it is seen on a node, as Run tells.
		onNode := rr.dir == "started" || rr.dir == "done"
		if !w.told && (rr.task != "" || onNode) {
			w.told = true
			w.started(run.Started{Task: w.task, At: rr.start, Queued: !onNode})
			if onNode {
				w.started = nil
			}
		} else if w.told && onNode {
			w.started(run.Started{Task: w.task, At: rr.start})
			w.started = nil
		}
	}
	state, listed := "", false
	if tasks != nil && w.task != "" {
		state, listed = tasks[w.task]
	}
	switch {
	case rr.dir == "done":
		// Wait for Slurm's final word (TIMEOUT, CANCELLED, ...), a few
		// polls at most: the exit code is written just before the task ends.
		if tasks == nil || !listed || Final(state) || w.doneSeen >= settlePolls {
			if !Final(state) {
				state = ""
			}
			w.state = stateOr(state, w.state)
			w.began() // it ran, even if no poll saw it running
			s.decide(w, verdict{kind: finished, state: state, start: rr.start, end: rr.end})
			return
		}
		w.doneSeen++
	case rr.dir == "fenced":
		if w.attach {
			s.decide(w, verdict{kind: notStarted})
			return
		}
		w.state = stateOr(state, w.state)
		s.decide(w, verdict{kind: lost, state: state})
	case w.task == "" && (rr.dir == "prepared" || rr.dir == "missing"):
		// Never submitted (its dispatcher stopped between the run dir and
		// sbatch): fence it, unless a task took it in between.
		if s.end(w.id) == "fenced" {
			s.decide(w, verdict{kind: notStarted})
		}
	case tasks != nil && w.task != "" && (!listed || Final(state)):
		// Slurm says it ended, or lists it no more, and no exit code yet.
		w.endedSeen++
		if w.endedSeen >= settlePolls {
			s.end(w.id)
			w.state = stateOr(state, w.state)
			s.decide(w, verdict{kind: lost, state: state})
		}
	case listed:
		w.endedSeen = 0
		w.state = state
		if Running(state) || rr.dir == "started" {
			w.began()
		}
	}
}

// began tells Run, once, that the task is on a node.
func (w *waiter) began() {
	if w.running != nil {
		w.running()
		w.running = nil
	}
}

// decide hands the verdict to the waiter and forgets it.
func (s *Host) decide(w *waiter, v verdict) {
	s.unwatch(w)
	w.done <- v
}

func stateOr(state, old string) string {
	if state != "" {
		return state
	}
	return old
}
