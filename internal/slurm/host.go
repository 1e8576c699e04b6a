package slurm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshworker"
)

// Defaults for Config.
const (
	DefaultPoll = 2 * time.Second
	// DefaultBatchWindow is how long a submission waits for more runs to
	// join its array after the last one came: the dispatcher claims a
	// slot's worth of orders in a burst.
	DefaultBatchWindow = 200 * time.Millisecond
	// maxBatchWait bounds the wait of the first run of a batch.
	maxBatchWait = 2 * time.Second
	// MaxArray is the most tasks one sbatch array holds: Slurm's default
	// MaxArraySize is 1001 (indices 0-1000).
	MaxArray = 1000
	// prepareSessions bounds the run-dir preparations in flight: each holds
	// an SSH session, and OpenSSH allows 10 per connection by default.
	prepareSessions = 4
	// settlePolls is how many polls a run may look ended before it is
	// taken as ended: exit_code may reach the login node's view of a
	// shared filesystem later than Slurm's word (NFS attribute caches).
	settlePolls = 3
)

// Config describes one entry of kind slurm.
type Config struct {
	// Name is the entry's name, for messages.
	Name string
	// Sbatch are the entry's own sbatch options, after mljob's.
	Sbatch []string
	// Env are KEY=VALUE words exported before every Slurm command (and so
	// inherited by the tasks, as sbatch exports its environment).
	Env []string
	// Slots throttles each array ("%N"): at most that many of its tasks run
	// at once. The dispatcher keeps no more than Slots runs in flight.
	Slots int
	// Poll is how often the runs in flight are looked at; 0 = DefaultPoll.
	Poll time.Duration
	// BatchWindow: see DefaultBatchWindow; 0 = the default.
	BatchWindow time.Duration
	// OnPoll, when set, gets each poll's news (see PollNews), from the
	// poller's goroutine; it must return quickly.
	OnPoll func(PollNews)
	// Warn, when set, gets problems that do not end a run (squeue failed
	// this tick, ...).
	Warn func(string)
}

// TaskState is a run's task state as a poll saw it.
type TaskState struct {
	RunID string
	State string // squeue's or sacct's word; "" = Slurm does not list it
}

// PollNews is what one poll learnt: the tasks whose state changed, and how
// many of the runs in flight wait in Slurm's queue and how many run.
type PollNews struct {
	Changed          []TaskState
	Pending, Running int
}

// Host runs the runs of one Slurm entry. It is safe for concurrent use.
type Host struct {
	h   *sshworker.Host
	cfg Config
	env []string // "nenv" then the words, as the scripts take them

	prep chan struct{} // semaphore of prepareSessions
	kick chan struct{} // buffered 1: see nudge

	lastTrouble string // the poller's last warning; only the poller uses it

	life   context.Context // ends with Close: the poller and submissions
	cancel context.CancelFunc
	wg     sync.WaitGroup // the poller and the batch timer's submissions

	mu    sync.Mutex // guards the fields below
	batch []*submission
	first time.Time // when the batch's first run came
	// preparing counts the runs whose run dir is being prepared: the batch
	// waits for them (up to maxBatchWait).
	preparing int
	timer     *time.Timer
	waiters   map[string]*waiter
	polling   bool
	noAcct    bool // sacct said accounting is off: not asked again
}

// New returns the engine of a Slurm entry whose login node h reaches.
// Close closes h.
func New(h *sshworker.Host, cfg Config) *Host {
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.BatchWindow <= 0 {
		cfg.BatchWindow = DefaultBatchWindow
	}
	cfg.Slots = min(max(cfg.Slots, 1), MaxArray)
	life, cancel := context.WithCancel(context.Background())
	return &Host{
		h: h, cfg: cfg, env: append([]string{strconv.Itoa(len(cfg.Env))}, cfg.Env...),
		prep: make(chan struct{}, prepareSessions), life: life, cancel: cancel,
		waiters: map[string]*waiter{}, kick: make(chan struct{}, 1),
	}
}

// Close stops polling and closes the login node's connection. Runs go on
// in Slurm; waiters should have ended with their contexts.
func (s *Host) Close() error {
	s.cancel()
	s.mu.Lock()
	if s.timer != nil {
		s.timer.Stop()
	}
	batch := s.batch
	s.batch = nil
	s.mu.Unlock()
	for _, b := range batch {
		b.done <- submitted{err: errors.New("the dispatcher stopped before the batch was submitted")}
	}
	s.wg.Wait()
	return s.h.Close()
}

