package dispatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/run"
)

// KillGrace is how long a run that is stopped (timed out, cancelled) gets
// between SIGTERM and SIGKILL: long enough for a trainer to save a
// checkpoint.
const KillGrace = 10 * time.Second

// attemptKey names one attempt of an order: a retried order's next
// attempt may start while the outcome of the one before is still saved.
type attemptKey struct {
	order   int64
	attempt int
}

func keyOf(o db.Order) attemptKey { return attemptKey{o.ID, o.Attempt} }

// runHandle is one attempt in flight on a host, as the scheduler sees it.
type runHandle struct {
	slot    string
	attempt int
	k       *killer
	ended   bool // its run is over on the host: the slot is free again while the outcome is saved
}

// killer stops a run at most once and remembers why, so that the outcome
// says "timeout" or "cancelled" rather than "killed by signal 15".
type killer struct {
	mu     sync.Mutex // guards reason
	reason string
}

func (k *killer) why() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reason
}

// kill asks the host to stop the run, once; later calls do nothing.
func (d *dispatcher) kill(ctx context.Context, hs *hostState, k *killer, id, reason string) {
	k.mu.Lock()
	if k.reason != "" {
		k.mu.Unlock()
		return
	}
	k.reason = reason
	k.mu.Unlock()
	d.logf("run %s on %s: %s, killing it", id, hs.cfg.Name, reason)
	h := hs.h
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		err := h.Kill(ctx, id, KillGrace)
		switch {
		case errors.Is(err, engine.ErrNotStarted):
			// Its start is still on the way: try again at the next check.
			k.mu.Lock()
			k.reason = ""
			k.mu.Unlock()
		case err != nil && ctx.Err() == nil:
			d.warnf("kill run %s on %s: %v", id, hs.cfg.Name, err)
		}
	}()
}

// runSpec is c's job, the run it makes on hs in slot and that run's
// environment variables: what runOne starts, and what adoptEnv reads the
// modules of.
func (d *dispatcher) runSpec(hs *hostState, slot string, c *db.Claim) (pyexec.Job, run.Spec, []string, error) {
	job := pyexec.Job{
		Queue: d.queue, JobID: c.Job.ID, OrderID: c.Order.ID, Attempt: c.Order.Attempt, Spec: c.Job.Spec,
		Script: c.Job.Script, DataFile: c.Job.DataFile,
	}
	env := envFor(hs.cfg, slot)
	spec, err := pyexec.Spec(job, pyexec.Settings{
		ScriptsDir: d.opts.ScriptsDir, DataDir: d.opts.DataDir,
		Python: hs.cfg.Python, Env: env,
	}, &d.files)
	return job, spec, env, err
}

