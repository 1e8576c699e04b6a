// Package fake is an in-memory engine.Engine: runs are Go functions, run
// dirs are map entries, and nothing starts a process or touches a host. It
// keeps the engine contract (enginetest runs against it), so that the
// dispatcher can be tested without hosts; it is never used for real work.
package fake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/run"
)

// Func is what a run does: it writes its streams and returns its exit
// status. ctx ends when the run is killed (the status is then 128+15
// whatever Func returns).
type Func func(ctx context.Context, spec run.Spec, stdout, stderr io.Writer) int

// Engine is the fake engine of one host. It is safe for concurrent use.
type Engine struct {
	name string
	do   Func
	// Verdict, when set before the first run, is the engine's own word on
	// each run as it ends (run.Result.Reason and Infra), as a batch
	// scheduler's would be.
	Verdict func(spec run.Spec) (reason string, infra bool)

	mu     sync.Mutex
	runs   map[string]*fakeRun
	pid    int
	closed bool
	// down, when set, is returned by every call: the host does not answer.
	down error
}

type fakeRun struct {
	fenced  bool // Attach found it never started: it never will
	started run.Started
	cancel  context.CancelFunc
	killed  bool
	done    chan struct{} // closed when res is set
	res     run.Result
	out     lockedBuffer
	errOut  lockedBuffer
}

// New returns the fake engine of host name, whose runs do do.
func New(name string, do Func) *Engine {
	return &Engine{name: name, do: do, runs: map[string]*fakeRun{}}
}

// SetDown makes every call fail with err (wrap engine.ErrConnLost for a
// host that stopped answering, engine.ErrRefused for one refused), until
// SetDown(nil). Runs under way go on.
func (e *Engine) SetDown(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.down = err
}

// Runs lists the ids of the runs started, in no order.
func (e *Engine) Runs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ids []string
	for id, r := range e.runs {
		if !r.fenced {
			ids = append(ids, id)
		}
	}
	return ids
}

var plainName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (e *Engine) check() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("fake %s: closed", e.name)
	}
	return e.down
}

// Run starts spec and waits for it (see engine.Engine).
func (e *Engine) Run(ctx context.Context, spec run.Spec, started func(run.Started)) (run.Result, error) {
	if err := e.check(); err != nil {
		return run.Result{}, err
	}
	if !plainName.MatchString(spec.ID) || len(spec.Argv) == 0 {
		return run.Result{}, fmt.Errorf("run on %s: bad spec (id %q, %d words)", e.name, spec.ID, len(spec.Argv))
	}
	e.mu.Lock()
	if _, used := e.runs[spec.ID]; used {
		e.mu.Unlock()
		return run.Result{}, fmt.Errorf("run %s on %s: %w", spec.ID, e.name, engine.ErrRunDirUsed)
	}
	e.pid++
	runCtx, cancel := context.WithCancel(context.Background())
	r := &fakeRun{cancel: cancel, done: make(chan struct{}),
		started: run.Started{RunDir: "/fake/" + e.name + "/runs/" + spec.ID, PID: e.pid, At: time.Now()}}
	e.runs[spec.ID] = r
	e.mu.Unlock()
	go func() {
		code := e.do(runCtx, spec, &r.out, &r.errOut)
		e.mu.Lock()
		if r.killed {
			code = 128 + 15
		}
		r.res = run.Result{Started: r.started, ExitCode: code, FinishedAt: time.Now()}
		if e.Verdict != nil {
			r.res.Reason, r.res.Infra = e.Verdict(spec)
		}
		e.mu.Unlock()
		cancel()
		close(r.done)
	}()
	if started != nil {
		started(r.started)
	}
	return e.wait(ctx, r, spec.StdoutTail, spec.StderrTail, spec.Progress)
}

// wait waits for r to end and returns its result. Its progress lines are
// read every progressPoll while it runs, and to the end before the result.
func (e *Engine) wait(ctx context.Context, r *fakeRun, stdoutTail, stderrTail int, progress run.Progress) (run.Result, error) {
	var tick <-chan time.Time
	var pr *progressReader
	if progress.On() {
		pr = &progressReader{p: progress, sc: run.NewProgressScanner(progress.From), fed: progress.From, sent: -1}
		t := time.NewTicker(progressPoll)
		defer t.Stop()
		tick = t.C
	}
wait:
	for {
		select {
		case <-r.done:
			break wait
		case <-ctx.Done():
			return run.Result{}, ctx.Err()
		case <-tick:
			pr.read(&r.out, false)
		}
	}
	if err := e.check(); err != nil {
		return run.Result{}, err
	}
	res := r.res
	if pr != nil {
		pr.read(&r.out, true)
	}
	res.Stdout, res.StdoutSize = r.out.tail(stdoutTail)
	res.Stderr, res.StderrSize = r.errOut.tail(stderrTail)
	return res, nil
}

