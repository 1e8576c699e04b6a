package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/run"
)

// outcome reads a finished run's Outcome. When the stdout tail that came
// back holds no Outcome line but stdout is longer (a long summary printed
// after it, or an Outcome line longer than the tail), the whole stdout is
// searched on the host (pyexec.SearchOutcome). A host that does not answer
// the search is waited for, as a run's is, up to LostAfter: the run has
// ended, and its outcome is in its run dir. ok is false when ctx ended
// first: the order is left to the next dispatch.
func (d *dispatcher) outcome(ctx context.Context, hs *hostState, o db.Order, res run.Result) (out pyexec.Outcome, ok bool) {
	if res.Lost || !pyexec.NeedsSearch(res) {
		return pyexec.ParseOutcome(res), true
	}
	id := pyexec.RunID(d.queue, o.ID, o.Attempt)
	since := time.Now()
	backoff := d.opts.Poll
	python := hs.cfg.Python
	for {
		s, err := pyexec.SearchOutcome(ctx, hs.h, python, id)
		if err == nil {
			return pyexec.ParseSearched(res, &s), true
		}
		if ctx.Err() != nil {
			return pyexec.Outcome{}, false
		}
		var ee *engine.ExitError
		if errors.As(err, &ee) && ee.Code == 127 && python != hosts.DefaultPython {
			// A Slurm entry's python is the nodes'; the login node, where
			// the search runs, may lack it.
			python = hosts.DefaultPython
			continue
		}
		unanswered := errors.Is(err, engine.ErrConnLost) || isDialError(err)
		if !unanswered || time.Since(since) >= d.opts.LostAfter {
			out := pyexec.ParseOutcome(res)
			if out.JSON == nil {
				out.Error += fmt.Sprintf("; the rest of stdout could not be read on %s: %v", hs.cfg.Name, err)
			}
			return out, true
		}
		d.warnf("order %d on %s: reading its outcome: %v; trying again", o.ID, hs.cfg.Name, err)
		if !sleepCtx(ctx, backoff) {
			return pyexec.Outcome{}, false
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// detached reports an order left running on its host by an interrupted
// dispatch.
func (d *dispatcher) detached(hs *hostState, o db.Order) string {
	d.logf("order %d left running on %s", o.ID, hs.cfg.Name)
	d.observe(Event{Kind: OrderDetached, Host: hs.cfg.Name, Slot: o.Slot, Order: o.ID, Job: o.JobID, Attempt: o.Attempt})
	return "detached"
}
