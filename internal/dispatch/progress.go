package dispatch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/progress"
	"github.com/mljob/mljob/internal/run"
)

// progressFlush is how often the progress lines an attempt's engine
// delivers are saved while it runs.
const progressFlush = time.Second

// progressBacklog is how many points may wait for a save before the
// engine's delivery waits for one: a run that prints faster than the
// database takes its points is slowed, not held in memory.
const progressBacklog = 100_000

// progressSink takes the progress lines of one attempt from its engine
// (run.Progress) and saves them every progressFlush, each save one
// transaction with the stdout offset they were read to (db.SaveProgress),
// so that a dispatcher that adopts the run goes on from there. Its
// goroutine is stopped by close.
type progressSink struct {
	d    *dispatcher
	o    db.Order
	host string

	mu     sync.Mutex // guards g and broken
	g      *progress.Ingest
	broken bool // a save failed: the rest is not read

	pr *pruner // nil when the job has none; used by flush only, under saveMu

	saveMu sync.Mutex // one save at a time, so that batches commit in order

	stop, done chan struct{}
}

// openProgress returns the progress sink of attempt o on host, resuming
// from what was saved of it when resume is set (an attempt attached
// again). A saved state it cannot read leaves the attempt without one
// (nil): points read from the wrong offset would be stored twice. pr,
// when not nil, judges the points once they are saved.
func (d *dispatcher) openProgress(o db.Order, host string, resume bool, pr *pruner) *progressSink {
	g := progress.New(o.ID, o.Attempt)
	if resume {
		st, err := d.db.Progress(d.saveCtx, o.ID, o.Attempt)
		if err != nil {
			d.warnf("order %d on %s: its progress lines are not read: %v", o.ID, host, err)
			return nil
		}
		g = progress.Resume(o.ID, o.Attempt, st)
	}
	if pr != nil {
		g.Watch(pr.name)
	}
	s := &progressSink{d: d, o: o, host: host, g: g, pr: pr, stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *progressSink) loop() {
	defer close(s.done)
	t := time.NewTicker(progressFlush)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.flush()
		}
	}
}

// progress is what the engine is asked for: the lines from where the
// attempt's stdout was read to. A nil sink asks for none.
func (s *progressSink) progress() run.Progress {
	if s == nil {
		return run.Progress{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return run.Progress{From: s.g.Offset(), Lines: s.lines}
}

// lines is run.Progress.Lines.
func (s *progressSink) lines(b []byte, end int64) {
	s.mu.Lock()
	if s.broken {
		s.mu.Unlock()
		return
	}
	s.g.Add(b, end, time.Now())
	backlog := s.g.Pending() >= progressBacklog
	// A point that reaches its pruner's next rung is judged now, not at
	// the next tick: a run that loses there stops a second sooner.
	due := s.pr != nil && s.pr.due(s.g.WatchedSince())
	s.mu.Unlock()
	if backlog || due {
		s.flush()
	}
}

// flush saves what was read since the last save.
func (s *progressSink) flush() {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	b, ok := s.g.Batch()
	if s.broken {
		ok = false
	}
	last, taken := s.g.Last()
	watched := s.g.Watched()
	s.mu.Unlock()
	if !ok {
		return
	}
	what := fmt.Sprintf("order %d on %s: save progress", s.o.ID, s.host)
	err := s.d.save(what, func(ctx context.Context) error { return s.d.db.SaveProgress(ctx, b) })
	if err != nil {
		s.mu.Lock()
		s.broken = true
		s.mu.Unlock()
		s.d.warnf("order %d on %s: its progress lines are no longer saved: %v", s.o.ID, s.host, oneLine(err.Error()))
		return
	}
	if b.Lines > 0 && taken {
		e := Event{Kind: OrderProgress, Host: s.host, Slot: s.o.Slot, Order: s.o.ID, Job: s.o.JobID, Attempt: s.o.Attempt,
			Step: last.Step, Series: last.Series, Metrics: last.Metrics}
		s.d.tracked(s.o).set(&e)
		s.d.observe(e)
	}
	if s.pr != nil {
		s.pr.judge(watched)
	}
}

// close stops the sink and saves the rest: once the engine has returned,
// before the attempt's outcome is recorded.
func (s *progressSink) close() {
	if s == nil {
		return
	}
	close(s.stop)
	<-s.done
	s.flush()
}