// submission is a prepared run waiting for its array.
type submission struct {
	id   string
	done chan submitted // buffered: the submitter never blocks
}

type submitted struct {
	task string
	err  error
}

// Run prepares the run dir, submits the run in the next array, reports it
// started (Queued, with its task) once Slurm has accepted it, again (not
// Queued) when the task is seen running, and waits for the task to end.
// After started, the run goes on in Slurm whatever happens here; Attach
// waits for it again.
func (s *Host) Run(ctx context.Context, spec run.Spec, started func(run.Started)) (run.Result, error) {
	dir, err := s.prepare(ctx, spec)
	if err != nil {
		return run.Result{}, err
	}
	sub := &submission{id: spec.ID, done: make(chan submitted, 1)}
	s.enqueue(sub)
	var got submitted
	select {
	case got = <-sub.done:
	case <-ctx.Done():
		if s.withdraw(sub) {
			s.end(spec.ID) // never submitted: make sure it never starts
			return run.Result{}, ctx.Err()
		}
		got = <-sub.done // being submitted right now: learn how it went
	}
	if got.err != nil && errors.Is(got.err, sshconn.ErrConnLost) {
		// The connection dropped while sbatch ran: whether Slurm took the
		// array is written in the run dir (.task). Read it back once the
		// login node answers, as an adopting dispatcher would.
		return s.resolveCut(ctx, spec, dir, started)
	}
	if got.err != nil {
		s.end(spec.ID)
		return run.Result{}, got.err
	}
	st := run.Started{RunDir: dir, At: time.Now(), Task: got.task, Queued: true}
	if started != nil {
		started(st)
	}
	w := s.watch(&waiter{id: spec.ID, task: got.task, progress: spec.Progress, running: func() {
		if started != nil {
			r := st
			r.Queued = false
			started(r)
		}
	}})
	return s.wait(ctx, w, dir, spec.StdoutTail, spec.StderrTail)
}

// resolveCut finds out whether a submission cut short reached Slurm: the
// poller reads the run dir, and either finds its task (the run is then
// reported started and waited on as usual) or fences it, so that no late
// task can start it (ErrNotStarted: the attempt may go to the queue again).
func (s *Host) resolveCut(ctx context.Context, spec run.Spec, dir string, started func(run.Started)) (run.Result, error) {
	s.warnf("sbatch on %s: the connection dropped; reading the run dirs to learn whether Slurm took the array", s.cfg.Name)
	w := s.watch(&waiter{id: spec.ID, attach: true, progress: spec.Progress, started: func(st run.Started) {
		if started != nil {
			started(run.Started{RunDir: dir, At: time.Now(), Task: st.Task, Queued: st.Queued})
		}
	}})
	res, err := s.wait(ctx, w, dir, spec.StdoutTail, spec.StderrTail)
	if errors.Is(err, sshworker.ErrNotStarted) {
		return res, fmt.Errorf("sbatch on %s: the connection dropped before Slurm took the array; its run dir is fenced off (%w)", s.cfg.Name, err)
	}
	return res, err
}

// Attach waits again for a run submitted earlier, by this process or
// another, and returns its result. ErrNotStarted (sshworker's) when the run
// was never submitted: its run dir is then fenced off for good, so a task
// of a submission cut short can never start it later.
func (s *Host) Attach(ctx context.Context, id string, opts run.AttachOptions) (run.Result, error) {
	w := s.watch(&waiter{id: id, attach: true, started: opts.Started, progress: opts.Progress})
	return s.wait(ctx, w, "", opts.StdoutTail, opts.StderrTail)
}

// prepare fills the run dir, a bounded number at a time.
func (s *Host) prepare(ctx context.Context, spec run.Spec) (string, error) {
	s.mu.Lock()
	s.preparing++
	s.mu.Unlock()
	dir, err := s.prepareDir(ctx, spec)
	if err != nil {
		s.mu.Lock()
		s.preparing--
		s.mu.Unlock()
	}
	return dir, err
}

func (s *Host) prepareDir(ctx context.Context, spec run.Spec) (string, error) {
	select {
	case s.prep <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.prep }()
	return s.h.Prepare(ctx, spec)
}

