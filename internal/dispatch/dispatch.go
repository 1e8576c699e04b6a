package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/tpe"
)

// Defaults for Options.
const (
	DefaultPoll      = 2 * time.Second
	DefaultRetries   = 2
	DefaultLostAfter = 10 * time.Minute
	// DefaultGiveUpAfter is how long a dispatch without Follow waits for
	// any host to answer.
	DefaultGiveUpAfter = 2 * time.Minute
	maxBackoff         = time.Minute

	// heartbeatEvery and staleAfter decide when another dispatcher counts
	// as dead, so that its orders can be adopted.
	heartbeatEvery = 2 * time.Second
	staleAfter     = 15 * time.Second
	// adoptEvery is how often an up host is checked for orphaned orders.
	adoptEvery = 5 * time.Second

	// maxDials bounds the SSH handshakes in flight at once.
	maxDials = 8
)

// Options configure one dispatch.
type Options struct {
	Hosts      []hosts.Host
	ScriptsDir string
	DataDir    string
	// Poll is the boredom probe interval, and how often an idle --follow
	// dispatcher looks for new orders.
	Poll time.Duration
	// Follow keeps dispatching new submissions until ctx ends.
	Follow bool
	// Dispatcher identifies this process in the orders it claims.
	Dispatcher string
	// Log receives one line per state change (-v); nil = quiet.
	Log io.Writer
	// Warn receives host problems and other warnings; nil = discarded.
	Warn io.Writer
	// Observe, when set, is told of each state change (see Event). Calls
	// are one at a time, from the dispatcher's goroutines; it must return
	// quickly and never block, or the dispatch waits on it.
	Observe func(Event)
	// Connect opens a host's engine; nil = engine.Open, the engine
	// registered for the host's kind.
	Connect func(ctx context.Context, h hosts.Host, o engine.Options) (engine.Engine, error)
	// Now is the clock for log lines; nil = time.Now.
	Now func() time.Time
	// Propose makes a tpe sweep's trial inside db.NextTrialFrom; nil =
	// ProposeTrial. A caller that wraps ProposeTrial sees the trials the
	// sampler is given. It runs inside the proposal's transaction, so it
	// must not write the database (see db.NextTrial).
	Propose func(st db.Study, number int, trials []tpe.Trial) (db.Proposal, error)
	// Retries bounds the attempts an order may lose to infrastructure
	// (a lost host, an SSH or upload error) before it fails.
	Retries int
	// Timeout, when positive, is the wall time a run may take unless its
	// job sets "timeoutSeconds".
	Timeout time.Duration
	// LostAfter is how long a run's host may stay unreachable before the
	// run is given up and its order queued again; 0 = DefaultLostAfter.
	LostAfter time.Duration
	// LogDir, when set, receives a copy of each finished run's output
	// (see LogFile).
	LogDir string
	// RetryFailed queues again, within Retries, the orders whose script
	// failed (a non-zero exit, no outcome line); each attempt keeps its
	// outcome. Timeouts and cancellations are not retried.
	RetryFailed bool
	// ShellStart starts each run through a shell session of its own, as
	// hosts without a usable python (3.6 or newer) get anyway, instead of
	// through the host's resident agent (see engine.Options).
	ShellStart bool
	// ColdStart starts every script in a new interpreter, as
	// "python -u script job.json", rather than in a fork of the agent's
	// (see engine.Options).
	ColdStart bool
	// GiveUpAfter is how long a dispatch without Follow goes on while no
	// host answers and none of its runs is in flight, before it returns
	// ErrNoHostAnswered; 0 = DefaultGiveUpAfter.
	GiveUpAfter time.Duration
	// SaveTimeout is how long a write the database refuses for a reason
	// that may pass (locked by another program, disk full) is retried
	// before it is given up; 0 = DefaultSaveTimeout. An outcome given up is
	// not counted (see Summary.Unsaved).
	SaveTimeout time.Duration
	// BeforeRecord, when set, is called just before an outcome is written:
	// a crash point for tests of recovery.
	BeforeRecord func(orderID int64)
	// ArtifactsDir, when set, receives each run's artifacts, under
	// <job>/<attempt>/ (see artifacts.go); "" brings none home.
	ArtifactsDir string
	// ArtifactsCap is the most bytes of artifacts a run brings home unless
	// its job says otherwise; 0 = artifacts.DefaultCap.
	ArtifactsCap int64
	// BeforeArtifacts, when set, is called after an outcome is written and
	// before its run's artifacts are copied: a crash point for tests.
	BeforeArtifacts func(orderID int64)
}

