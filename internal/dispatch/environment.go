package dispatch

import (
	"bytes"
	"context"
	"strings"
	"sync"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/provenance"
	"github.com/mljob/mljob/internal/pyexec"
)

// envCache remembers, for one dispatch, the environment each host gives
// its runs (pyexec.EnvArgv: python, module versions, host, CPU, GPUs), so
// that it is read once per host, interpreter, run env and module list,
// not once per run, and stored once (db.SaveEnvironment). runs holds the
// key of the environment of each attempt in flight until its outcome is
// recorded. mu guards both maps.
type envCache struct {
	mu      sync.Mutex
	entries map[string]*envEntry
	runs    map[attemptKey]string
}

// envEntry is one read of a host's environment, done or in flight: done
// is closed once the fields are set.
type envEntry struct {
	done   chan struct{}
	check  pyexec.ModuleCheck
	hash   string // "" when it could not be stored
	stderr string
	err    error // the check did not get through (Exec's error): not remembered
	// parseErr is set when the check ran but printed no report (not a
	// Python 3): remembered, as the host's answer.
	parseErr error
}

// hostEnv runs the env check of modules on hs with env, or waits for the
// one in flight, or returns the one done. The check doubles as the
// script check (its Modules say what is found), so a script's first run
// on a host costs one session for both.
func (d *dispatcher) hostEnv(ctx context.Context, ex engine.Execer, hs *hostState, env, modules []string) *envEntry {
	key := hs.cfg.Name + "\x00" + hs.cfg.Python + "\x00" + strings.Join(env, "\x00") + "\x01" + strings.Join(modules, "\x00")
	c := &d.envs
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*envEntry{}
	}
	e, ok := c.entries[key]
	if !ok {
		e = &envEntry{done: make(chan struct{})}
		c.entries[key] = e
	}
	c.mu.Unlock()
	if ok {
		select {
		case <-e.done:
			return e
		case <-ctx.Done():
			return &envEntry{err: ctx.Err()}
		}
	}
	var stdout, stderr bytes.Buffer
	e.err = ex.Exec(ctx, pyexec.EnvArgv(hs.cfg.Python, env, len(hs.cfg.GPUs) > 0, modules), nil, &stdout, &stderr)
	e.stderr = stderr.String()
	if e.err == nil {
		e.check, e.parseErr = pyexec.ParseModuleCheck(stdout.Bytes())
	}
	if e.err == nil && e.parseErr == nil {
		spec := provenance.FromCheck(e.check).Marshal()
		h, err := d.db.SaveEnvironment(d.saveCtx, spec)
		if err != nil {
			// Provenance never holds a run back: the run goes without it.
			d.logf("host %s: %v", hs.cfg.Name, err)
		}
		e.hash = h
	}
	c.mu.Lock()
	if e.err != nil {
		delete(c.entries, key) // the next run asks again
	}
	close(e.done)
	c.mu.Unlock()
	return e
}

// noteEnv reads the environment an attempt's run gets on hs (cached) and
// keeps its key for the attempt's outcome. Batch engines are skipped: the
// login node's environment is not the node's.
func (d *dispatcher) noteEnv(ctx context.Context, hs *hostState, o db.Order, env, modules []string) {
	ex, ok := hs.h.(engine.Execer)
	if !ok || hs.scheduler != "" {
		return
	}
	e := d.hostEnv(ctx, ex, hs, env, modules)
	if e.err != nil || e.parseErr != nil || e.hash == "" {
		if e.err != nil && ctx.Err() == nil {
			d.logf("order %d: read the environment on %s: %v", o.ID, hs.cfg.Name, e.err)
		}
		return
	}
	d.envs.mu.Lock()
	if d.envs.runs == nil {
		d.envs.runs = map[attemptKey]string{}
	}
	d.envs.runs[keyOf(o)] = e.hash
	d.envs.mu.Unlock()
}

// envOf is the key of the environment noted for o's attempt, "" when none.
func (d *dispatcher) envOf(o db.Order) string {
	d.envs.mu.Lock()
	defer d.envs.mu.Unlock()
	return d.envs.runs[keyOf(o)]
}

// forgetEnv drops what noteEnv kept for o's attempt.
func (d *dispatcher) forgetEnv(o db.Order) {
	d.envs.mu.Lock()
	delete(d.envs.runs, keyOf(o))
	d.envs.mu.Unlock()
}
