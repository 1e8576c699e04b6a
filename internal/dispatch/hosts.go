package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/slurm"
)

// OpenHost connects to a host by name as the last dispatcher recorded it,
// for commands that run without a hosts file (cancel, logs).
func OpenHost(ctx context.Context, store *db.DB, name string) (Engine, error) {
	rec, err := store.Host(ctx, name)
	if err != nil {
		return nil, err
	}
	var h hosts.Host
	if err := json.Unmarshal(rec.Config, &h); err != nil {
		return nil, fmt.Errorf("host %s: stored entry: %w", name, err)
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
func (d *dispatcher) saveHost(hs *hostState, status string, seen bool) {
	config, err := json.Marshal(hs.cfg)
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

// LogFile is where a finished attempt's stream ("stdout" or "stderr") is
// kept on this machine: <logDir>/<order>-<attempt>/<stream>.
func LogFile(logDir string, orderID int64, attempt int, stream string) string {
	return filepath.Join(logDir, strconv.FormatInt(orderID, 10)+"-"+strconv.Itoa(attempt), stream)
}
