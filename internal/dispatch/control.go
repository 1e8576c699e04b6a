package dispatch

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/pyexec"
)

// KillResult is what became of one run KillRuns was asked to stop.
type KillResult struct {
	// Killed: the run was stopped just now, and its attempt marked so
	// (db.MarkKilled).
	Killed bool
	// Why the run was not stopped: the next dispatcher that reaches the
	// host stops it.
	Why string
}

// KillRuns stops the runs of the current attempts of orders (cancelled
// already, by mljob cancel) on the engine h, all at once, each with
// KillGrace. Whoever waits on a killed run, or the next dispatcher that
// adopts it, reads what it left and records it. warn gets the errors that
// change no result (an attempt that could not be marked killed).
func KillRuns(ctx context.Context, store *db.DB, h engine.Engine, orders []db.Order, warn func(error)) []KillResult {
	out := make([]KillResult, len(orders))
	var wg sync.WaitGroup
	for i, o := range orders {
		wg.Go(func() {
			err := h.Kill(ctx, pyexec.RunID(store.QueueID(), o.ID, o.Attempt), KillGrace)
			switch {
			case err == nil:
				out[i].Killed = true
				if err := store.MarkKilled(ctx, o.ID, o.Attempt); err != nil {
					warn(err)
				}
			case errors.Is(err, engine.ErrNotStarted):
				// Claimed but not started yet: the dispatcher starting it
				// finds the order cancelled.
				out[i].Why = "its run has not started yet"
			default:
				out[i].Why = err.Error()
			}
		})
	}
	wg.Wait()
	return out
}

// Output copies the stream ("stdout" or "stderr") of an order's attempt
// from its run dir on the engine h to w; with follow, until the run ends.
// engine.ErrNotStarted: the attempt's run dir holds no started run.
func Output(ctx context.Context, store *db.DB, h engine.Engine, orderID int64, attempt int, stream string, follow bool, w io.Writer) error {
	return h.Output(ctx, pyexec.RunID(store.QueueID(), orderID, attempt), stream, follow, w)
}
