package dispatch

import (
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/slurm"
	"github.com/mljob/mljob/internal/sshworker"
)

// slurmEngine wraps the login node of a Slurm entry.
func (d *dispatcher) slurmEngine(hs *hostState, h *sshworker.Host) Engine {
	cfg := slurmConfig(hs.cfg)
	cfg.Poll = d.opts.Poll
	cfg.Warn = func(msg string) { d.warnf("%s", msg) }
	cfg.OnPoll = func(n slurm.PollNews) { d.slurmNews(hs, n) }
	return slurm.New(h, cfg)
}

// slurmConfig is the engine's view of a Slurm entry.
func slurmConfig(h hosts.Host) slurm.Config {
	cfg := slurm.Config{Name: h.Name, Sbatch: h.Sbatch, Slots: h.Slots}
	for _, e := range h.Env {
		cfg.Env = append(cfg.Env, e.Key+"="+e.Value)
	}
	return cfg
}

// slurmNews records the task states a poll saw changing, in one
// transaction, and tells the observer the entry's counts. It runs on the
// engine's poller, not on the scheduler: it touches no hostState.
func (d *dispatcher) slurmNews(hs *hostState, n slurm.PollNews) {
	var changes []db.SlurmStateChange
	for _, c := range n.Changed {
		order, attempt, ok := pyexec.ParseRunID(d.queue, c.RunID)
		if ok && c.State != "" {
			changes = append(changes, db.SlurmStateChange{OrderID: order, Attempt: attempt, State: c.State})
		}
	}
	if err := d.db.SetSlurmStates(d.saveCtx, changes); err != nil {
		d.warnf("%s: record Slurm states: %v", hs.cfg.Name, err)
	}
	d.observe(Event{Kind: HostQueue, Host: hs.cfg.Name, Pending: n.Pending, Running: n.Running})
}

// slurmTask reads a run's task name ("12345_7").
func slurmTask(task string) (db.SlurmTask, bool) {
	j, i, ok := strings.Cut(task, "_")
	if !ok {
		return db.SlurmTask{}, false
	}
	job, err1 := strconv.ParseInt(j, 10, 64)
	idx, err2 := strconv.Atoi(i)
	return db.SlurmTask{JobID: job, ArrayIndex: idx}, err1 == nil && err2 == nil
}

// schedVerdict is what Slurm's last word on a run means for its outcome:
// infra is true when the cluster, not the script, ended it (the attempt is
// retried); otherwise reason, when set, is the failure's text.
func schedVerdict(state string) (reason string, infra bool) {
	switch {
	case slurm.Infrastructure(state):
		return "Slurm ended the task: " + state, true
	case state == "TIMEOUT":
		return "timeout: Slurm's time limit (sbatch --time) ended the run", false
	case state == "CANCELLED":
		return "cancelled in Slurm (scancel outside mljob)", false
	case state == "OUT_OF_MEMORY":
		return "out of memory: Slurm killed the run (raise sbatch --mem)", false
	case state == "DEADLINE":
		return "Slurm ended the run at its deadline", false
	}
	return "", false
}
