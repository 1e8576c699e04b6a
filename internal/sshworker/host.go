package sshworker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshconn"
)

// ErrRunDirUsed is returned by Run when the attempt's run dir already holds
// a run: mljob never starts over an existing one. It is the engine
// contract's.
var ErrRunDirUsed = engine.ErrRunDirUsed

// ErrNotStarted is returned by Attach when the run dir holds no started
// run. It is the engine contract's.
var ErrNotStarted = engine.ErrNotStarted

// Exit codes of the constant scripts (see scripts.go).
const (
	exitRunDir     = 90
	exitRunDirUsed = 91
	// exitLeaseBusy is agent.py's ERR_LEASE_BUSY: the run's leases are
	// held (or an older waiter goes first); the run did not start.
	exitLeaseBusy  = 97
	exitNoPython   = 95
	exitNotStarted = 96
)

// Host runs commands and runs (the detached run contract) on one machine
// through an sshconn.Transport. It is safe for concurrent use.
type Host struct {
	name    string
	t       sshconn.Transport
	workdir string
	python  string // runs the wrapper of a run started without the agent; "" = DefaultPython

	mu     sync.Mutex          // guards cached
	cached map[string]struct{} // hashes known to be in the host's cache

	uploadMu sync.Mutex // serialises cache checks and uploads, so one file goes up once

	agentMu     sync.Mutex // guards the fields below
	agentPython string     // "" = no agent: every run starts through a shell session
	agentWarm   bool       // python scripts start in a fork of the agent
	agentWarn   func(string)
	agentOff    bool       // the agent could not run here
	agent       *agentConn // the live agent, if one was started

	leases func() *run.LeaseQuery // set before use (SetLeases); nil = probes ask of no lease
}

// NewHost returns the Host called name, reached through t, keeping its cache
// and run dirs under workdir ("~/" is expanded on the host).
func NewHost(name string, t sshconn.Transport, workdir string) *Host {
	return &Host{name: name, t: t, workdir: workdir, cached: map[string]struct{}{}}
}

// SetLeases makes each probe ask of the host's leases what q returns (nil:
// nothing); call it before the host is used. Only the agent answers: a
// probe through the shell says nothing of leases.
func (h *Host) SetLeases(q func() *run.LeaseQuery) { h.leases = q }

// DefaultPython runs the wrappers of a host whose python is not set.
const DefaultPython = "python3"

// SetPython sets the python that runs the wrapper of each run started
// without the agent (the shell path, a batch task): the wrapper is a
// Python program (agent.py). Call it before the first Run or Prepare.
func (h *Host) SetPython(python string) { h.python = python }

// Python is the python that runs the host's wrappers.
func (h *Host) Python() string {
	if h.python == "" {
		return DefaultPython
	}
	return h.python
}

// Name is the host's name from the hosts file.
func (h *Host) Name() string { return h.name }

// Close stops the host's agent, if any (its runs go on), and closes the
// transport.
func (h *Host) Close() error {
	h.StopAgent()
	return h.t.Close()
}

var plainName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// envWord is KEY=VALUE with a shell-safe key.
var envWord = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

func checkSpec(spec run.Spec) error {
	if !plainName.MatchString(spec.ID) {
		return fmt.Errorf("run id %q is not a plain name", spec.ID)
	}
	if len(spec.Argv) == 0 {
		return errors.New("empty command")
	}
	names := []string{spec.Input.Name, spec.ArgFile}
	for _, f := range spec.Files {
		if !sha256Hex.MatchString(f.Hash) {
			return fmt.Errorf("file %q: bad hash %q", f.Name, f.Hash)
		}
		names = append(names, f.Name)
	}
	for _, n := range names {
		if n != "" && (!plainName.MatchString(n) || run.IsReserved(n)) {
			return fmt.Errorf("file name %q is not a plain file name", n)
		}
	}
	for _, e := range spec.Env {
		if !envWord.MatchString(e) {
			return fmt.Errorf("environment entry %q is not KEY=VALUE", e)
		}
	}
	return nil
}

