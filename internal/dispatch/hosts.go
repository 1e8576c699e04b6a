package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/hosts"
)

// OpenHost connects to a host by name as the last dispatcher recorded it,
// for commands that run without a hosts file (cancel, logs). The entry's
// env values are not recorded (see saveHost): it sets none of them.
func OpenHost(ctx context.Context, store *db.DB, name string) (engine.Engine, error) {
	return OpenHostWith(ctx, store, name, nil)
}

// OpenHostWith is OpenHost with the env values of the entry of that name
// in entries (a hosts file), where there is one: a Slurm entry's
// SLURM_CONF, say, which scancel needs.
func OpenHostWith(ctx context.Context, store *db.DB, name string, entries []hosts.Host) (engine.Engine, error) {
	rec, err := store.Host(ctx, name)
	if err != nil {
		return nil, err
	}
	var h hosts.Host
	if err := json.Unmarshal(rec.Config, &h); err != nil {
		return nil, fmt.Errorf("host %s: stored entry: %w", name, err)
	}
	// The values were not stored (see saveHost): set none rather than
	// empty ones.
	h.Env = slices.DeleteFunc(h.Env, func(e hosts.EnvVar) bool { return e.Value == "" })
	if i := slices.IndexFunc(entries, func(e hosts.Host) bool { return e.Name == name }); i >= 0 {
		h.Env = entries[i].Env
	}
	// No agent: cancel and logs each ask one thing.
	return engine.Open(ctx, h, engine.Options{ShellStart: true})
}

// saveHost records a host's entry and state for OpenHost and for status.
// The entry's env values are left out: they are often secrets (API keys),
// and the queue file is copied and shared. Only their keys are kept; runs
// take the values from the hosts file, and cancel and logs need none.
func (d *dispatcher) saveHost(hs *hostState, status string, seen bool) {
	config, err := json.Marshal(withoutEnvValues(hs.cfg))
	if err != nil {
		d.warnf("save host %s: %v", hs.cfg.Name, err)
		return
	}
	var load *float64
	// A Slurm entry's login node load says nothing of where its runs go.
	if seen && hs.scheduler == "" {
		l := hs.load
		load = &l
	}
	lastErr := ""
	if hs.lastErr != nil {
		lastErr = hs.lastErr.Error()
	}
	if err := d.db.SaveHost(d.saveCtx, hs.cfg.Name, config, status, load, lastErr, seen); err != nil {
		d.warnf("%v", err)
	}
}

// PartialSuffix follows LogFile's name for a copy that holds only the end
// of its stream.
const PartialSuffix = ".tail"

// withoutEnvValues is h with its env values blanked, keys kept.
func withoutEnvValues(h hosts.Host) hosts.Host {
	env := make([]hosts.EnvVar, len(h.Env))
	for i, e := range h.Env {
		env[i] = hosts.EnvVar{Key: e.Key}
	}
	h.Env = env
	return h
}

// LogFile is where a finished attempt's stream ("stdout" or "stderr") is
// kept on this machine: <logDir>/<order>-<attempt>/<stream>.
func LogFile(logDir string, orderID int64, attempt int, stream string) string {
	return filepath.Join(logDir, strconv.FormatInt(orderID, 10)+"-"+strconv.Itoa(attempt), stream)
}

// addRemovedHosts finds the hosts that have runs in flight but are no
// longer in the hosts file, says so, and adds each with a recorded entry as
// a host that takes no new work: its runs are adopted and collected there
// as anywhere else (once their dispatcher is gone).
func (d *dispatcher) addRemovedHosts(ctx context.Context) error {
	active, err := d.db.ActiveOrders(ctx)
	if err != nil {
		return err
	}
	listed := map[string]bool{}
	for _, hs := range d.hosts {
		listed[hs.cfg.Name] = true
	}
	var names []string
	orders := map[string][]string{}
	for _, o := range active {
		if o.Host == "" || listed[o.Host] {
			continue
		}
		if orders[o.Host] == nil {
			names = append(names, o.Host)
		}
		orders[o.Host] = append(orders[o.Host], strconv.FormatInt(o.ID, 10))
	}
	for _, name := range names {
		which := "order(s) " + strings.Join(orders[name], ", ")
		rec, err := d.db.Host(ctx, name)
		var h hosts.Host
		if err == nil {
			err = json.Unmarshal(rec.Config, &h)
		}
		switch {
		case errors.Is(err, db.ErrHostNotFound) || err == nil && h.Name != name:
			d.warnf("host %s is not in the hosts file, but %s are still running there and no entry is recorded for it: add it back to the hosts file to collect them, or mljob cancel them", name, which)
			continue
		case err != nil:
			return fmt.Errorf("host %s: recorded entry: %w", name, err)
		}
		d.warnf("host %s is not in the hosts file, but %s are still running there: collecting them through its recorded entry; add it back to the hosts file to run new work there", name, which)
		d.hosts = append(d.hosts, &hostState{cfg: h, removed: true, running: map[attemptKey]*runHandle{}, late: map[string]bool{}})
	}
	return nil
}