// Summary counts what one dispatch did.
type Summary struct {
	Succeeded, Failed int
	// Pruned counts runs their pruner stopped early.
	Pruned int
	// Requeued counts attempts handed back to the queue (a host failed
	// before the run started).
	Requeued int
	// Detached counts runs left running on their hosts when ctx ended.
	Detached int
	// Adopted counts runs taken over from dispatchers that had died.
	Adopted int
	// Unusable maps hosts that were refused for good (e.g. an unknown host
	// key) to the reason.
	Unusable map[string]error
	// Unsaved lists the finished attempts whose outcome the database
	// refused past SaveTimeout: not counted above, their orders left
	// running for the next dispatch to record.
	Unsaved []Unsaved
}

// ErrNoUsableHost is returned when orders wait but every host was refused.
var ErrNoUsableHost = errors.New("no usable host")

// ErrNoHostAnswered is returned when no host answered for
// Options.GiveUpAfter (without Follow); the error lists each host's last
// error and its fix.
var ErrNoHostAnswered = errors.New("no host answered")

type hostStatus int

const (
	hostConnecting hostStatus = iota
	hostUp
	hostDown    // transient: retried with backoff
	hostRefused // permanent for this dispatch: key or auth problem
)

type hostState struct {
	cfg hosts.Host
	// scheduler names the batch scheduler the host's engine hands runs
	// to ("" for one that runs them itself): see engine.Driver.Scheduler.
	scheduler string
	h         engine.Engine
	status    hostStatus
	free      []string // free slot names
	running   map[attemptKey]*runHandle
	held      []*db.Claim     // runs left going when the host was refused (see hold)
	removed   bool            // not in the hosts file: no new work, its runs collected (addRemovedHosts)
	late      map[string]bool // abandoned runs being looked at, by run id
	busy      bool            // a connect or probe is in flight
	nextAdopt time.Time
	adopted   bool // orphans were looked for at least once
	everDown  bool
	nextProbe time.Time
	backoff   time.Duration
	load      float64
	bored     bool
	lastErr   error
	// faults counts the runs that saw the host fail them and are handing
	// their orders back, until the loop has read each one's "done" (and
	// so marked the host failed): fill claims nothing for the host
	// meanwhile, so a released order does not go straight back to the host
	// that failed it (see faultFence). claimMu guards it, and is held
	// across each claim for the host, so a claim under way when a worker
	// raises the fence ends before that worker hands its order back.
	claimMu sync.Mutex
	faults  int
	// leases: the host's leases as its probes and refused starts tell.
	leases hostLeases
}

// event is what the worker goroutines report to the scheduler loop, which
// alone owns the hostStates.
type event struct {
	host    *hostState
	kind    string // "connected", "probed", "late", "ended", "done"
	h       engine.Engine
	probe   engine.Probe
	err     error
	orderID int64
	attempt int // "ended", "done": of orderID
	slot    string
	runID   string    // "late": the abandoned run looked at
	res     string    // "succeeded", "failed", "pruned", "requeued", "detached", "held"
	claim   *db.Claim // "held": the run to collect once the host is trusted
	fault   bool      // "done": counted in host.faults (see faultFence)
	busy    bool      // "done": the start was refused for its lease (engine.ErrLeaseBusy)
}