// enqueue adds a prepared run to the next array and arms its submission.
func (s *Host) enqueue(sub *submission) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.preparing--
	if len(s.batch) == 0 {
		s.first = now
	}
	s.batch = append(s.batch, sub)
	if s.timer != nil {
		s.timer.Stop()
	}
	wait := min(s.cfg.BatchWindow, max(s.first.Add(maxBatchWait).Sub(now), 0))
	if len(s.batch) >= MaxArray {
		wait = 0
	}
	s.timer = time.AfterFunc(wait, s.flush)
}

// withdraw takes a run out of the batch not yet submitted; false when it is
// being submitted already.
func (s *Host) withdraw(sub *submission) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, b := range s.batch {
		if b == sub {
			s.batch = append(s.batch[:i], s.batch[i+1:]...)
			return true
		}
	}
	return false
}

// flush submits the batch as one array.
func (s *Host) flush() {
	s.mu.Lock()
	if s.preparing > 0 && len(s.batch) < MaxArray && time.Since(s.first) < maxBatchWait {
		// More runs of this burst are still being prepared: they join
		// this array rather than making one of their own.
		s.timer = time.AfterFunc(s.cfg.BatchWindow, s.flush)
		s.mu.Unlock()
		return
	}
	batch := s.batch
	s.batch = nil
	if s.life.Err() == nil && len(batch) > 0 {
		s.wg.Add(1)
	} else {
		batch = nil
	}
	s.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	defer s.wg.Done()
	job, err := s.submit(batch)
	for i, b := range batch {
		if err != nil {
			b.done <- submitted{err: err}
			continue
		}
		b.done <- submitted{task: job + "_" + strconv.Itoa(i)}
	}
}

// taskScript and its hash name the task script file in the workdir, so a
// new mljob never runs an old one.
var (
	taskScript     = sshworker.BatchTaskScript()
	taskScriptHash = func() string {
		sum := sha256.Sum256([]byte(taskScript))
		return hex.EncodeToString(sum[:8])
	}()
)

// submit runs one sbatch for the batch; it returns the array's job id.
func (s *Host) submit(batch []*submission) (string, error) {
	argv := []string{"sh", "-c", submitScript, "mljob-sbatch", s.h.Workdir(), taskScript, taskScriptHash,
		strconv.Itoa(s.cfg.Slots)}
	argv = append(argv, s.env...)
	argv = append(argv, strconv.Itoa(len(batch)))
	for _, b := range batch {
		argv = append(argv, b.id)
	}
	argv = append(argv, s.cfg.Sbatch...)
	var out, errOut sshworker.LimitedBuffer
	out.Limit, errOut.Limit = 4096, 4096
	// The engine's life, not a run's context: once started, a submission
	// finishes, so that its runs are either all in Slurm or all not.
	if err := s.h.Exec(s.life, argv, nil, &out, &errOut); err != nil {
		var ee *sshconn.ExitError
		if errors.As(err, &ee) && ee.Code == 97 {
			return "", submitError(errOut.String())
		}
		return "", fmt.Errorf("sbatch on %s: %w%s", s.cfg.Name, err, sshworker.Detail(errOut.String()))
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if job, ok := strings.CutPrefix(line, "MLJOB-SUBMITTED "); ok {
			return strings.TrimSpace(job), nil
		}
	}
	return "", fmt.Errorf("sbatch on %s: no job id came back%s", s.cfg.Name, sshworker.Detail(errOut.String()))
}

// ErrRefused matches a submission Slurm refused for what it asked (a
// partition, account, QOS or option it does not know): trying again will
// not help until the entry's sbatch options change.
// It matches engine.ErrRefused.
var ErrRefused = engine.Mark("submission refused by Slurm", engine.ErrRefused)

// SubmitError is a submission sbatch did not accept; Msg is what it said.
type SubmitError struct {
	Msg string
	// Transient: the controller did not answer, or a limit on queued jobs
	// was reached; the same submission may pass later.
	Transient bool
}

func (e *SubmitError) Error() string { return "sbatch refused the array: " + e.Msg }

// Is makes a SubmitError that is not transient match ErrRefused (and so
// engine.ErrRefused).
func (e *SubmitError) Is(target error) bool {
	return (target == ErrRefused || target == engine.ErrRefused) && !e.Transient
}

