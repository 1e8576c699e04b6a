package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshworker"
)

// runOne runs one claimed attempt on hs and records what became of it.
func (d *dispatcher) runOne(ctx context.Context, hs *hostState, slot string, c *db.Claim) {
	defer d.wg.Done()
	// State is saved even after ctx ends: an interrupted dispatcher must
	// still write down what it knows.
	saveCtx := context.WithoutCancel(ctx)
	o := c.Order
	done := event{host: hs, kind: "done", orderID: o.ID, slot: slot}

	spec, err := pyexec.Spec(pyexec.Job{
		JobID: c.Job.ID, OrderID: o.ID, Attempt: o.Attempt, Spec: c.Job.Spec,
		Script: c.Job.Script, DataFile: c.Job.DataFile,
	}, pyexec.Settings{
		ScriptsDir: d.opts.ScriptsDir, DataDir: d.opts.DataDir,
		Python: hs.cfg.Python, Env: envFor(hs.cfg, slot),
	}, &d.files)
	if err != nil {
		// The job's own files are missing or bad here: no host can run it.
		done.res = d.record(saveCtx, hs, o, pyexec.Outcome{Error: "prepare: " + err.Error()})
		d.send(ctx, done)
		return
	}

	startedCalled := false
	started := func(s run.Started) {
		startedCalled = true
		if err := d.db.MarkRunning(saveCtx, o.ID, o.Attempt, s.RunDir, s.PID); err != nil {
			d.warnf("order %d on %s: mark running: %v", o.ID, hs.cfg.Name, err)
		}
		d.logf("order %d running on %s slot %s (pid %d, %s)", o.ID, hs.cfg.Name, slot, s.PID, s.RunDir)
		d.send(ctx, event{host: hs, kind: "started", orderID: o.ID, pid: s.PID})
	}
	res, err := hs.h.Run(ctx, spec, started)
	for err != nil && startedCalled && ctx.Err() == nil && errors.Is(err, sshworker.ErrConnLost) {
		// The run goes on without us: wait for the host to come back and
		// reattach to the run dir.
		d.warnf("order %d on %s: connection lost while waiting (%v); reattaching", o.ID, hs.cfg.Name, err)
		if !sleepCtx(ctx, d.opts.Poll) {
			break
		}
		res, err = hs.h.Attach(ctx, spec.ID, spec.StdoutTail, spec.StderrTail, nil)
	}
	switch {
	case err == nil:
		done.res = d.record(saveCtx, hs, o, pyexec.ParseOutcome(res))
	case ctx.Err() != nil && startedCalled:
		// Interrupted: the run goes on, detached, on its host.
		d.logf("order %d left running on %s", o.ID, hs.cfg.Name)
		done.res = "detached"
	case !startedCalled:
		done.res, done.err = d.release(saveCtx, hs, o, err), err
	default:
		reason := fmt.Sprintf("run on %s: %v", hs.cfg.Name, err)
		done.res = d.record(saveCtx, hs, o, pyexec.Outcome{Error: reason})
	}
	d.send(ctx, done)
}

// record writes the outcome of an attempt; it returns "succeeded" or "failed".
func (d *dispatcher) record(ctx context.Context, hs *hostState, o db.Order, out pyexec.Outcome) string {
	rec := db.Outcome{
		OrderID: o.ID, JobID: o.JobID, Attempt: o.Attempt, Host: hs.cfg.Name,
		Succeeded: out.Succeeded, Status: out.Status, Loss: out.Loss, Metric: out.Metric,
		ExitCode: out.ExitCode, DurationSeconds: out.Duration.Seconds(), Error: out.Error,
		JSON: out.JSON, StdoutTail: out.StdoutTail, StderrTail: out.StderrTail,
	}
	recorded, err := d.db.RecordOutcome(ctx, rec)
	if err != nil {
		d.warnf("order %d on %s: record outcome: %v", o.ID, hs.cfg.Name, err)
	}
	if !recorded && err == nil {
		d.logf("order %d attempt %d: outcome already recorded; kept the first", o.ID, o.Attempt)
	}
	if out.Succeeded {
		d.logf("order %d succeeded on %s in %s%s", o.ID, hs.cfg.Name, out.Duration.Round(time.Millisecond), lossText(out))
		return "succeeded"
	}
	d.logf("order %d failed on %s: %s", o.ID, hs.cfg.Name, oneLine(out.Error))
	return "failed"
}

// release hands an attempt that never started back to the queue, or fails
// the order once it has failed to start too often.
func (d *dispatcher) release(ctx context.Context, hs *hostState, o db.Order, cause error) string {
	reason := fmt.Sprintf("start on %s: %v", hs.cfg.Name, cause)
	if o.Attempt >= maxInfraErrors {
		if err := d.db.FailOrder(ctx, o.ID, o.Attempt, reason+fmt.Sprintf(" (attempt %d, giving up)", o.Attempt)); err != nil {
			d.warnf("order %d: fail: %v", o.ID, err)
		}
		d.warnf("order %d failed: %s", o.ID, oneLine(reason))
		return "failed"
	}
	if err := d.db.ReleaseOrder(ctx, o.ID, o.Attempt, reason); err != nil {
		d.warnf("order %d: requeue: %v", o.ID, err)
	}
	d.logf("order %d requeued: %s", o.ID, oneLine(reason))
	return "requeued"
}

func lossText(o pyexec.Outcome) string {
	s := ""
	if o.Loss != nil {
		s += fmt.Sprintf(", loss %g", *o.Loss)
	}
	if o.Metric != nil {
		s += fmt.Sprintf(", metric %g", *o.Metric)
	}
	return s
}

// sleepCtx waits d or until ctx ends; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