type dispatcher struct {
	// saveCtx writes state even after ctx ends: an interrupted dispatcher
	// still records what it knows.
	saveCtx context.Context
	// runCtx is the loop's context for workers, ended when the loop stops.
	runCtx  context.Context
	db      *db.DB
	dialing chan struct{} // a semaphore of maxDials connects
	queue   string        // the queue file's id, in every run id
	opts    Options
	files   pyexec.Files
	checks  scriptChecks // per host: can its python run each script?
	envs    envCache     // per host, python, run env and modules: the environment runs get
	hosts   []*hostState
	ev      chan event
	wg      sync.WaitGroup
	sum     Summary
	logMu   sync.Mutex // guards writes to opts.Log and opts.Warn
	obsMu   sync.Mutex // makes calls of opts.Observe one at a time
	// jobs holds the job of each attempt in flight, for its events.
	jobs jobInfos
	// unsavedMu guards sum.Unsaved, which workers append to.
	unsavedMu sync.Mutex
	// answered is when a host last answered (or the loop started); only
	// the loop touches it.
	answered time.Time
	// mostGPUs is the most GPUs any host lists: a job asking for more is
	// refused.
	mostGPUs int
	// fetching holds the attempts whose artifacts a worker of this
	// dispatcher is copying (attemptKey → struct{}), so that adoption
	// does not start a second copy.
	fetching sync.Map
	// trialLogs holds each tpe sweep's trials between proposals (sweep id
	// → log); only the loop touches it.
	trialLogs map[int64]*db.TrialLog
}

// Run dispatches orders until none is unassigned and none of its own runs
// is in flight (or, with Follow, until ctx ends). When ctx ends it stops
// claiming, stops waiting on its runs (which go on, detached, on their
// hosts), saves the state and returns ctx.Err().
func Run(ctx context.Context, store *db.DB, opts Options) (Summary, error) {
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Connect == nil {
		opts.Connect = engine.Open
	}
	if opts.Dispatcher == "" {
		opts.Dispatcher = Identity()
	}
	if opts.LostAfter <= 0 {
		opts.LostAfter = DefaultLostAfter
	}
	if opts.SaveTimeout <= 0 {
		opts.SaveTimeout = DefaultSaveTimeout
	}
	if opts.GiveUpAfter <= 0 {
		opts.GiveUpAfter = DefaultGiveUpAfter
	}
	d := &dispatcher{saveCtx: context.WithoutCancel(ctx), db: store, queue: store.QueueID(), opts: opts, ev: make(chan event, 64), dialing: make(chan struct{}, maxDials),
		trialLogs: map[int64]*db.TrialLog{}}
	d.sum.Unusable = map[string]error{}
	for _, h := range opts.Hosts {
		drv, err := engine.Lookup(h.Kind)
		if err != nil {
			return d.sum, fmt.Errorf("host %s: %w", h.Name, err)
		}
		if drv.Warnings != nil {
			for _, w := range drv.Warnings(h, d.engineOptions(nil)) {
				d.warnf("%s", w)
			}
		}
		hs := &hostState{cfg: h, scheduler: drv.Scheduler, running: map[attemptKey]*runHandle{}, late: map[string]bool{}}
		hs.free = append(hs.free, h.SlotNames()...)
		d.hosts = append(d.hosts, hs)
		d.mostGPUs = max(d.mostGPUs, len(h.GPUs))
	}
	if len(d.hosts) == 0 {
		return d.sum, errors.New("no hosts")
	}
	if err := d.register(ctx); err != nil {
		return d.sum, err
	}
	if err := d.addRemovedHosts(ctx); err != nil {
		return d.sum, err
	}
	err := d.loop(ctx)
	// Workers still report as they stop: keep applying their events until
	// the last one is done, so every result is counted.
	workersDone := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(workersDone)
	}()
	for stopping := true; stopping; {
		select {
		case e := <-d.ev:
			d.apply(e)
		case <-workersDone:
			for len(d.ev) > 0 {
				d.apply(<-d.ev)
			}
			stopping = false
		}
	}
	for _, hs := range d.hosts {
		if hs.h != nil {
			hs.h.Close()
		}
	}
	// Stopped: whoever dispatches next may adopt the runs left behind at once.
	serr := d.save("mark this dispatcher stopped", func(ctx context.Context) error {
		return d.db.StopDispatcher(ctx, d.opts.Dispatcher)
	})
	if err == nil {
		err = unsavedError(d.sum.Unsaved)
	}
	// Beside the dispatch's own error, not instead of it: outcomes left
	// unsaved (a full disk) must still be reported as such, with their fix.
	return d.sum, errors.Join(err, serr)
}

