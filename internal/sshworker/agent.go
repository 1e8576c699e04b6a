package sshworker

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/gpuown"
	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshconn"
)

// agentProgram is agent.py, the host agent: see the comment at its top
// for what it does and why.
//
//go:embed agent.py
var agentProgram string

// agentSource is what runs as "python -c agentSource": agent.py after
// gpuown.py's helpers, which it shares with hostcheck's probe.
var agentSource = gpuown.Prepend(agentProgram)

// agentHelloWait bounds the wait for a new agent's first line; a host
// whose python cannot start one in that time runs without it.
const agentHelloWait = 30 * time.Second

// agentReplyWait bounds the wait for the answer to a start once it is
// sent, even after the caller's ctx has ended: the agent answers in
// milliseconds, and an answer tells whether the run is on its way.
const agentReplyWait = 30 * time.Second

// errAgentAttach means the agent could not take an attach (a fault of its
// own, not of the run): Attach waits through the shell instead.
var errAgentAttach = errors.New("agent could not attach")

// errAgentUnusable means the agent did not start on the host (no python
// there, or one too old); the shell path is used instead.
var errAgentUnusable = errors.New("agent unusable")

// agentConn is a resident agent.py on one host, reached through one session of
// the host's transport. Many runs share it: requests carry a tag, and a
// reader goroutine hands each reply to the run that sent it.
type agentConn struct {
	w      io.WriteCloser // the agent's stdin
	cancel context.CancelFunc

	wmu sync.Mutex // serialises requests on w

	mu       sync.Mutex // guards calls, progress, nextTag
	calls    map[uint64]chan agentMsg
	progress map[uint64]func([]byte, int64) // a call's progress lines (run.Progress.Lines)
	nextTag  uint64

	done    chan struct{} // closed once the agent's session has ended
	endErr  error         // why it ended, wrapping sshconn.ErrConnLost; written before done is closed
	execErr error         // what the transport's Exec returned; written before done is closed
}

// agentMsg is one reply from the agent; payload holds the bytes its N counts.
type agentMsg struct {
	Ev       string          `json:"ev"`
	Tag      uint64          `json:"tag"`
	N        int             `json:"n"`
	Protocol int             `json:"protocol"`
	PID      int             `json:"pid"`
	Run      string          `json:"run"`
	Code     int             `json:"code"`
	Msg      string          `json:"msg"`
	Exit     string          `json:"exit"`
	Stdout   [2]int64        `json:"stdout"` // full size, bytes sent
	Stderr   [2]int64        `json:"stderr"`
	Cost     string          `json:"cost"`    // the run dir's cost line (run.ParseCost), "" when none
	NoArt    bool            `json:"noart"`   // a result's run dir holds no artifacts/ dir
	Env      string          `json:"env"`     // a result's environment report line (.env.json), "" when none
	Times    []float64       `json:"times"`   // an attached run's start and end, epoch seconds by the host's clock
	Load     float64         `json:"load"`    // a probe's 1-minute load average
	GPUs     []string        `json:"gpus"`    // a probe's nvidia-smi lines: index,utilization,memory
	Missing  []string        `json:"missing"` // a cache check's hashes the cache lacks
	End      int64           `json:"end"`     // a progress frame's stdout offset
	Leases   *run.LeaseState `json:"leases"`  // a probe's view of the leases asked about
	payload  []byte
	received time.Time
}

// agentRequest is a start request; argv and env go base64-encoded because
// JSON strings cannot carry arbitrary bytes.
type agentRequest struct {
	Op      string          `json:"op"`
	Tag     uint64          `json:"tag"`
	ID      string          `json:"id"`
	Input   string          `json:"input,omitempty"`
	ArgFile string          `json:"argfile,omitempty"`
	OutLim  int             `json:"outlim"`
	ErrLim  int             `json:"errlim"`
	Files   [][2]string     `json:"files,omitempty"`
	Env     []string        `json:"env,omitempty"`
	Argv    []string        `json:"argv"`
	Warm    bool            `json:"warm,omitempty"`
	Hashes  []string        `json:"hashes,omitempty"`  // a cache check's`
	Prog    *int64          `json:"prog,omitempty"`    // the stdout offset to send progress lines from
	Lease   *run.Lease      `json:"lease,omitempty"`   // a start's leases, taken before the run dir is claimed
	Probe   *run.LeaseQuery `json:"lease_q,omitempty"` // a probe's question about the leases
	N       int             `json:"n"`
}

