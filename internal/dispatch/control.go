package dispatch

import (
	"context"
	"io"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/pyexec"
)

// Output copies the stream ("stdout" or "stderr") of an order's attempt
// from its run dir on the engine h to w; with follow, until the run ends.
// engine.ErrNotStarted: the attempt's run dir holds no started run.
func Output(ctx context.Context, store *db.DB, h engine.Engine, orderID int64, attempt int, stream string, follow bool, w io.Writer) error {
	return h.Output(ctx, pyexec.RunID(store.QueueID(), orderID, attempt), stream, follow, w)
}