func (d *dispatcher) loop(ctx context.Context) error {
	runCtx, cancelRuns := context.WithCancel(ctx)
	defer cancelRuns()
	d.runCtx = runCtx
	d.answered = time.Now()
	for _, hs := range d.hosts {
		d.connect(runCtx, hs)
	}
	noWork := false
	timer := time.NewTimer(0)
	defer timer.Stop()
	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.adopt(runCtx)
		noWork = d.fill(runCtx, noWork)
		inflight := d.inflight()
		if !d.opts.Follow && inflight == 0 && noWork && d.settled() {
			n, err := d.db.CountUnassigned(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			if err := d.scriptsStuck(ctx); err != nil {
				return err
			}
		}
		// With --follow, a refused host holding runs is waited on: it is
		// dialled again until it is trusted (collectHeld).
		if inflight == 0 && d.allRefused() && !(d.opts.Follow && d.holding()) {
			return fmt.Errorf("%w: every host was refused (see above)", ErrNoUsableHost)
		}
		if d.anyUp() {
			d.answered = time.Now()
		} else if !d.opts.Follow && inflight == 0 && time.Since(d.answered) >= d.opts.GiveUpAfter {
			return d.noAnswer()
		}
		d.startProbes(runCtx)
		timer.Reset(d.nextWake(noWork))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-d.ev:
			d.apply(e)
		case <-heartbeat.C:
			if err := d.db.Heartbeat(ctx, d.opts.Dispatcher); err != nil && ctx.Err() == nil {
				d.warnf("%v", err)
			}
			d.checkOrders(runCtx)
		case <-timer.C:
		}
	}
}

// settled reports whether every host that can be reached has been looked
// at for orphaned runs, so that exiting cannot leave one behind unseen.
func (d *dispatcher) settled() bool {
	for _, hs := range d.hosts {
		if hs.status != hostRefused && !hs.adopted && !hs.everDown {
			return false
		}
	}
	return true
}

// inflight counts the runs being waited on and the abandoned runs being
// looked at: a dispatch with nothing else to do still finishes those.
func (d *dispatcher) inflight() int {
	n := 0
	for _, hs := range d.hosts {
		n += len(hs.running) + len(hs.late)
	}
	return n
}

// stopping reports whether err is only this dispatch ending a connect or
// a probe as it stops: not a fact about the host.
func (d *dispatcher) stopping(err error) bool {
	return d.runCtx.Err() != nil && errors.Is(err, context.Canceled)
}

// holding reports whether a refused host holds runs of this dispatch.
func (d *dispatcher) holding() bool {
	for _, hs := range d.hosts {
		if len(hs.held) > 0 {
			return true
		}
	}
	return false
}

func (d *dispatcher) anyUp() bool {
	for _, hs := range d.hosts {
		if hs.status == hostUp && !hs.removed {
			return true
		}
	}
	return false
}

// noAnswer is the error of a dispatch that gave up on its hosts: each
// host's last error and what to do about it.
func (d *dispatcher) noAnswer() error {
	var b strings.Builder
	fmt.Fprintf(&b, "%v for %s:", ErrNoHostAnswered, d.opts.GiveUpAfter)
	for _, hs := range d.hosts {
		addr := hs.cfg.Address
		if hs.cfg.Port != 0 {
			addr = net.JoinHostPort(hs.cfg.Address, strconv.Itoa(hs.cfg.Port))
		}
		if hs.cfg.OnThisMachine() {
			addr = "this machine"
		}
		last := "no answer yet"
		if hs.lastErr != nil {
			last = oneLine(hs.lastErr.Error())
		}
		fmt.Fprintf(&b, "\n  %s (%s): %s\n    fix: %s", hs.cfg.Name, addr, last, hostFix(hs.lastErr))
	}
	return &noAnswerError{msg: b.String()}
}

// noAnswerError is ErrNoHostAnswered with each host's detail.
type noAnswerError struct{ msg string }

func (e *noAnswerError) Error() string { return e.msg }
func (e *noAnswerError) Unwrap() error { return ErrNoHostAnswered }