// EnableAgent makes Run start runs through a resident agent run by python
// on the host, instead of one shell session per run: one session per host
// in all, and no shell, mkdir, ln, cat, setsid or mv per start (the run's
// wrapper is a fork of the agent). Runs keep the same run dirs, so Attach,
// Kill and Output work on them as before. Where the agent cannot run (no
// python, or one older than 3.6) Run falls back to the shell path and
// warn, if not nil, is told why, once.
//
// With warm, a run whose command is "PYTHON -u SCRIPT ARGS..." (PYTHON
// being the agent's) skips the interpreter's start as well: the script
// runs in a fork of the agent, as __main__, with that command's argv,
// sys.path, unbuffered output and exit status.
func (h *Host) EnableAgent(python string, warm bool, warn func(string)) {
	h.agentMu.Lock()
	defer h.agentMu.Unlock()
	h.agentPython, h.agentWarm, h.agentWarn = python, warm, warn
}

// StartAgent starts the host's agent now, if runs are to start through
// one and none runs, so that the first run does not wait for it. A host
// whose python cannot run the agent is not an error: runs take the shell
// path, as Run would find.
func (h *Host) StartAgent(ctx context.Context) error {
	_, err := h.currentAgent(ctx)
	return err
}

// StopAgent stops the host's agent, if one runs: its runs go on, detached,
// and the next Run starts a new one.
func (h *Host) StopAgent() {
	h.agentMu.Lock()
	defer h.agentMu.Unlock()
	if h.agent != nil {
		h.agent.close()
		h.agent = nil
	}
}

// currentAgent returns the host's live agent, starting one when there is
// none. It returns nil, nil when runs take the shell path.
func (h *Host) currentAgent(ctx context.Context) (*agentConn, error) {
	h.agentMu.Lock()
	defer h.agentMu.Unlock()
	if h.agentPython == "" || h.agentOff {
		return nil, nil
	}
	if a := h.agent; a != nil {
		select {
		case <-a.done:
		default:
			return a, nil
		}
	}
	a, err := h.startAgent(ctx)
	if errors.Is(err, errAgentUnusable) {
		h.agentOff = true
		if h.agentWarn != nil {
			h.agentWarn(fmt.Sprintf("host %s: %v; starting each run through its own shell session instead", h.name, err))
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	h.agent = a
	return a, nil
}

// startAgent starts agent.py over the transport and waits for its hello.
func (h *Host) startAgent(ctx context.Context) (*agentConn, error) {
	actx, cancel := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	a := &agentConn{w: inW, cancel: cancel, calls: map[uint64]chan agentMsg{}, progress: map[uint64]func([]byte, int64){},
		done: make(chan struct{})}
	var stderr LimitedBuffer
	stderr.Limit = 4096
	exited := make(chan error, 1)
	go func() {
		argv := []string{h.agentPython, "-c", agentSource, "mljob-agent", h.workdir}
		err := h.t.Exec(actx, argv, inR, outW, &stderr)
		inR.Close()
		outW.CloseWithError(io.EOF)
		exited <- err
	}()
	hello := make(chan error, 1)
	go a.read(bufio.NewReader(outR), hello)
	go func() {
		err := <-exited
		a.execErr = err
		switch {
		case err == nil:
			err = fmt.Errorf("%w: agent on %s ended", sshconn.ErrConnLost, h.name)
		case !errors.Is(err, sshconn.ErrConnLost):
			// %w twice: a refusal (host key, auth) that ended it must stay
			// visible to errors.As beside the lost connection.
			err = fmt.Errorf("%w: agent on %s ended: %w%s", sshconn.ErrConnLost, h.name, err, Detail(stderr.String()))
		}
		a.end(err)
	}()

	timer := time.NewTimer(agentHelloWait)
	defer timer.Stop()
	select {
	case err := <-hello:
		if err == nil {
			return a, nil
		}
		a.close()
		<-a.done
		if !agentCannotRun(h.t, a.execErr) {
			return nil, a.endErr // the connection failed, not the agent
		}
		why := err.Error()
		if a.execErr != nil {
			why = fmt.Sprintf("%v%s", a.execErr, Detail(stderr.String()))
		}
		return nil, fmt.Errorf("%w: %s -c agent: %s", errAgentUnusable, h.agentPython, why)
	case <-timer.C:
		a.close()
		return nil, fmt.Errorf("%w: %s did not start the agent in %v", errAgentUnusable, h.agentPython, agentHelloWait)
	case <-ctx.Done():
		a.close()
		return nil, ctx.Err()
	}
}

// agentCannotRun tells a host where the agent itself failed (python
// missing, too old, or the agent's protocol not ours) from one the
// transport could not reach: only the first is a reason to do without it.
func agentCannotRun(t sshconn.Transport, execErr error) bool {
	var ee *sshconn.ExitError
	if execErr == nil || errors.As(execErr, &ee) {
		return true // it ran, and ended without a usable hello
	}
	_, local := t.(sshconn.Local)
	return local // a local exec fails only when python is not there
}

// read hands the agent's replies to their runs until the stream ends. The
// first reply must be the hello; lines before it (a login shell that talks)
// are skipped.
func (a *agentConn) read(br *bufio.Reader, hello chan<- error) {
	greeted := false
	defer func() {
		if !greeted {
			hello <- errors.New("it sent no hello")
		}
		// Keep reading: a transport blocked on a full pipe never ends.
		_, _ = io.Copy(io.Discard, br)
		// The agent's output has ended, so it has: end its input too, or
		// the transport's stdin copier waits on our pipe forever.
		a.w.Close()
	}()
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return
		}
		var m agentMsg
		if !greeted {
			if !bytes.HasPrefix(line, []byte(`{"ev":"hello"`)) {
				continue
			}
			if json.Unmarshal(line, &m) != nil || m.Protocol != 1 {
				hello <- fmt.Errorf("agent speaks protocol %d, not 1", m.Protocol)
				greeted = true
				a.close()
				return
			}
			greeted = true
			hello <- nil
			continue
		}
		if err := json.Unmarshal(line, &m); err != nil {
			a.close()
			return
		}
		m.received = time.Now()
		if m.N > 0 {
			m.payload = make([]byte, m.N)
			if _, err := io.ReadFull(br, m.payload); err != nil {
				return
			}
		}
		a.mu.Lock()
		if m.Ev == "progress" {
			lines := a.progress[m.Tag]
			a.mu.Unlock()
			if lines != nil {
				lines(m.payload, m.End) // in order: this goroutine reads every frame
			}
			continue
		}
		ch := a.calls[m.Tag]
		if m.Ev != "started" { // error, result and unread end a call
			delete(a.calls, m.Tag)
			delete(a.progress, m.Tag)
		}
		a.mu.Unlock()
		if ch != nil {
			ch <- m // buffered for both replies: never blocks
		}
	}
}

