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
	"github.com/mljob/mljob/internal/run"
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
		e.check, e.hash, e.parseErr = d.saveEnv(hs.cfg.Name, stdout.Bytes())
	}
	c.mu.Lock()
	if e.err != nil {
		delete(c.entries, key) // the next run asks again
	}
	close(e.done)
	c.mu.Unlock()
	return e
}

// saveEnv turns an environment report (what pyexec.EnvArgv's command
// printed, on a host or on a batch task's node) into the key of the stored
// environment: the one way a report becomes an environment. The key is ""
// when it could not be stored (logged: provenance never holds a run
// back); parseErr says the report is not one (not a Python 3).
func (d *dispatcher) saveEnv(host string, report []byte) (check pyexec.ModuleCheck, key string, parseErr error) {
	check, parseErr = pyexec.ParseModuleCheck(report)
	if parseErr != nil {
		return check, "", parseErr
	}
	key, err := d.db.SaveEnvironment(d.saveCtx, provenance.FromCheck(check).Marshal())
	if err != nil {
		d.logf("host %s: %v", host, err)
	}
	return check, key, nil
}

// noteEnv sees to it that the environment of an attempt's run on hs is
// recorded with its outcome. On a host that answers commands it reads it
// (cached) and keeps its key for the attempt. A batch engine's login node
// does not speak for its nodes: there the run reports it on its node, just
// before it starts (spec.EnvReport), and the report comes back with its
// result (see reportedEnv).
func (d *dispatcher) noteEnv(ctx context.Context, hs *hostState, o db.Order, spec *run.Spec, env, modules []string) {
	if hs.scheduler != "" {
		spec.EnvReport = pyexec.EnvArgv(hs.cfg.Python, env, sbatchGPUs(hs.cfg.Sbatch), modules)
		return
	}
	ex, ok := hs.h.(engine.Execer)
	if !ok {
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

// reportedEnv is the key of the environment a run reported with its
// result (run.Result.Env: a batch task's, made on its node), "" when none.
func (d *dispatcher) reportedEnv(hs *hostState, o db.Order, res run.Result) string {
	if len(res.Env) == 0 {
		return ""
	}
	_, key, err := d.saveEnv(hs.cfg.Name, res.Env)
	if err != nil {
		d.logf("order %d on %s: the run's environment report: %v", o.ID, hs.cfg.Name, err)
	}
	return key
}

// adoptEnv notes the environment of an attempt adopted on hs (noteEnv),
// with the modules its script imports, as runOne would have: the run's
// start was never recorded with its environment. A batch run's report
// comes back with its result instead. Best effort: the job's files may be
// gone from here, and the run is waited on all the same.
func (d *dispatcher) adoptEnv(ctx context.Context, hs *hostState, slot string, c *db.Claim) {
	if hs.scheduler != "" {
		return
	}
	if _, ok := hs.h.(engine.Execer); !ok {
		return
	}
	job, spec, env, err := d.runSpec(hs, slot, c)
	if err != nil {
		d.logf("order %d on %s: its environment is not recorded: %v", c.Order.ID, hs.cfg.Name, err)
		return
	}
	modules, err := d.scriptModules(job, spec)
	if err != nil {
		d.logf("order %d on %s: its environment is not recorded: %v", c.Order.ID, hs.cfg.Name, err)
		return
	}
	d.noteEnv(ctx, hs, c.Order, &spec, env, modules)
}

// sbatchGPUs reports whether a slurm entry's sbatch options ask for GPUs
// (--gres=gpu:N, --gpus, -G, --gpus-per-node, ...): its tasks' reports
// then name the GPUs Slurm gave them (the node's CUDA_VISIBLE_DEVICES).
func sbatchGPUs(opts []string) bool {
	for i, o := range opts {
		switch {
		case strings.HasPrefix(o, "--gpus"), strings.HasPrefix(o, "-G"):
			return true
		case strings.HasPrefix(o, "--gres=") && strings.Contains(o, "gpu"):
			return true
		case o == "--gres" && i+1 < len(opts) && strings.Contains(opts[i+1], "gpu"):
			return true
		}
	}
	return false
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