// hostFix says what to do about a host's last error.
func hostFix(err error) string {
	var op *net.OpError
	switch {
	case refusal(err) != nil:
		return refusal(err).Hint()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens there: start sshd on the host (or on the gateway the error names), or fix the port in the hosts file"
	case errors.As(err, &op) && op.Op == "dial", errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "no answer from that address: check the address in the hosts file and the network (VPN, firewall), or raise connect_timeout"
	default:
		return "mljob hosts check says what is wrong with each host"
	}
}

func (d *dispatcher) allRefused() bool {
	for _, hs := range d.hosts {
		if hs.status != hostRefused && !hs.removed {
			return false
		}
	}
	return true
}

// idleCheck is how often a dispatcher with a free slot and an empty queue
// looks for new submissions: a read of the queue, not a claim, so that a
// job submitted to an idle --follow dispatcher starts within ~0.1 s.
const idleCheck = 100 * time.Millisecond

// nextWake is how long the loop may sleep when no event arrives: until the
// next probe is due, no longer than Poll, and no longer than idleCheck
// while a bored host has a free slot and the queue was empty.
func (d *dispatcher) nextWake(noWork bool) time.Duration {
	wake := d.opts.Poll
	now := time.Now()
	for _, hs := range d.hosts {
		if noWork && hs.status == hostUp && hs.bored && len(hs.free) > 0 {
			wake = min(wake, idleCheck)
		}
		if hs.busy || hs.status == hostRefused || hs.nextProbe.IsZero() {
			continue
		}
		if w := hs.nextProbe.Sub(now); w < wake {
			wake = w
		}
	}
	return max(wake, time.Millisecond)
}

// fill claims an order for every free slot of every bored host; it reports
// whether the queue ran dry. After a dry run it first reads whether
// anything is queued, so an idle dispatcher takes no write lock.
func (d *dispatcher) fill(ctx context.Context, wasDry bool) bool {
	if wasDry && d.freeBoredSlot() {
		d.proposeTrials(ctx) // a tpe sweep's next trial queues only now
		n, err := d.db.CountUnassigned(ctx)
		if err == nil && n == 0 {
			return true
		}
	}
	dry := false
	queued := -1 // orders waiting, read once a lease is found held
	for _, hs := range d.hosts {
		skip := d.checks.skipped(hs.cfg.Name) // scripts its python cannot run
		for hs.status == hostUp && hs.bored && len(hs.free) > 0 {
			slot, ok := d.takeSlot(hs)
			if !ok {
				// Every free slot's lease is held by others, or another
				// dispatcher waits longer: wait here (a ticket) only with
				// work to do, and look again at the next probe.
				if queued < 0 {
					queued = d.countQueued(ctx)
				}
				d.waitForLease(hs, queued > 0)
				break
			}
			d.proposeTrials(ctx)
			gpuSlots := d.gpuSlots(hs, slot)
			claim, fenced, err := d.claim(ctx, hs, slot, skip, gpuSlots)
			if fenced {
				break
			}
			if err != nil {
				if ctx.Err() == nil {
					d.warnf("claim an order for %s: %v", hs.cfg.Name, err)
				}
				return false
			}
			if claim == nil && len(skip) == 0 {
				d.stopWaiting()
				return true
			}
			if claim == nil {
				dry = true // for this host: another may run what it skips
				break
			}
			slot = d.placeGPUs(ctx, claim, gpuSlots)
			hs.takeFree(slot)
			hs.leases.setWaiting(false)
			k := &killer{}
			hs.running[keyOf(claim.Order)] = &runHandle{slot: slot, attempt: claim.Order.Attempt, k: k}
			d.logf("order %d (job %d) attempt %d assigned to %s slot %s", claim.Order.ID, claim.Job.ID, claim.Order.Attempt, hs.cfg.Name, slot)
			claimed := Event{Kind: OrderClaimed, Host: hs.cfg.Name, Slot: slot, Order: claim.Order.ID, Job: claim.Job.ID, Attempt: claim.Order.Attempt}
			d.info(claim.Job).set(&claimed)
			d.observe(claimed)
			d.wg.Add(1)
			go d.runOne(ctx, hs, slot, claim, k)
		}
	}
	return dry
}

