package dispatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/run"
)

// ErrScriptsRefused is returned when orders wait but no host that answers
// can run their scripts: each host's python lacks a module they import.
var ErrScriptsRefused = errors.New("no host can run the waiting orders' scripts")

// scriptRefusal says why a host's python cannot run a script.
type scriptRefusal struct {
	host, script string
	msg, fix     string
}

func (r *scriptRefusal) Error() string { return r.msg }

// scriptChecks remembers, for one dispatch, whether each host's python can
// import what each script needs, so that a script's first run on a host is
// preceded by one check and its later runs by none: one session per host,
// interpreter and script content (with its shipped modules), however many
// runs follow. mu guards both maps.
type scriptChecks struct {
	mu      sync.Mutex
	entries map[string]*scriptCheck
	refused map[string]map[string]*scriptRefusal // host → script → why
}

// scriptCheck is one check, done or in flight: done is closed once err is
// set (nil: runs may go).
type scriptCheck struct {
	done    chan struct{}
	err     error
	modules []string // the third-party modules the script imports
}

// skipped lists the scripts host cannot run, for its claims.
func (sc *scriptChecks) skipped(host string) []string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	var out []string
	for s := range sc.refused[host] {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// refusal returns why host cannot run script, or nil.
func (sc *scriptChecks) refusal(host, script string) *scriptRefusal {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.refused[host][script]
}

// checkScript makes sure, before a script's first run on hs, that the
// python that will run it there finds every module the script and its
// shipped modules import at module level (pyexec.Imports), with the env the
// run gets. It returns nil when runs may go, a *scriptRefusal when the host
// cannot run the script, and another error when the check itself did not
// get through (the connection dropped): that one is not remembered.
//
// Slurm entries are not checked: their runs go to nodes whose environment
// the login node need not share. Scripts that import only the standard
// library and their own modules cost no session at all.
//
// It also returns the modules the script imports (for its runs'
// environment, noteEnv): the check is one read of that environment. For
// Slurm entries it only lists them, for the report their runs make on
// their nodes.
func (d *dispatcher) checkScript(ctx context.Context, hs *hostState, job pyexec.Job, spec run.Spec, env []string) ([]string, error) {
	ex, ok := hs.h.(engine.Execer)
	batch := hs.scheduler != ""
	if !ok && !batch {
		return nil, nil
	}
	// The key: host, interpreter, and the content of every file of the
	// script (the data file aside).
	var key strings.Builder
	key.WriteString(hs.cfg.Name + "\x00" + hs.cfg.Python)
	for _, f := range scriptFiles(job, spec) {
		key.WriteString("\x00" + f.Name + "=" + f.Hash)
	}
	sc := &d.checks
	sc.mu.Lock()
	if sc.entries == nil {
		sc.entries = map[string]*scriptCheck{}
		sc.refused = map[string]map[string]*scriptRefusal{}
	}
	c, ok := sc.entries[key.String()]
	if !ok {
		c = &scriptCheck{done: make(chan struct{})}
		sc.entries[key.String()] = c
	}
	sc.mu.Unlock()
	if ok {
		select {
		case <-c.done:
			return c.modules, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	var modules []string
	var err error
	if batch {
		// Best effort: a list that cannot be read leaves the report
		// without modules, never the run unstarted.
		modules, _ = d.scriptModules(job, spec)
	} else {
		modules, err = d.runScriptCheck(ctx, ex, hs, job, spec, env)
	}
	var ref *scriptRefusal
	sc.mu.Lock()
	switch {
	case errors.As(err, &ref):
		if sc.refused[hs.cfg.Name] == nil {
			sc.refused[hs.cfg.Name] = map[string]*scriptRefusal{}
		}
		sc.refused[hs.cfg.Name][job.Script] = ref
	case err != nil:
		delete(sc.entries, key.String()) // the next run asks again
	}
	c.err, c.modules = err, modules
	close(c.done)
	sc.mu.Unlock()
	if ref != nil {
		d.warnf("host %s cannot run %s: %s; its orders wait for another host\n  Try: %s", hs.cfg.Name, job.Script, ref.msg, ref.fix)
	}
	return modules, err
}

// scriptFiles are the files of spec that are the script's own: all but
// the data file (unless it is the script).
func scriptFiles(job pyexec.Job, spec run.Spec) []run.File {
	var out []run.File
	for _, f := range spec.Files {
		if f.Name != job.DataFile || f.Name == job.Script {
			out = append(out, f)
		}
	}
	return out
}

// scriptImports lists the third-party imports of job's script and its
// shipped modules (pyexec.Imports), and their module names: nil when there
// are none.
func (d *dispatcher) scriptImports(job pyexec.Job, spec run.Spec) ([]pyexec.Import, []string, error) {
	var files []string
	for _, f := range scriptFiles(job, spec) {
		files = append(files, f.Name)
	}
	imports, err := pyexec.Imports(d.opts.ScriptsDir, files)
	if err != nil {
		return nil, nil, fmt.Errorf("check %s: %w", job.Script, err)
	}
	if len(imports) == 0 {
		return nil, nil, nil
	}
	names := make([]string, len(imports))
	for i, im := range imports {
		names[i] = im.Module
	}
	return imports, names, nil
}

// scriptModules is the module list of a run's environment (noteEnv): the
// modules job's script imports, as checkScript asks for them.
func (d *dispatcher) scriptModules(job pyexec.Job, spec run.Spec) ([]string, error) {
	_, names, err := d.scriptImports(job, spec)
	return names, err
}

// runScriptCheck runs pyexec's module check on the host, once, as a read
// of the environment its runs get (hostEnv), and returns the modules it
// asked for.
func (d *dispatcher) runScriptCheck(ctx context.Context, ex engine.Execer, hs *hostState, job pyexec.Job, spec run.Spec, env []string) ([]string, error) {
	imports, names, err := d.scriptImports(job, spec)
	if err != nil || len(imports) == 0 {
		return nil, err
	}
	return names, d.judgeScriptCheck(d.hostEnv(ctx, ex, hs, env, names), hs, job.Script, imports)
}

// judgeScriptCheck reads the module check's answer: nil when the host's
// python has every module, a *scriptRefusal when not.
func (d *dispatcher) judgeScriptCheck(e *envEntry, hs *hostState, script string, imports []pyexec.Import) error {
	python := hs.cfg.Python
	err := e.err
	stderr := bytes.NewBufferString(e.stderr)
	var exit *engine.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit), errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		// The interpreter is missing (over SSH: exit 127; here: not
		// found), or no Python 3 at all.
		return &scriptRefusal{host: hs.cfg.Name, script: script,
			msg: strings.TrimSuffix(fmt.Sprintf("%s did not run (%v): %s", python, err, oneLine(lastBytes(stderr.String(), 300))), ": "),
			fix: d.pythonFix(hs, "an interpreter that exists there")}
	default:
		return fmt.Errorf("check the imports of %s on %s: %w", script, hs.cfg.Name, err)
	}
	mc := e.check
	if e.parseErr != nil {
		return &scriptRefusal{host: hs.cfg.Name, script: script, msg: fmt.Sprintf("%s: %v", python, e.parseErr),
			fix: d.pythonFix(hs, "a Python 3 interpreter")}
	}
	missing := mc.Missing(imports)
	if len(missing) == 0 {
		return nil
	}
	mods := make([]string, len(missing))
	for i, im := range missing {
		mods[i] = im.Module
	}
	exe := mc.Executable
	if exe == "" {
		exe = python
	}
	return &scriptRefusal{host: hs.cfg.Name, script: script,
		msg: fmt.Sprintf("%s (%s, Python %s) cannot import %s", python, exe, mc.Version, strings.Join(mods, ", ")),
		fix: d.pythonFix(hs, "an interpreter that has "+strings.Join(mods, ", ")) + "; or install them for " + exe + ": " +
			pyexec.InstallHint(mods[0], exe, false) + moreMods(mods)}
}

// pythonFix says where the interpreter of hs is set.
func (d *dispatcher) pythonFix(hs *hostState, what string) string {
	if !hs.cfg.FromFile() {
		return "name " + what + " with --python PATH (or MLJOB_PYTHON, or python: in mljob's config file), e.g. --python /usr/bin/python3"
	}
	where := "the hosts file"
	if hs.cfg.Line > 0 {
		where += " (line " + strconv.Itoa(hs.cfg.Line) + ")"
	}
	return "set python: in " + hs.cfg.Name + "'s entry of " + where + " to " + what + ", e.g. python: /usr/bin/python3"
}

func moreMods(mods []string) string {
	if len(mods) < 2 {
		return ""
	}
	return " " + strings.Join(mods[1:], " ")
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// unclaim hands back an order whose script the host cannot run: no
// attempt is counted, and the order waits for a host that can.
func (d *dispatcher) unclaim(ctx context.Context, hs *hostState, o db.Order, ref *scriptRefusal) string {
	reason := fmt.Sprintf("%s cannot run %s: %s", hs.cfg.Name, ref.script, ref.msg)
	if err := d.db.UnclaimOrder(ctx, o.ID, o.Attempt, reason); err != nil {
		if errors.Is(err, db.ErrStaleAttempt) {
			// Cancelled meanwhile: close the attempt with what is known.
			return d.record(ctx, hs, o, pyexec.Outcome{Error: "cancelled before it started"}, run.Result{})
		}
		d.warnf("order %d: unclaim: %v", o.ID, err)
		return "failed"
	}
	d.logf("order %d back in the queue: %s", o.ID, oneLine(reason))
	d.observe(Event{Kind: OrderReleased, Host: hs.cfg.Name, Order: o.ID, Job: o.JobID, Attempt: o.Attempt, Reason: oneLine(reason)})
	return "unclaimed"
}

// scriptsStuck reports, when orders wait, whether none of them can go
// anywhere: every host was refused, or its python cannot run the order's
// script. A host still connecting or down may yet take them, so it keeps
// the dispatch going. The error names each script and each host's reason.
func (d *dispatcher) scriptsStuck(ctx context.Context) error {
	scripts, err := d.db.UnassignedScripts(ctx)
	if err != nil || len(scripts) == 0 {
		return nil
	}
	var lines []string
	names := make([]string, 0, len(scripts))
	for s := range scripts {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		for _, hs := range d.hosts {
			switch {
			case hs.status == hostRefused:
			case d.checks.refusal(hs.cfg.Name, s) != nil:
				ref := d.checks.refusal(hs.cfg.Name, s)
				lines = append(lines, fmt.Sprintf("  %s on %s: %s", s, hs.cfg.Name, ref.msg))
			default:
				return nil
			}
		}
	}
	if len(lines) == 0 {
		return nil // every host refused: ErrNoUsableHost says so
	}
	n := 0
	for _, c := range scripts {
		n += c
	}
	return fmt.Errorf("%w: %d order(s) wait for %s\n%s", ErrScriptsRefused, n, strings.Join(names, ", "), strings.Join(lines, "\n"))
}