// runOne runs one claimed attempt on hs and records what became of it.
func (d *dispatcher) runOne(ctx context.Context, hs *hostState, slot string, c *db.Claim, k *killer) {
	defer d.wg.Done()
	defer d.track(c)()
	o := c.Order
	done := event{host: hs, kind: "done", orderID: o.ID, attempt: o.Attempt, slot: slot}
	if why := d.gpuRefusal(pyexec.JobGPUs(c.Job.Spec)); why != "" {
		// Claimed only to be refused: waiting would not help.
		d.warnf("order %d (job %d): %s", o.ID, c.Job.ID, why)
		done.res = d.record(d.saveCtx, hs, o, pyexec.Outcome{Error: "refused: " + why}, run.Result{})
		d.send(done)
		return
	}

	job, spec, env, err := d.runSpec(hs, slot, c)
	if err != nil {
		// The job's own files are missing or bad here: no host can run it.
		done.res = d.record(d.saveCtx, hs, o, pyexec.Outcome{Error: "prepare: " + err.Error()}, run.Result{})
		d.send(done)
		return
	}
	// Before the script's first run here: can this host's python import
	// what it needs? If not, the order goes back untried.
	modules, err := d.checkScript(ctx, hs, job, spec, env)
	if err != nil {
		var ref *scriptRefusal
		if errors.As(err, &ref) {
			done.res = d.unclaim(d.saveCtx, hs, o, ref)
		} else {
			faultFence(hs, &done)
			done.res, done.err = d.release(d.saveCtx, hs, o, err), err
		}
		d.send(done)
		return
	}
	d.noteEnv(ctx, hs, o, &spec, env, modules)
	defer d.forgetEnv(o)

	timeout := d.timeoutOf(c.Job)
	limit := &deadline{}
	// A batch engine calls started from its poller, maybe as Run returns.
	var startedCalled atomic.Bool
	var startedAt atomic.Int64 // unix ns of the first started call
	started := func(s run.Started) {
		startedAt.CompareAndSwap(0, time.Now().UnixNano())
		if !startedCalled.Swap(true) {
			if err := d.markRunning(hs, o, s); err != nil {
				d.warnf("order %d on %s: mark running: %v", o.ID, hs.cfg.Name, err)
			}
			d.markTask(o, hs, s.Task)
			if s.Task != "" {
				d.logf("order %d submitted to %s as %s task %s (%s)", o.ID, hs.cfg.Name, hs.scheduler, s.Task, s.RunDir)
			} else {
				d.logf("order %d running on %s slot %s (pid %d, %s)", o.ID, hs.cfg.Name, slot, s.PID, s.RunDir)
			}
			d.observe(Event{Kind: OrderStarted, Host: hs.cfg.Name, Slot: slot, Order: o.ID, Job: o.JobID, Attempt: o.Attempt, PID: s.PID, Task: s.Task})
		}
		// A batch task queued at first is reported again once on a node:
		// its time limit counts from there.
		if !s.Queued {
			limit.arm(time.Now(), timeout, func() { d.kill(ctx, hs, k, spec.ID, fmt.Sprintf("timeout after %s", timeout)) })
		}
	}
	prog := d.openProgress(o, hs.cfg.Name, false, d.newPruner(hs, c, k, spec.ID, false))
	spec.Progress = prog.progress()
	spec.Lease = d.leaseOf(hs, c, slot)
	res, err := hs.h.Run(ctx, spec, started)
	cut := false // the connection dropped: the run may have started unseen
	if err != nil && ctx.Err() == nil && errors.Is(err, engine.ErrConnLost) {
		cut = true
		res, err = d.reattach(ctx, hs, o, spec.ID, prog)
	}
	limit.stop()
	prog.close() // its points saved before its outcome
	wasStarted := startedCalled.Load()
	switch {
	case err == nil:
		d.ended(hs, slot, o)
		done.res = d.finish(ctx, hs, o, res, k)
	case ctx.Err() != nil && wasStarted:
		// Interrupted: the run goes on, detached, on its host.
		d.logf("order %d left running on %s", o.ID, hs.cfg.Name)
		d.observe(Event{Kind: OrderDetached, Host: hs.cfg.Name, Slot: slot, Order: o.ID, Job: o.JobID, Attempt: o.Attempt})
		done.res = "detached"
	case isRefusal(err) && (wasStarted || cut):
		held := *c // as attachOne will need it: running since its start
		if at := startedAt.Load(); wasStarted && at != 0 {
			held.Order.State, held.Order.StartedAt = db.StateRunning, time.Unix(0, at)
		}
		done.res, done.err, done.claim = d.hold(hs, slot, &held, err), err, &held
	case errors.Is(err, errHostLost):
		faultFence(hs, &done)
		done.res, done.err = d.abandon(d.saveCtx, hs, o, err), err
	case !wasStarted && errors.Is(err, engine.ErrLeaseBusy):
		// Another run holds the slot's lease (another laptop's dispatcher),
		// or another dispatcher has waited longer: the slot is busy, not
		// failed. The order goes back untried.
		done.res, done.busy = d.leaseBusy(d.saveCtx, hs, o, err), true
	case !wasStarted && errors.Is(err, engine.ErrRunDirUsed):
		// A fact about one run dir (another queue file with this one's id
		// used it), not about the host: keep it up.
		done.res = d.release(d.saveCtx, hs, o, err)
	case !wasStarted:
		faultFence(hs, &done)
		done.res, done.err = d.release(d.saveCtx, hs, o, err), err
	default:
		reason := fmt.Sprintf("run on %s: %v", hs.cfg.Name, err)
		done.res = d.record(d.saveCtx, hs, o, pyexec.Outcome{Error: reason}, run.Result{})
	}
	d.send(done)
}