// claim claims an order for slot of hs, unless a worker has raised the
// host's fault fence (fenced).
// gpuSlots are the free slots on distinct GPUs of hs (slot first) that
// a claim may give a job asking for several GPUs.
func (d *dispatcher) claim(ctx context.Context, hs *hostState, slot string, skip, gpuSlots []string) (c *db.Claim, fenced bool, err error) {
	hs.claimMu.Lock()
	defer hs.claimMu.Unlock()
	if hs.faults > 0 {
		return nil, true, nil
	}
	fit := &db.GPUFit{Free: len(gpuSlots), Most: d.mostGPUs}
	c, err = d.db.ClaimOrderFit(ctx, hs.cfg.Name, slot, d.opts.Dispatcher, skip, fit)
	return c, false, err
}

func (d *dispatcher) freeBoredSlot() bool {
	for _, hs := range d.hosts {
		if hs.status == hostUp && hs.bored && len(hs.free) > 0 {
			return true
		}
	}
	return false
}

func (d *dispatcher) connect(ctx context.Context, hs *hostState) {
	hs.busy = true
	// A refused host stays so until it is trusted, a down one until it
	// answers: the warning is given once.
	if hs.status != hostRefused && hs.status != hostDown {
		hs.status = hostConnecting
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		// A bounded number of handshakes at a time: a hosts file of a
		// hundred entries would otherwise hold a hundred key exchanges'
		// worth of memory and CPU at once.
		select {
		case d.dialing <- struct{}{}:
		case <-ctx.Done():
			d.send(event{host: hs, kind: "connected", err: ctx.Err()})
			return
		}
		e, err := d.opts.Connect(ctx, hs.cfg, d.engineOptions(hs))
		<-d.dialing
		d.send(event{host: hs, kind: "connected", h: e, err: err})
	}()
}

func (d *dispatcher) startProbes(ctx context.Context) {
	now := time.Now()
	for _, hs := range d.hosts {
		if hs.busy || hs.nextProbe.After(now) {
			continue
		}
		if hs.status == hostRefused {
			if len(hs.held) > 0 {
				d.connect(ctx, hs)
			}
			continue
		}
		if hs.h == nil {
			d.connect(ctx, hs)
			continue
		}
		// Our runs' liveness comes from their waiting sessions, not from the
		// probe: asking it costs the host a ps per run per tick.
		hs.busy = true
		h := hs.h
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			p, err := h.Probe(ctx, nil)
			d.send(event{host: hs, kind: "probed", probe: p, err: err})
		}()
	}
}

// send delivers an event to the scheduler: the loop while it runs, then
// Run, which reads events until every worker has stopped.
func (d *dispatcher) send(e event) {
	d.ev <- e
}