// end records why the agent's session ended and wakes every waiting run.
func (a *agentConn) end(err error) {
	a.endErr = err
	close(a.done)
}

// close ends the agent: its stdin closes, and it leaves its runs running.
func (a *agentConn) close() {
	a.w.Close()
	a.cancel()
}

// send writes one request and registers for its replies, under the tag it
// returns; with progress on, for its progress frames too, from
// progress.From.
func (a *agentConn) send(req agentRequest, data []byte, progress run.Progress) (uint64, chan agentMsg, error) {
	ch := make(chan agentMsg, 2)
	a.mu.Lock()
	a.nextTag++
	req.Tag = a.nextTag
	a.calls[req.Tag] = ch
	if progress.On() {
		from := progress.From
		req.Prog = &from
		a.progress[req.Tag] = progress.Lines
	}
	a.mu.Unlock()
	req.N = len(data)
	head, err := json.Marshal(req)
	if err != nil {
		a.forget(req.Tag)
		return 0, nil, err
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	buf := make([]byte, 0, len(head)+1+len(data))
	buf = append(append(append(buf, head...), '\n'), data...)
	if _, err := a.w.Write(buf); err != nil {
		a.forget(req.Tag)
		return 0, nil, fmt.Errorf("%w: agent gone: %v", sshconn.ErrConnLost, err)
	}
	return req.Tag, ch, nil
}

func (a *agentConn) forget(tag uint64) {
	a.mu.Lock()
	delete(a.calls, tag)
	delete(a.progress, tag)
	a.mu.Unlock()
}

// runAgent is Run through the agent: one request out, a "started" and a
// "result" back, with the run's progress lines in "progress" frames
// between them (all of them before the result).
func (h *Host) runAgent(ctx context.Context, a *agentConn, spec run.Spec, started func(run.Started)) (run.Result, error) {
	req := agentRequest{Op: "start", ID: spec.ID, Input: spec.Input.Name, ArgFile: spec.ArgFile,
		OutLim: spec.StdoutTail, ErrLim: spec.StderrTail, Lease: spec.Lease}
	for _, f := range spec.Files {
		req.Files = append(req.Files, [2]string{f.Name, f.Hash})
	}
	for _, e := range spec.Env {
		req.Env = append(req.Env, base64.StdEncoding.EncodeToString([]byte(e)))
	}
	for _, w := range spec.Argv {
		req.Argv = append(req.Argv, base64.StdEncoding.EncodeToString([]byte(w)))
	}
	req.Warm = h.agentWarm && len(spec.Argv) >= 3 && spec.Argv[0] == h.agentPython && spec.Argv[1] == "-u" &&
		!setsPythonStartup(spec.Env)
	tag, ch, err := a.send(req, spec.Input.Data, spec.Progress)
	if err != nil {
		return run.Result{}, err
	}
	var res run.Result
	// The answer to a start comes whatever ctx says: it tells whether the
	// run is on its way, which the caller must know to leave it running.
	wait := time.NewTimer(agentReplyWait)
	defer wait.Stop()
	select {
	case m := <-ch:
		if m.Ev == "error" {
			switch m.Code {
			case exitRunDirUsed:
				return res, fmt.Errorf("%w: %s", ErrRunDirUsed, m.Msg)
			case exitLeaseBusy:
				return res, fmt.Errorf("%w: %s", engine.ErrLeaseBusy, m.Msg)
			}
			return res, errors.New(m.Msg)
		}
		res.Started = run.Started{RunDir: m.Run, PID: m.PID, At: m.received}
		if started != nil {
			started(res.Started)
		}
	case <-a.done:
		return res, a.endErr
	case <-wait.C:
		a.forget(tag)
		return res, fmt.Errorf("%w: agent on %s did not answer a start in %v", sshconn.ErrConnLost, h.name, agentReplyWait)
	}
	select {
	case m := <-ch:
		res.FinishedAt = m.received
		return res, resultFromAgent(&res, m)
	case <-a.done:
		return res, a.endErr
	case <-ctx.Done():
		a.forget(tag)
		return res, ctx.Err()
	}
}

// attachAgent is Attach through the agent: it waits on the run over the
// agent's one session, so that any number of adopted runs need no session
// each (sshd allows 10 per connection by default).
func (h *Host) attachAgent(ctx context.Context, a *agentConn, id string, opts run.AttachOptions) (run.Result, error) {
	tag, ch, err := a.send(agentRequest{Op: "attach", ID: id, OutLim: opts.StdoutTail, ErrLim: opts.StderrTail}, nil, opts.Progress)
	if err != nil {
		return run.Result{}, err
	}
	var res run.Result
	wait := time.NewTimer(agentReplyWait)
	defer wait.Stop()
	select {
	case m := <-ch:
		if m.Ev == "error" {
			if m.Code == exitNotStarted {
				return res, ErrNotStarted
			}
			return res, fmt.Errorf("%w: %s", errAgentAttach, m.Msg)
		}
		res.Started = run.Started{RunDir: m.Run, PID: m.PID, At: m.received}
		if opts.Started != nil {
			opts.Started(res.Started)
		}
	case <-a.done:
		return res, a.endErr
	case <-wait.C:
		a.forget(tag)
		return res, fmt.Errorf("%w: agent on %s did not answer an attach in %v", sshconn.ErrConnLost, h.name, agentReplyWait)
	case <-ctx.Done():
		a.forget(tag)
		return res, ctx.Err()
	}
	select {
	case m := <-ch:
		res.FinishedAt = m.received
		return res, resultFromAgent(&res, m)
	case <-a.done:
		return res, a.endErr
	case <-ctx.Done():
		a.forget(tag)
		return res, ctx.Err()
	}
}

// setsPythonStartup reports whether env sets a PYTHON* variable: the
// interpreter reads those (PYTHONPATH, PYTHONHASHSEED, ...) as it starts,
// so a run that sets one needs a new interpreter, not a fork of the agent.
func setsPythonStartup(env []string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, "PYTHON") {
			return true
		}
	}
	return false
}