// Run uploads the spec's files when the host's cache lacks them, prepares
// the run dir, starts the command detached from the session and waits for
// it. started is called once the run is detached (before the wait): from
// then on, the run goes on even if ctx ends or the connection drops, and
// Attach can wait for it again.
//
// Errors: ErrRunDirUsed (the dir holds an earlier run), errors wrapping
// sshconn.ErrConnLost or ctx.Err() — check whether started was called to
// know if the run is on its way.
func (h *Host) Run(ctx context.Context, spec run.Spec, started func(run.Started)) (run.Result, error) {
	if err := checkSpec(spec); err != nil {
		return run.Result{}, fmt.Errorf("run %s on %s: %w", spec.ID, h.name, err)
	}
	if err := h.ensureCached(ctx, spec.Files); err != nil {
		return run.Result{}, err
	}
	a, err := h.currentAgent(ctx)
	if err != nil {
		return run.Result{}, fmt.Errorf("run %s on %s: %w", spec.ID, h.name, err)
	}
	if a != nil {
		res, err := h.runAgent(ctx, a, spec, started) // its progress lines with it
		if err != nil {
			return res, fmt.Errorf("run %s on %s: %w", spec.ID, h.name, err)
		}
		return res, nil
	}
	argv := []string{"sh", "-c", startScript, "mljob-run", h.Python(), agentSource, h.workdir, spec.ID,
		spec.Input.Name, strconv.Itoa(len(spec.Input.Data)), spec.ArgFile,
		strconv.Itoa(spec.StdoutTail), strconv.Itoa(spec.StderrTail), strconv.Itoa(len(spec.Files))}
	for _, f := range spec.Files {
		argv = append(argv, f.Name, f.Hash)
	}
	argv = append(argv, strconv.Itoa(len(spec.Env)))
	argv = append(argv, spec.Env...)
	argv = append(argv, spec.Argv...)
	if spec.Lease != nil {
		// The leases come first, as on the agent path: leaseScript takes
		// them and only then runs the start script, which passes them to
		// the wrapper; a refusal exits exitLeaseBusy before the run dir
		// exists.
		lease, err := json.Marshal(spec.Lease)
		if err != nil {
			return run.Result{}, fmt.Errorf("run %s on %s: %w", spec.ID, h.name, err)
		}
		argv = append([]string{"sh", "-c", leaseScript, "mljob-lease", h.Python(), string(lease)}, argv...)
	}
	var stdin io.Reader
	if spec.Input.Name != "" {
		stdin = bytes.NewReader(spec.Input.Data)
	}
	res, err := h.execFramed(ctx, argv, stdin, started)
	if err == nil {
		err = h.finishProgress(ctx, spec.ID, res, spec.Progress)
	}
	if err != nil {
		return res, fmt.Errorf("run %s on %s: %w", spec.ID, h.name, err)
	}
	return res, nil
}

// Attach waits for the run in run dir id, started earlier by Run (by this
// process or another), and returns its result. ErrNotStarted when the run
// dir is missing or holds no pid. A run that ended without an exit code
// comes back with Lost set. With the agent enabled, the wait goes through
// it, over its one session; otherwise each Attach holds a session of its
// own while it waits.
func (h *Host) Attach(ctx context.Context, id string, opts run.AttachOptions) (run.Result, error) {
	if !plainName.MatchString(id) {
		return run.Result{}, fmt.Errorf("attach %s on %s: run id is not a plain name", id, h.name)
	}
	a, err := h.currentAgent(ctx)
	if err != nil {
		return run.Result{}, fmt.Errorf("attach %s on %s: %w", id, h.name, err)
	}
	if a != nil {
		res, err := h.attachAgent(ctx, a, id, opts) // its progress lines with it
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, errAgentAttach) {
			return res, fmt.Errorf("attach %s on %s: %w", id, h.name, err)
		}
	}
	argv := []string{"sh", "-c", attachScript, "mljob-attach", h.workdir, id,
		strconv.Itoa(opts.StdoutTail), strconv.Itoa(opts.StderrTail)}
	res, err := h.execFramed(ctx, argv, nil, opts.Started)
	if err == nil {
		err = h.finishProgress(ctx, id, res, opts.Progress)
	}
	if err != nil {
		return res, fmt.Errorf("attach %s on %s: %w", id, h.name, err)
	}
	return res, nil
}