func (d *dispatcher) apply(e event) {
	hs := e.host
	switch e.kind {
	case "connected":
		hs.busy = false
		if e.err != nil {
			if d.stopping(e.err) {
				return
			}
			d.hostFailed(hs, e.err)
			return
		}
		if hs.h != nil && hs.h != e.h {
			hs.h.Close() // a refused host's old connection, re-dialled
		}
		hs.h = e.h
		delete(d.sum.Unusable, hs.cfg.Name)
		d.collectHeld(hs)
		hs.nextProbe = time.Time{} // probe at once
		hs.nextAdopt = time.Time{}
		hs.status = hostUp
		// Without a max_load the load cannot make a host busy: its slots
		// fill now, beside the first probe. Slurm waits for the probe,
		// which asks its commands.
		// A leased host's GPUs wait for the probe too: it says which are
		// in use by others (gpu_busy).
		hs.bored = hs.cfg.MaxLoad <= 0 && hs.scheduler == "" && !gpusChecked(hs.cfg)
		d.saveHost(hs, "up", false)
		d.observe(Event{Kind: HostUp, Host: hs.cfg.Name})
	case "probed":
		hs.busy = false
		if e.err != nil {
			if d.stopping(e.err) {
				return
			}
			d.hostFailed(hs, e.err)
			return
		}
		back := hs.status != hostUp || hs.lastErr != nil
		hs.status, hs.lastErr, hs.backoff, hs.load = hostUp, nil, 0, e.probe.Load
		if back {
			if hs.scheduler != "" {
				d.logf("host %s is up (%s's commands answer)", hs.cfg.Name, hs.scheduler)
			} else {
				d.logf("host %s is up (load %.2f)", hs.cfg.Name, hs.load)
			}
			hs.nextAdopt = time.Time{} // back from down: look for its runs at once
			delete(d.sum.Unusable, hs.cfg.Name)
			d.collectHeld(hs)
			d.saveHost(hs, "up", true)
			d.observe(Event{Kind: HostUp, Host: hs.cfg.Name, Load: hs.load})
		}
		hs.bored = hs.cfg.MaxLoad <= 0 || hs.load < hs.cfg.MaxLoad
		d.probedLeases(hs, e.probe.Leases)
		d.observe(Event{Kind: HostProbed, Host: hs.cfg.Name, Load: hs.load, MaxLoad: hs.cfg.MaxLoad})
		if !hs.bored {
			d.logf("host %s is busy: load %.2f ≥ max_load %.2f", hs.cfg.Name, hs.load, hs.cfg.MaxLoad)
			d.observe(Event{Kind: HostBusy, Host: hs.cfg.Name, Load: hs.load, MaxLoad: hs.cfg.MaxLoad})
		}
		hs.nextProbe = time.Now().Add(d.leaseProbeEvery(hs))
	case "late":
		delete(hs.late, e.runID)
	case "ended":
		if r, ok := hs.running[attemptKey{e.orderID, e.attempt}]; ok && !r.ended {
			r.ended = true
			d.freeSlot(hs, r.slot)
		}
	case "done":
		if r, ok := hs.running[attemptKey{e.orderID, e.attempt}]; ok {
			delete(hs.running, attemptKey{e.orderID, e.attempt})
			if !r.ended {
				d.freeSlot(hs, e.slot)
			}
		}
		d.countResult(e)
		if e.busy {
			d.leaseRefused(hs, e.slot)
		}
		if e.fault {
			defer lowerFence(hs) // once hostFailed below has run
		}
		if e.res == "held" {
			hs.held = append(hs.held, e.claim)
			d.hostFailed(hs, e.err)
		}
		if e.res == "requeued" && e.err != nil && hs.status == hostUp {
			// The host failed us before the run started: probe it again
			// before trusting it with the next order.
			d.hostFailed(hs, e.err)
		}
	}
}

func (d *dispatcher) countResult(e event) {
	switch e.res {
	case "succeeded":
		d.sum.Succeeded++
	case "failed":
		d.sum.Failed++
	case "pruned":
		d.sum.Pruned++
	case "requeued":
		d.sum.Requeued++
	case "detached", "held":
		d.sum.Detached++
	}
}

// collectHeld waits again, once the host is trusted again, on the runs
// left going when it was refused.
func (d *dispatcher) collectHeld(hs *hostState) {
	if d.runCtx.Err() != nil {
		return // stopping: the next dispatch adopts them
	}
	for _, c := range hs.held {
		if _, ok := hs.running[keyOf(c.Order)]; ok {
			continue
		}
		d.sum.Detached--
		k := &killer{}
		hs.running[keyOf(c.Order)] = &runHandle{slot: c.Order.Slot, attempt: c.Order.Attempt, k: k}
		hs.takeFree(c.Order.Slot)
		d.logf("order %d attempt %d on %s: the host is trusted again, reattaching to its run", c.Order.ID, c.Order.Attempt, hs.cfg.Name)
		d.wg.Add(1)
		go d.attachOne(d.runCtx, hs, c.Order.Slot, c, k)
	}
	hs.held = nil
}

// freeSlot gives a slot back, unless it is not one of the host's (an
// adopted run from an older hosts file) or is already free.
func (d *dispatcher) freeSlot(hs *hostState, slot string) {
	if hs.removed {
		return // takes no new work
	}
	for _, part := range hosts.SlotParts(slot) {
		delete(hs.leases.held, hs.cfg.LeaseName(part)) // ours until now
		known := slices.Contains(hs.cfg.SlotNames(), part)
		if known && !slices.Contains(hs.free, part) {
			hs.free = append(hs.free, part)
		}
	}
}

