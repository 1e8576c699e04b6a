package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mljob/mljob/internal/db"
)

// DefaultSaveTimeout is how long a write the database refuses for a reason
// that may pass (db.Transient: locked, full) is retried.
const DefaultSaveTimeout = time.Minute

// saveBackoff bounds the pause between two tries of a refused write; each
// try also waits up to the database's busy timeout.
const (
	saveFirstPause = 200 * time.Millisecond
	saveMaxPause   = 5 * time.Second
)

// ErrUnsaved is returned when outcomes could not be written to the
// database: their runs are finished and kept on their hosts, their orders
// left as they were, so the next dispatch adopts and records them.
var ErrUnsaved = errors.New("outcomes not saved")

// Unsaved is an attempt whose outcome the database refused.
type Unsaved struct {
	Order   int64
	Attempt int
	Host    string
	Err     error
}

// save runs write until it commits, retrying with backoff while the
// database refuses it for a reason that may pass, for at most
// Options.SaveTimeout; it returns the last error. Every write it is given
// is one transaction, rolled back whole when refused, so a retry never
// writes twice.
func (d *dispatcher) save(what string, write func(ctx context.Context) error) error {
	start := time.Now()
	pause := saveFirstPause
	warned := false
	for {
		err := write(d.saveCtx)
		if err == nil || !db.Transient(err) || time.Since(start) >= d.opts.SaveTimeout {
			return err
		}
		if !warned {
			warned = true
			d.warnf("%s: %v; trying again for up to %s", what, oneLine(err.Error()), d.opts.SaveTimeout)
		}
		time.Sleep(pause) // saveCtx never ends: an interrupted dispatch still saves
		pause = min(2*pause, saveMaxPause)
	}
}

// unsaved reports an outcome the database refused: nothing is counted, and
// the run dir on the host keeps what the next dispatch needs to record it.
func (d *dispatcher) unsaved(hs *hostState, o db.Order, err error) string {
	d.warnf("order %d attempt %d on %s: outcome not saved: %v; the run is kept on the host, and the next mljob dispatch records it",
		o.ID, o.Attempt, hs.cfg.Name, oneLine(err.Error()))
	d.unsavedMu.Lock()
	d.sum.Unsaved = append(d.sum.Unsaved, Unsaved{Order: o.ID, Attempt: o.Attempt, Host: hs.cfg.Name, Err: err})
	d.unsavedMu.Unlock()
	return "unsaved"
}

// unsavedError is Run's error when outcomes were not saved.
func unsavedError(us []Unsaved) error {
	if len(us) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d outcome(s) the database refused (last: %v)", ErrUnsaved, len(us), us[len(us)-1].Err)
}