// resultFromAgent fills res from a "result" reply, as parseFramed does from
// the shell path's frames.
func resultFromAgent(res *run.Result, m agentMsg) error {
	switch m.Ev {
	case "result":
	case "unread":
		// The run ended but the agent could not read its run dir: the
		// caller reattaches and reads it through the shell.
		return fmt.Errorf("%w: %s", sshconn.ErrConnLost, m.Msg)
	default:
		return fmt.Errorf("agent sent %q where a result was due", m.Ev)
	}
	if m.Exit == "" {
		res.Lost, res.ExitCode = true, -1
	} else {
		code, err := strconv.Atoi(strings.TrimSpace(m.Exit))
		if err != nil {
			return fmt.Errorf("bad exit code %q in run dir", m.Exit)
		}
		res.ExitCode = code
	}
	so, se := m.Stdout[1], m.Stderr[1]
	if so < 0 || se < 0 || so+se != int64(len(m.payload)) {
		return fmt.Errorf("agent result: %d+%d bytes announced, %d sent", so, se, len(m.payload))
	}
	res.Stdout, res.StdoutSize = m.payload[:so:so], m.Stdout[0]
	res.Stderr, res.StderrSize = m.payload[so:], m.Stderr[0]
	if c, err := run.ParseCost(m.Cost); err == nil {
		res.Cost = &c
	}
	res.NoArtifactsDir = m.NoArt
	res.Env = envReport(m.Env)
	if len(m.Times) == 2 && m.Times[1] >= m.Times[0] && m.Times[0] > 0 {
		res.At, res.FinishedAt, res.Timed = epochFloat(m.Times[0]), epochFloat(m.Times[1]), true
	}
	return nil
}

