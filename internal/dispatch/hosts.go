package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/slurm"
)

// OpenHost connects to a host by name as the last dispatcher recorded it,
// for commands that run without a hosts file (cancel, logs). The entry's
// env values are not recorded (see saveHost): it sets none of them.
func OpenHost(ctx context.Context, store *db.DB, name string) (Engine, error) {
	return OpenHostWith(ctx, store, name, nil)
}

// OpenHostWith is OpenHost with the env values of the entry of that name
// in entries (a hosts file), where there is one: a Slurm entry's
// SLURM_CONF, say, which scancel needs.
func OpenHostWith(ctx context.Context, store *db.DB, name string, entries []hosts.Host) (Engine, error) {
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
	c, err := Connect(ctx, h)
	if err != nil {
		return nil, err
	}
	if h.Kind == hosts.KindSlurm {
		return slurm.New(c, slurmConfig(h)), nil
	}
	return c, nil
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
	if seen && hs.cfg.Kind != hosts.KindSlurm {
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