// execFramed runs one of the framed scripts and parses its output while it
// runs, so started fires as soon as the run is detached.
func (h *Host) execFramed(ctx context.Context, argv []string, stdin io.Reader, started func(run.Started)) (run.Result, error) {
	pr, pw := io.Pipe()
	var stderr LimitedBuffer
	stderr.Limit = 4096
	type parsed struct {
		res run.Result
		err error
	}
	done := make(chan parsed, 1)
	go func() {
		res, err := parseFramed(pr, started)
		// Drain whatever follows so the writer never blocks.
		_, _ = io.Copy(io.Discard, pr)
		done <- parsed{res, err}
	}()
	execErr := h.t.Exec(ctx, argv, stdin, pw, &stderr)
	pw.Close()
	p := <-done
	if execErr != nil {
		var ee *sshconn.ExitError
		if errors.As(execErr, &ee) {
			msg := strings.TrimSpace(stderr.String())
			switch ee.Code {
			case exitRunDirUsed:
				return p.res, fmt.Errorf("%w: %s", ErrRunDirUsed, msg)
			case exitNotStarted:
				return p.res, ErrNotStarted
			case exitLeaseBusy:
				return p.res, fmt.Errorf("%w: %s", engine.ErrLeaseBusy, msg)
			case exitNoPython:
				return p.res, errors.New(msg)
			}
			if msg != "" {
				return p.res, fmt.Errorf("%w: %s", execErr, msg)
			}
		}
		return p.res, execErr
	}
	if p.err != nil {
		return p.res, p.err
	}
	if !p.res.Timed {
		p.res.FinishedAt = time.Now()
	}
	return p.res, nil
}

// parseFramed reads the MLJOB-* lines of the framed scripts. Lines before
// them (a chatty login shell) are skipped.
func parseFramed(r io.Reader, started func(run.Started)) (run.Result, error) {
	br := bufio.NewReader(r)
	var res run.Result
	gotStart, gotResult := false, false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				if !gotResult {
					return res, errors.New("no result from host")
				}
				return res, nil
			}
			return res, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "MLJOB-STARTED ") && !gotStart:
			f := strings.SplitN(line, " ", 3)
			if len(f) != 3 {
				return res, fmt.Errorf("bad start line %q", line)
			}
			pid, err := strconv.Atoi(f[1])
			if err != nil {
				return res, fmt.Errorf("bad start line %q", line)
			}
			gotStart = true
			res.Started = run.Started{RunDir: f[2], PID: pid, At: time.Now()}
			if started != nil {
				started(res.Started)
			}
		case strings.HasPrefix(line, "MLJOB-TIMES "):
			f := strings.Fields(line)
			if len(f) == 3 {
				start, ok1 := epochTime(f[1])
				end, ok2 := epochTime(f[2])
				if ok1 && ok2 && !end.Before(start) {
					res.At, res.FinishedAt, res.Timed = start, end, true
				}
			}
		case strings.HasPrefix(line, "MLJOB-COST "):
			// A cost line that does not parse is dropped: the cost is a
			// measurement, never a reason to fail the run.
			if c, err := run.ParseCost(strings.TrimPrefix(line, "MLJOB-COST ")); err == nil {
				res.Cost = &c
			}
		case line == "MLJOB-NOARTIFACTS":
			res.NoArtifactsDir = true
		case strings.HasPrefix(line, "MLJOB-ENV "):
			res.Env = envReport(strings.TrimPrefix(line, "MLJOB-ENV "))
		case strings.HasPrefix(line, "MLJOB-RESULT "):
			gotResult = true
			code := strings.TrimPrefix(line, "MLJOB-RESULT ")
			if code == "none" {
				res.Lost = true
				res.ExitCode = -1
			} else if res.ExitCode, err = strconv.Atoi(strings.TrimSpace(code)); err != nil {
				return res, fmt.Errorf("bad exit code %q in run dir", code)
			}
		case strings.HasPrefix(line, "MLJOB-FILES ") && gotResult:
			// Both streams whole: stdout's bytes, then stderr's.
			var so, se int64
			if _, err := fmt.Sscanf(line, "MLJOB-FILES %d %d", &so, &se); err != nil || so < 0 || se < 0 {
				return res, fmt.Errorf("bad files line %q", line)
			}
			res.Stdout, res.StdoutSize = make([]byte, so), so
			res.Stderr, res.StderrSize = make([]byte, se), se
			if _, err := io.ReadFull(br, res.Stdout); err != nil {
				return res, fmt.Errorf("read stdout: %w", err)
			}
			if _, err := io.ReadFull(br, res.Stderr); err != nil {
				return res, fmt.Errorf("read stderr: %w", err)
			}
		case strings.HasPrefix(line, "MLJOB-FILE ") && gotResult:
			var name string
			var size, take int64
			if _, err := fmt.Sscanf(line, "MLJOB-FILE %s %d %d", &name, &size, &take); err != nil {
				return res, fmt.Errorf("bad file line %q", line)
			}
			buf := make([]byte, take)
			if _, err := io.ReadFull(br, buf); err != nil {
				return res, fmt.Errorf("read %s: %w", name, err)
			}
			switch name {
			case "stdout":
				res.Stdout, res.StdoutSize = buf, size
			case "stderr":
				res.Stderr, res.StderrSize = buf, size
			}
		}
	}
}