// Why says in a few words why the entry is refused.
func (e *SubmitError) Why() string { return "Slurm refused its submission" }

// Hint says what to do about a refusal.
func (e *SubmitError) Hint() string {
	return "fix the entry's sbatch options in the hosts file (mljob hosts check lists the partitions), then mljob dispatch again; the orders wait in the queue"
}

// transientSbatch are the parts of sbatch's messages that mean "not now"
// rather than "not this".
var transientSbatch = []string{"Unable to contact slurm controller", "Socket timed out", "Zero Bytes were transmitted",
	"Connection refused", "Slurm temporarily unable", "submit limit", "MaxSubmit", "try again"}

// submitError reads sbatch's stderr.
func submitError(stderr string) *SubmitError {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	msg := strings.Join(lines, "; ")
	if msg == "" {
		msg = "it printed no reason"
	}
	e := &SubmitError{Msg: msg}
	for _, t := range transientSbatch {
		e.Transient = e.Transient || strings.Contains(strings.ToLower(msg), strings.ToLower(t))
	}
	return e
}

// end closes a run dir that will not run: fenced when its start token is
// free, and marked ended. Best effort: the error is only logged.
func (s *Host) end(id string) string {
	var out, errOut sshworker.LimitedBuffer
	out.Limit, errOut.Limit = 256, 4096
	argv := []string{"sh", "-c", endScript, "mljob-end", s.h.Workdir(), id}
	if err := s.h.Exec(s.life, argv, nil, &out, &errOut); err != nil {
		s.warnf("close run dir %s on %s: %v%s", id, s.cfg.Name, err, sshworker.Detail(errOut.String()))
		return ""
	}
	return strings.TrimSpace(out.String())
}

// Kill cancels the run's task (scancel) and fences its run dir. grace is
// Slurm's: KillWait seconds between its TERM and KILL. ErrNotStarted
// (sshworker's) when the run is not submitted yet.
func (s *Host) Kill(ctx context.Context, id string, grace time.Duration) error {
	argv := append([]string{"sh", "-c", cancelScript, "mljob-scancel", s.h.Workdir(), id}, s.env...)
	var errOut sshworker.LimitedBuffer
	errOut.Limit = 4096
	if err := s.h.Exec(ctx, argv, nil, io.Discard, &errOut); err != nil {
		var ee *sshconn.ExitError
		if errors.As(err, &ee) && ee.Code == 96 {
			return fmt.Errorf("scancel %s on %s: %w", id, s.cfg.Name, sshworker.ErrNotStarted)
		}
		return fmt.Errorf("scancel %s on %s: %w%s", id, s.cfg.Name, err, sshworker.Detail(errOut.String()))
	}
	s.nudge()
	return nil
}

// Probe checks that the login node answers and has Slurm's commands. Load
// and runs mean nothing here: Slurm decides where and when runs go.
func (s *Host) Probe(ctx context.Context, runs []string) (engine.Probe, error) {
	argv := append([]string{"sh", "-c", probeScript, "mljob-slurm-probe"}, s.env...)
	var errOut sshworker.LimitedBuffer
	errOut.Limit = 4096
	if err := s.h.Exec(ctx, argv, nil, io.Discard, &errOut); err != nil {
		return engine.Probe{}, fmt.Errorf("probe %s: %w%s", s.cfg.Name, err, sshworker.Detail(errOut.String()))
	}
	return engine.Probe{Alive: map[string]bool{}}, nil
}

// Output copies a run's stream, as sshworker.Host.Output does; with follow
// it goes on until the run's exit code is written.
func (s *Host) Output(ctx context.Context, id, stream string, follow bool, w io.Writer) error {
	return s.h.Output(ctx, id, stream, follow, w)
}

// ExecInRun runs argv in a run dir on the login node, as
// sshworker.Host.ExecInRun does: the run dirs are on the cluster's shared
// filesystem.
func (s *Host) ExecInRun(ctx context.Context, id string, argv []string, stdout io.Writer) error {
	return s.h.ExecInRun(ctx, id, argv, stdout)
}

func (s *Host) warnf(format string, args ...any) {
	if s.cfg.Warn != nil {
		s.cfg.Warn(fmt.Sprintf(format, args...))
	}
}