// attachOne waits again for an attempt adopted from a dispatcher that died
// (or from this one's earlier life), and records what became of it.
func (d *dispatcher) attachOne(ctx context.Context, hs *hostState, slot string, c *db.Claim, k *killer) {
	defer d.wg.Done()
	defer d.track(c)()
	o := c.Order
	id := pyexec.RunID(d.queue, o.ID, o.Attempt)
	done := event{host: hs, kind: "done", orderID: o.ID, attempt: o.Attempt, slot: slot}
	switch o.State {
	case db.StateCancelled:
		d.kill(ctx, hs, k, id, "cancelled")
	case db.StatePruned:
		d.kill(ctx, hs, k, id, cmp.Or(o.LastError, "pruned"))
	}
	limit := &deadline{}
	timeout := d.timeoutOf(c.Job)
	expire := func() { d.kill(ctx, hs, k, id, fmt.Sprintf("timeout after %s", timeout)) }
	batch := hs.scheduler != ""
	if !batch && !o.StartedAt.IsZero() {
		limit.arm(o.StartedAt, timeout, expire)
	}
	told := false // only the poller touches it after the first call
	prog := d.openProgress(o, hs.cfg.Name, true, d.newPruner(hs, c, k, id, true))
	opts := run.AttachOptions{StdoutTail: pyexec.StdoutFetch, StderrTail: pyexec.StderrFetch, Progress: prog.progress()}
	opts.Started = func(s run.Started) {
		if batch && !s.Queued {
			// A batch run's limit counts from its task's start, not its
			// submission (o.StartedAt).
			from := s.At
			if from.IsZero() {
				from = time.Now()
			}
			limit.arm(from, timeout, expire)
		}
		if told {
			return // the second call: only the time limit above
		}
		told = true
		if s.Task != "" && o.Slurm == nil {
			d.markTask(o, hs, s.Task)
		}
		if o.State == db.StateAssigned {
			// The earlier dispatcher died between the start and its record.
			if err := d.markRunning(hs, o, s); err != nil {
				d.warnf("order %d on %s: mark running: %v", o.ID, hs.cfg.Name, err)
			}
		}
	}
	d.adoptEnv(ctx, hs, slot, c)
	defer d.forgetEnv(o)
	res, err := hs.h.Attach(ctx, id, opts)
	if err != nil && ctx.Err() == nil && errors.Is(err, engine.ErrConnLost) {
		res, err = d.reattach(ctx, hs, o, id, prog)
	}
	limit.stop()
	prog.close()
	if err == nil && !res.Timed && (res.At.IsZero() || !batch) && !o.StartedAt.IsZero() {
		// The duration counts from the real start, not from the attach (a
		// run read from its run dir, or a batch run, has its own clock).
		res.At = o.StartedAt
	}
	switch {
	case err == nil:
		d.ended(hs, slot, o)
		done.res = d.finish(ctx, hs, o, res, k)
	case ctx.Err() != nil:
		d.observe(Event{Kind: OrderDetached, Host: hs.cfg.Name, Slot: slot, Order: o.ID, Job: o.JobID, Attempt: o.Attempt})
		done.res = "detached"
	case errors.Is(err, engine.ErrNotStarted):
		if o.State == db.StateCancelled {
			done.res = d.record(d.saveCtx, hs, o, pyexec.Outcome{Error: "cancelled before it started"}, run.Result{})
		} else {
			done.res, done.err = d.release(d.saveCtx, hs, o, errors.New("the run never started (its dispatcher stopped first)")), nil
		}
	case isRefusal(err):
		done.res, done.err, done.claim = d.hold(hs, slot, c, err), err, c
	case errors.Is(err, errHostLost):
		faultFence(hs, &done)
		done.res, done.err = d.abandon(d.saveCtx, hs, o, err), err
	default:
		done.res = d.record(d.saveCtx, hs, o, pyexec.Outcome{Error: fmt.Sprintf("reattach on %s: %v", hs.cfg.Name, err)}, run.Result{})
	}
	d.send(done)
}