// envReport is a run dir's environment report line as run.Result.Env
// holds it: nil when there is none, or it is over run.MaxEnvReport.
func envReport(line string) []byte {
	if len(line) > run.MaxEnvReport {
		return nil
	}
	if line = strings.TrimSpace(line); line == "" {
		return nil
	}
	return []byte(line)
}

// epochFloat is t seconds after the Unix epoch, in UTC.
func epochFloat(t float64) time.Time {
	sec := math.Floor(t)
	return time.Unix(int64(sec), int64((t-sec)*1e9)).UTC()
}

// probeAgent is Probe through the agent: a message on its session instead
// of a session, a shell and a process per probe.
func (h *Host) probeAgent(ctx context.Context, a *agentConn) (Probe, error) {
	req := agentRequest{Op: "probe"}
	if h.leases != nil {
		req.Probe = h.leases()
	}
	tag, ch, err := a.send(req, nil, run.Progress{})
	if err != nil {
		return Probe{}, err
	}
	wait := time.NewTimer(agentReplyWait)
	defer wait.Stop()
	select {
	case m := <-ch:
		if m.Ev != "probe" {
			return Probe{}, fmt.Errorf("probe %s: the agent answered %q: %s", h.name, m.Ev, m.Msg)
		}
		p := Probe{Load: m.Load, Alive: map[string]bool{}, Leases: m.Leases}
		for _, g := range m.GPUs {
			if gpu, ok := parseGPU(g); ok {
				p.GPUs = append(p.GPUs, gpu)
			}
		}
		return p, nil
	case <-a.done:
		return Probe{}, a.endErr
	case <-wait.C:
		a.forget(tag)
		return Probe{}, fmt.Errorf("%w: agent on %s did not answer a probe in %v", sshconn.ErrConnLost, h.name, agentReplyWait)
	case <-ctx.Done():
		a.forget(tag)
		return Probe{}, ctx.Err()
	}
}

// missingAgent asks the agent which of hashes its host's cache lacks: a
// message on its session instead of a session and a shell.
func (h *Host) missingAgent(ctx context.Context, a *agentConn, hashes []string) (map[string]bool, error) {
	tag, ch, err := a.send(agentRequest{Op: "cached", Hashes: hashes}, nil, run.Progress{})
	if err != nil {
		return nil, err
	}
	wait := time.NewTimer(agentReplyWait)
	defer wait.Stop()
	select {
	case m := <-ch:
		if m.Ev != "cached" {
			return nil, fmt.Errorf("the agent answered %q: %s", m.Ev, m.Msg)
		}
		missing := map[string]bool{}
		for _, x := range m.Missing {
			missing[x] = true
		}
		return missing, nil
	case <-a.done:
		return nil, a.endErr
	case <-wait.C:
		a.forget(tag)
		return nil, fmt.Errorf("%w: agent on %s did not answer a cache check in %v", sshconn.ErrConnLost, h.name, agentReplyWait)
	case <-ctx.Done():
		a.forget(tag)
		return nil, ctx.Err()
	}
}