// ensureCached uploads the files whose hashes the host's cache lacks. One
// check per dispatch and hash: afterwards the hash is remembered.
func (h *Host) ensureCached(ctx context.Context, files []run.File) error {
	h.uploadMu.Lock()
	defer h.uploadMu.Unlock()
	var want []run.File
	h.mu.Lock()
	for _, f := range files {
		if _, ok := h.cached[f.Hash]; !ok {
			want = append(want, f)
		}
	}
	h.mu.Unlock()
	if len(want) == 0 {
		return nil
	}
	missing, err := h.missing(ctx, want)
	if err != nil {
		return err
	}
	for _, f := range want {
		if missing[f.Hash] {
			if err := h.upload(ctx, f); err != nil {
				return err
			}
		}
		h.mu.Lock()
		h.cached[f.Hash] = struct{}{}
		h.mu.Unlock()
	}
	return nil
}

// missing returns the hashes of files the host's cache lacks: asked
// through the agent where one runs, else through a shell session.
func (h *Host) missing(ctx context.Context, files []run.File) (map[string]bool, error) {
	hashes := make([]string, len(files))
	for i, f := range files {
		hashes[i] = f.Hash
	}
	a, err := h.currentAgent(ctx)
	if err != nil {
		return nil, fmt.Errorf("check cache on %s: %w", h.name, err)
	}
	if a != nil {
		missing, err := h.missingAgent(ctx, a, hashes)
		if err != nil {
			return nil, fmt.Errorf("check cache on %s: %w", h.name, err)
		}
		return missing, nil
	}
	argv := append([]string{"sh", "-c", checkCacheScript, "mljob-cache", h.workdir}, hashes...)
	var out, errOut LimitedBuffer
	out.Limit, errOut.Limit = 1<<16, 4096
	if err := h.t.Exec(ctx, argv, nil, &out, &errOut); err != nil {
		return nil, fmt.Errorf("check cache on %s: %w%s", h.name, err, Detail(errOut.String()))
	}
	missing := map[string]bool{}
	for _, l := range strings.Fields(out.String()) {
		missing[l] = true
	}
	return missing, nil
}

func (h *Host) upload(ctx context.Context, f run.File) error {
	src, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("upload %s to %s: %w", f.Name, h.name, err)
	}
	defer src.Close()
	var errOut LimitedBuffer
	errOut.Limit = 4096
	argv := []string{"sh", "-c", uploadScript, "mljob-upload", h.workdir, f.Hash, strconv.FormatInt(f.Size, 10)}
	if err := h.t.Exec(ctx, argv, src, nil, &errOut); err != nil {
		return fmt.Errorf("upload %s to %s: %w%s", f.Name, h.name, err, Detail(errOut.String()))
	}
	return nil
}

// Detail formats a command's stderr as the tail of an error message:
// ": <text>", or "" when it said nothing.
func Detail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return ": " + s
}

// LimitedBuffer keeps the first Limit bytes written to it and discards the
// rest, so a chatty command cannot grow the dispatcher's memory.
type LimitedBuffer struct {
	bytes.Buffer
	Limit int
}

// Write keeps what fits under Limit and reports every byte written.
func (b *LimitedBuffer) Write(p []byte) (int, error) {
	if room := b.Limit - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// epochTime parses seconds since the epoch with an optional fraction
// ("1733312345.123456789"), as date +%s.%N prints them.
func epochTime(s string) (time.Time, bool) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		v, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		for i := len(frac); i < 9; i++ {
			v *= 10
		}
		ns = v
	}
	return time.Unix(n, ns), true
}