// Attach waits again for run id (see engine.Engine).
func (e *Engine) Attach(ctx context.Context, id string, opts run.AttachOptions) (run.Result, error) {
	if err := e.check(); err != nil {
		return run.Result{}, err
	}
	e.mu.Lock()
	r, ok := e.runs[id]
	if !ok {
		e.runs[id] = &fakeRun{fenced: true}
	}
	e.mu.Unlock()
	if !ok || r.fenced {
		return run.Result{}, fmt.Errorf("attach %s on %s: %w", id, e.name, engine.ErrNotStarted)
	}
	if opts.Started != nil {
		opts.Started(r.started)
	}
	return e.wait(ctx, r, opts.StdoutTail, opts.StderrTail, opts.Progress)
}

// Kill stops run id at once (the grace is not waited).
func (e *Engine) Kill(ctx context.Context, id string, grace time.Duration) error {
	if err := e.check(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.runs[id]
	if !ok || r.fenced {
		return fmt.Errorf("kill %s on %s: %w", id, e.name, engine.ErrNotStarted)
	}
	select {
	case <-r.done:
	default:
		r.killed = true
		r.cancel()
	}
	return nil
}

// Probe says which of runs are under way; the load is 0.
func (e *Engine) Probe(ctx context.Context, runs []string) (engine.Probe, error) {
	if err := e.check(); err != nil {
		return engine.Probe{}, err
	}
	p := engine.Probe{Alive: map[string]bool{}}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range runs {
		if r, ok := e.runs[id]; ok && !r.fenced {
			select {
			case <-r.done:
			default:
				p.Alive[id] = true
			}
		}
	}
	return p, nil
}

// Output copies a run's stream; with follow, once the run has ended.
func (e *Engine) Output(ctx context.Context, id, stream string, follow bool, w io.Writer) error {
	if err := e.check(); err != nil {
		return err
	}
	e.mu.Lock()
	r, ok := e.runs[id]
	e.mu.Unlock()
	if !ok || r.fenced {
		return fmt.Errorf("output %s on %s: %w", id, e.name, engine.ErrNotStarted)
	}
	if follow {
		select {
		case <-r.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b := &r.out
	if stream == "stderr" {
		b = &r.errOut
	}
	data, _ := b.tail(-1)
	_, err := w.Write(data)
	return err
}

// ExecInRun runs no commands: the fake has no host. Its runs' outcome
// lines must lie within the tail a Result brings back.
func (e *Engine) ExecInRun(ctx context.Context, id string, argv []string, stdout io.Writer) error {
	return fmt.Errorf("exec in run %s on %s: the fake engine runs no commands", id, e.name)
}

// Close ends the engine; runs go on.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return nil
}

// progressPoll is how often a waited run's stdout is read for progress
// lines.
const progressPoll = 10 * time.Millisecond

// progressReader reads a run's progress lines for one wait.
type progressReader struct {
	p    run.Progress
	sc   *run.ProgressScanner
	fed  int64 // stdout bytes fed to sc
	sent int64 // the end last delivered
}

// read feeds sc what is new in out and delivers what it found; final: the
// run has ended.
func (pr *progressReader) read(out *lockedBuffer, final bool) {
	all, size := out.tail(-1)
	if pr.fed > size {
		return
	}
	lines := pr.sc.Feed(nil, all[pr.fed:])
	pr.fed = size
	if final {
		lines = pr.sc.Finish(lines)
	}
	if len(lines) > 0 || pr.sc.End() != pr.sent || final {
		pr.sent = pr.sc.End()
		pr.p.Lines(lines, pr.sent)
	}
}

// lockedBuffer is a run's stream, written by its Func and read by waiters.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// tail returns the last n bytes (all with n < 0) and the full size.
func (l *lockedBuffer) tail(n int) ([]byte, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.b.Bytes()
	size := int64(len(b))
	if n >= 0 && len(b) > n {
		b = b[len(b)-n:]
	}
	return append([]byte(nil), b...), size
}