// takeFree marks slot (every part of a joined one) as in use.
func (hs *hostState) takeFree(slot string) {
	parts := hosts.SlotParts(slot)
	hs.free = slices.DeleteFunc(hs.free, func(s string) bool { return slices.Contains(parts, s) })
}

func (d *dispatcher) hostFailed(hs *hostState, err error) {
	hs.lastErr = err
	if errors.Is(err, engine.ErrRefused) {
		// A refused host holding runs of ours is dialled again, afresh
		// (known_hosts is read again), with backoff up to maxBackoff: once
		// it is trusted, its runs are collected (collectHeld).
		hs.backoff = min(max(2*hs.backoff, d.opts.Poll), maxBackoff)
		hs.nextProbe = time.Now().Add(hs.backoff)
		if hs.status != hostRefused {
			hs.status = hostRefused
			d.sum.Unusable[hs.cfg.Name] = err
			msg := fmt.Sprintf("host %s refused: %v", hs.cfg.Name, err)
			if r := refusal(err); r != nil {
				msg += "\n  Try: " + r.Hint()
			}
			d.warnf("%s", msg)
			d.saveHost(hs, "refused", false)
			d.observe(Event{Kind: HostRefused, Host: hs.cfg.Name, Reason: oneLine(err.Error())})
		}
		return
	}
	if hs.backoff == 0 {
		hs.backoff = d.opts.Poll
	} else {
		hs.backoff = min(2*hs.backoff, maxBackoff)
	}
	if hs.status != hostDown {
		d.warnf("host %s is down: %v (retrying in %s)", hs.cfg.Name, err, hs.backoff.Round(time.Millisecond))
		d.saveHost(hs, "down", false)
		d.observe(Event{Kind: HostDown, Host: hs.cfg.Name, Reason: oneLine(err.Error())})
	}
	hs.everDown = true
	hs.status = hostDown
	hs.bored = false
	hs.nextProbe = time.Now().Add(hs.backoff)
}

func (d *dispatcher) logf(format string, args ...any) {
	if d.opts.Log == nil {
		return
	}
	d.logMu.Lock()
	defer d.logMu.Unlock()
	fmt.Fprintf(d.opts.Log, "%s %s\n", d.opts.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

func (d *dispatcher) warnf(format string, args ...any) {
	if d.opts.Warn == nil {
		return
	}
	d.logMu.Lock()
	defer d.logMu.Unlock()
	fmt.Fprintf(d.opts.Warn, "mljob: %s\n", fmt.Sprintf(format, args...))
}

// Identity names this dispatcher process in the orders it claims:
// host:pid:start, unique even when a pid is reused.
func Identity() string {
	return hostname() + ":" + strconv.Itoa(os.Getpid()) + ":" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

func hostname() string {
	name, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return name
}

// engineOptions is what an engine of hs is told when it is opened; hs is
// nil for the warnings before the dispatch starts.
func (d *dispatcher) engineOptions(hs *hostState) engine.Options {
	o := engine.Options{Poll: d.opts.Poll, ShellStart: d.opts.ShellStart, ColdStart: d.opts.ColdStart,
		Warn: func(msg string) { d.warnf("%s", msg) }}
	if hs != nil {
		o.OnQueue = func(n engine.QueueNews) { d.queueNews(hs, n) }
		o.Leases = d.leaseQuery(hs)
	}
	return o
}

// refusal is the Refusal of an error matching engine.ErrRefused, or nil.
func refusal(err error) engine.Refusal {
	if !errors.Is(err, engine.ErrRefused) {
		return nil
	}
	return engine.RefusalOf(err)
}

func envFor(h hosts.Host, slot string) []string {
	var env []string
	for _, e := range h.Env {
		env = append(env, e.Key+"="+e.Value)
	}
	// Indices as nvidia-smi numbers them (PCI bus order), not CUDA's
	// fastest-first default, for every run: GPU ids in hosts files and
	// nvidia-smi's lists then name the same cards.
	env = append(env, "CUDA_DEVICE_ORDER=PCI_BUS_ID")
	if gpus := h.SlotGPUs(slot); len(gpus) > 0 {
		env = append(env, "CUDA_VISIBLE_DEVICES="+strings.Join(gpus, ","))
	}
	return env
}

// oneLine keeps error text on one log line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