// deadline kills a run once its time limit has passed. It is armed when
// the run starts, which a batch engine reports from its poller, maybe as
// the waiting goroutine stops it: mu guards the fields.
type deadline struct {
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

// arm starts the clock at from, once: later calls, calls after stop and a
// timeout of 0 (none) do nothing.
func (dl *deadline) arm(from time.Time, timeout time.Duration, expire func()) {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if timeout <= 0 || dl.timer != nil || dl.stopped {
		return
	}
	dl.timer = time.AfterFunc(max(time.Until(from.Add(timeout)), 0), expire)
}

// stop ends the clock for good.
func (dl *deadline) stop() {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	dl.stopped = true
	if dl.timer != nil {
		dl.timer.Stop()
	}
}

// faultFence stops fill from claiming orders for hs until the loop has
// read done: a worker calls it before handing back the order of a run its
// host failed, so the order waits for another host, or for this one once
// the loop has marked it down or refused and it answers again, instead of
// being claimed for it again in between (a refused sbatch ran every order
// of an array twice that way).
func faultFence(hs *hostState, done *event) {
	hs.claimMu.Lock()
	hs.faults++
	hs.claimMu.Unlock()
	done.fault = true
}

// lowerFence undoes one faultFence, once the loop has read its done.
func lowerFence(hs *hostState) {
	hs.claimMu.Lock()
	hs.faults--
	hs.claimMu.Unlock()
}

// errHostLost ends the wait on a run whose host has not answered for
// Options.LostAfter: the order is queued again as a new attempt.
var errHostLost = errors.New("host unreachable")

// reattach waits for the host to answer again after the connection dropped
// mid-run, then waits on the run from its run dir. It gives up after
// LostAfter without an answer.
func (d *dispatcher) reattach(ctx context.Context, hs *hostState, o db.Order, id string, prog *progressSink) (run.Result, error) {
	lostSince := time.Now()
	backoff := d.opts.Poll
	for {
		d.warnf("order %d on %s: connection lost while waiting; the run goes on there, reattaching", o.ID, hs.cfg.Name)
		if !sleepCtx(ctx, backoff) {
			return run.Result{}, ctx.Err()
		}
		res, err := hs.h.Attach(ctx, id, run.AttachOptions{StdoutTail: pyexec.StdoutFetch, StderrTail: pyexec.StderrFetch,
			Progress: prog.progress()})
		if err == nil || isRefusal(err) || !errors.Is(err, engine.ErrConnLost) && !isDialError(err) {
			return res, err // a refusal (see hold), even one that ended the host's agent
		}
		if time.Since(lostSince) >= d.opts.LostAfter {
			return run.Result{}, fmt.Errorf("%w for %s", errHostLost, d.opts.LostAfter)
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// isRefusal tells a host that answers but is not trusted (its key
// changed, or it refused our key) from other errors: a fact about the host,
// never about a run waited on there (see hold).
func isRefusal(err error) bool {
	return errors.Is(err, engine.ErrRefused)
}

// hold stops waiting on a run whose host was refused while it ran: the run
// goes on there and its order stays assigned or running, for this
// dispatcher to collect should the host be trusted again, or for the next
// one to adopt. Nothing is recorded: a changed key says nothing of the run.
func (d *dispatcher) hold(hs *hostState, slot string, c *db.Claim, cause error) string {
	o := c.Order
	why := "it refused us"
	if r := refusal(cause); r != nil {
		why = r.Why()
	}
	d.warnf("order %d left running on %s (%s): nothing is recorded; it is collected once the host is trusted again", o.ID, hs.cfg.Name, why)
	d.observe(Event{Kind: OrderDetached, Host: hs.cfg.Name, Slot: slot, Order: o.ID, Job: o.JobID, Attempt: o.Attempt})
	return "held"
}

// isDialError tells a host that does not answer from other errors.
func isDialError(err error) bool {
	return err != nil && !errors.Is(err, engine.ErrRefused) &&
		!errors.Is(err, engine.ErrNotStarted) && !errors.Is(err, engine.ErrRunDirUsed) && !isExit(err)
}

func isExit(err error) bool {
	var ee *engine.ExitError
	return errors.As(err, &ee)
}

// finish turns a finished run into the attempt's outcome: recorded, or,
// for a run lost with its host, the order queued again. ctx is the run's:
// once it ends, a search of the run's stdout still going (see outcome)
// leaves the order running, "detached", for the next dispatch; records
// are written whatever it says.
func (d *dispatcher) finish(ctx context.Context, hs *hostState, o db.Order, res run.Result, k *killer) string {
	d.keepLogs(o, res)
	why := k.why()
	if why == "" && d.cancelled(ctx, o) {
		// mljob cancel killed it before this dispatcher's next check did.
		why = "cancelled"
	}
	sched, infra := res.Reason, res.Infra
	if infra && why == "" {
		return d.release(d.saveCtx, hs, o, errors.New(sched))
	}
	if res.Lost && why == "" && sched == "" {
		return d.release(d.saveCtx, hs, o, errors.New("lost: the run ended without an exit code (its host restarted, or it was killed from outside)"))
	}
	out, ok := d.outcome(ctx, hs, o, res)
	if !ok {
		return d.detached(hs, o)
	}
	if why == "" && sched != "" {
		why = sched
	}
	if why != "" {
		out.Succeeded = false
		out.Error = why
		if res.Lost {
			out.Error += " (killed)"
		}
	}
	key := keyOf(o)
	d.fetching.Store(key, struct{}{}) // before the record makes them owed
	result := d.record(d.saveCtx, hs, o, out, res)
	d.bringHome(ctx, hs, o)
	d.fetching.Delete(key)
	if result == "failed" && why == "" && d.opts.RetryFailed && o.Attempt <= d.opts.Retries {
		if _, err := d.db.RetryOrders(d.saveCtx, db.Selection{OrderIDs: []int64{o.ID}}, db.StateFailed); err != nil {
			d.warnf("order %d: retry: %v", o.ID, err)
			return result
		}
		d.logf("order %d queued again after its script failed (--retry-failed, attempt %d of %d)", o.ID, o.Attempt, d.opts.Retries+1)
		d.observe(Event{Kind: OrderRequeued, Host: hs.cfg.Name, Order: o.ID, Job: o.JobID, Attempt: o.Attempt})
		return "requeued"
	}
	return result
}

// cancelled reports whether o was cancelled while its run went on.
func (d *dispatcher) cancelled(ctx context.Context, o db.Order) bool {
	st, err := d.db.OrderStates(ctx, []int64{o.ID})
	if err != nil {
		d.warnf("order %d: %v", o.ID, err)
		return false
	}
	s, ok := st[o.ID]
	return ok && s.State == db.StateCancelled && s.Attempt == o.Attempt
}

// markRunning records that an attempt's run started.
func (d *dispatcher) markRunning(hs *hostState, o db.Order, s run.Started) error {
	return d.save(fmt.Sprintf("order %d on %s: mark running", o.ID, hs.cfg.Name), func(ctx context.Context) error {
		return d.db.MarkRunning(ctx, o.ID, o.Attempt, s.RunDir, s.PID)
	})
}

// markTask records the batch scheduler's task a run was handed to.
func (d *dispatcher) markTask(o db.Order, hs *hostState, task string) {
	if task == "" {
		return
	}
	if err := d.db.MarkTask(d.saveCtx, o.ID, o.Attempt, task); err != nil {
		d.warnf("order %d on %s: record %s task: %v", o.ID, hs.cfg.Name, hs.scheduler, err)
	}
}

// record writes the outcome of an attempt; it returns "succeeded",
// "failed" or "pruned" (its pruner stopped it: see pruner).
func (d *dispatcher) record(ctx context.Context, hs *hostState, o db.Order, out pyexec.Outcome, res run.Result) string {
	rec := dbOutcome(o, hs.cfg.Name, out)
	rec.Env = d.envOf(o)
	if rec.Env == "" {
		rec.Env = d.reportedEnv(hs, o, res)
	}
	if d.opts.BeforeRecord != nil {
		d.opts.BeforeRecord(o.ID)
	}
	var recorded bool
	err := d.save(fmt.Sprintf("order %d on %s: record outcome", o.ID, hs.cfg.Name), func(ctx context.Context) error {
		var err error
		recorded, err = d.db.RecordOutcome(ctx, rec)
		return err
	})
	if err != nil {
		// Never reported as done: the order stays as it was, and the run
		// dir keeps the outcome for the next dispatch.
		return d.unsaved(hs, o, err)
	}
	if !recorded {
		d.logf("order %d attempt %d: outcome already recorded; kept the first", o.ID, o.Attempt)
	}
	e := Event{Kind: OrderSucceeded, Host: hs.cfg.Name, Order: o.ID, Job: o.JobID, Attempt: o.Attempt, Duration: out.Duration,
		Cost: out.Cost}
	if info := d.tracked(o); info.objective.Name != "" {
		info.set(&e)
		e.Value = info.objective.Value(out.JSON)
	}
	if pr, pruned := d.takePruned(o); pruned || o.State == db.StatePruned {
		// Its pruner stopped it, here or before this dispatcher adopted it.
		d.logf("order %d %s on %s", o.ID, oneLine(out.Error), hs.cfg.Name)
		e.Kind, e.Reason, e.Value, e.Step, e.Series = OrderPruned, oneLine(out.Error), pr.value, pr.step, pr.series
		d.observe(e)
		return "pruned"
	}
	if out.Succeeded {
		d.logf("order %d succeeded on %s in %s%s", o.ID, hs.cfg.Name, out.Duration.Round(time.Millisecond), lossText(out))
		d.observe(e)
		return "succeeded"
	}
	d.logf("order %d failed on %s: %s", o.ID, hs.cfg.Name, oneLine(out.Error))
	e.Kind, e.Reason = OrderFailed, oneLine(out.Error)
	d.observe(e)
	return "failed"
}

// dbOutcome is the record of what an attempt of o on host reported.
func dbOutcome(o db.Order, host string, out pyexec.Outcome) db.Outcome {
	return db.Outcome{
		OrderID: o.ID, JobID: o.JobID, Attempt: o.Attempt, Host: host,
		Succeeded: out.Succeeded, Status: out.Status, Loss: out.Loss, Metric: out.Metric,
		ExitCode: out.ExitCode, DurationSeconds: out.Duration.Seconds(), Error: out.Error, Warning: out.Warning,
		JSON: out.JSON, StdoutTail: out.StdoutTail, StderrTail: out.StderrTail, Cost: out.Cost,
		NoArtifactsDir: out.NoArtifactsDir,
	}
}

// release hands an attempt lost to infrastructure back to the queue, or
// fails the order once it has used up its retries.
func (d *dispatcher) release(ctx context.Context, hs *hostState, o db.Order, cause error) string {
	reason := fmt.Sprintf("%s: %v", hs.cfg.Name, cause)
	if o.InfraFailures >= d.opts.Retries {
		reason += fmt.Sprintf(" (attempt %d; no retries left of %d)", o.Attempt, d.opts.Retries)
		err := d.save(fmt.Sprintf("order %d: fail", o.ID), func(ctx context.Context) error {
			return d.db.FailOrder(ctx, o.ID, o.Attempt, reason)
		})
		if err != nil {
			return d.unsaved(hs, o, err)
		}
		d.warnf("order %d failed: %s", o.ID, oneLine(reason))
		d.observe(Event{Kind: OrderFailed, Host: hs.cfg.Name, Order: o.ID, Job: o.JobID, Attempt: o.Attempt, Reason: oneLine(reason)})
		return "failed"
	}
	err := d.save(fmt.Sprintf("order %d: requeue", o.ID), func(ctx context.Context) error {
		return d.db.ReleaseOrder(ctx, o.ID, o.Attempt, reason)
	})
	if err != nil {
		if errors.Is(err, db.ErrStaleAttempt) {
			// Cancelled meanwhile: close the attempt with what is known.
			if d.cancelled(ctx, o) {
				reason = "cancelled (" + reason + ")"
			}
			return d.record(ctx, hs, o, pyexec.Outcome{Error: reason}, run.Result{})
		}
		return d.unsaved(hs, o, err)
	}
	d.logf("order %d requeued: %s", o.ID, oneLine(reason))
	d.observe(Event{Kind: OrderReleased, Host: hs.cfg.Name, Order: o.ID, Job: o.JobID, Attempt: o.Attempt, Reason: oneLine(reason)})
	return "requeued"
}

// abandon gives up on a run whose host stopped answering: the order is
// queued again, and the attempt marked abandoned so that, should its run
// finish after all, its outcome is kept (see lateOne).
func (d *dispatcher) abandon(ctx context.Context, hs *hostState, o db.Order, cause error) string {
	if o.InfraFailures >= d.opts.Retries {
		return d.release(ctx, hs, o, cause)
	}
	reason := fmt.Sprintf("%s: %v", hs.cfg.Name, cause)
	err := d.save(fmt.Sprintf("order %d: requeue", o.ID), func(ctx context.Context) error {
		return d.db.AbandonOrder(ctx, o.ID, o.Attempt, reason)
	})
	if err != nil {
		return d.unsaved(hs, o, err)
	}
	d.warnf("order %d requeued: %s; its run there will be checked when the host answers again", o.ID, oneLine(reason))
	d.observe(Event{Kind: OrderAbandoned, Host: hs.cfg.Name, Order: o.ID, Job: o.JobID, Attempt: o.Attempt, Reason: oneLine(reason)})
	return "requeued"
}

// lateOne looks at the run of an abandoned attempt once its host answers
// again: still running → killed (a later attempt has the job); finished →
// its outcome is kept (RecordLateOutcome); otherwise it is forgotten.
func (d *dispatcher) lateOne(ctx context.Context, hs *hostState, c db.Claim) {
	defer d.wg.Done()
	o := c.Order
	id := pyexec.RunID(d.queue, o.ID, o.Attempt)
	defer d.send(event{host: hs, kind: "late", orderID: o.ID, runID: id})
	if o.PID > 0 {
		p, err := hs.h.Probe(ctx, []string{id})
		if err != nil {
			return // the host is not back after all: try again later
		}
		if p.Alive[id] {
			if err := hs.h.Kill(ctx, id, KillGrace); err != nil {
				d.warnf("order %d: kill the abandoned run %s on %s: %v", o.ID, id, hs.cfg.Name, err)
				return
			}
			d.clearAbandoned(d.saveCtx, o, "killed when its host answered again: a later attempt has the job")
			return
		}
	}
	prog := d.openProgress(o, hs.cfg.Name, true, nil) // a later attempt has the job: no verdict on this one
	res, err := hs.h.Attach(ctx, id, run.AttachOptions{StdoutTail: pyexec.StdoutFetch, StderrTail: pyexec.StderrFetch,
		Progress: prog.progress()})
	prog.close()
	switch {
	case errors.Is(err, engine.ErrNotStarted):
		d.clearAbandoned(d.saveCtx, o, "it never started")
		return
	case err != nil:
		return
	case res.Lost:
		d.clearAbandoned(d.saveCtx, o, "its run was lost")
		return
	}
	if !res.Timed && !o.StartedAt.IsZero() {
		res.At = o.StartedAt
	}
	d.keepLogs(o, res)
	out, ok := d.outcome(ctx, hs, o, res)
	if !ok {
		return
	}
	rec := dbOutcome(o, hs.cfg.Name, out)
	rec.Env = d.reportedEnv(hs, o, res)
	var note string
	var recorded bool
	err = d.save(fmt.Sprintf("order %d attempt %d: record late outcome", o.ID, o.Attempt), func(ctx context.Context) error {
		var err error
		note, recorded, err = d.db.RecordLateOutcome(ctx, rec)
		return err
	})
	if err != nil {
		d.warnf("order %d: %v", o.ID, err)
		return
	}
	if recorded {
		d.warnf("order %d on %s: %s", o.ID, hs.cfg.Name, note)
	}
}

func (d *dispatcher) clearAbandoned(_ context.Context, o db.Order, note string) {
	err := d.save(fmt.Sprintf("order %d attempt %d: forget the abandoned run", o.ID, o.Attempt), func(ctx context.Context) error {
		return d.db.ClearAbandoned(ctx, o.ID, o.Attempt, note)
	})
	if err != nil {
		d.warnf("order %d: %v", o.ID, err)
	}
}

// keepLogs copies what came back of a finished run's output to the log dir:
// a whole stream under LogFile's name, the end of a longer one (only a tail
// comes back) under that name plus PartialSuffix, so that mljob logs reads
// the whole of it from the host instead.
func (d *dispatcher) keepLogs(o db.Order, res run.Result) {
	if d.opts.LogDir == "" {
		return
	}
	for _, s := range []struct {
		name string
		data []byte
		size int64
	}{{"stdout", res.Stdout, res.StdoutSize}, {"stderr", res.Stderr, res.StderrSize}} {
		path := LogFile(d.opts.LogDir, o.ID, o.Attempt, s.name)
		if s.size > int64(len(s.data)) {
			path += PartialSuffix
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			d.warnf("keep logs of order %d: %v", o.ID, err)
			return
		}
		if err := os.WriteFile(path, s.data, 0o600); err != nil {
			d.warnf("keep logs of order %d: %v", o.ID, err)
			return
		}
	}
}

// timeoutOf is the job's "timeoutSeconds" field, else Options.Timeout.
func (d *dispatcher) timeoutOf(j db.Job) time.Duration {
	if t := pyexec.JobTimeout(j.Spec); t > 0 {
		return t
	}
	return d.opts.Timeout
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

// ended tells the scheduler that order's run is over on its host, before
// its outcome is read and saved: its slot takes the next order meanwhile,
// so that a database commit is not a gap between two runs.
func (d *dispatcher) ended(hs *hostState, slot string, o db.Order) {
	d.observe(Event{Kind: OrderEnded, Host: hs.cfg.Name, Slot: slot, Order: o.ID, Job: o.JobID, Attempt: o.Attempt})
	d.send(event{host: hs, kind: "ended", orderID: o.ID, attempt: o.Attempt})
}
