package dispatch_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/engine/fake"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/testutil"
)

// claim submits a job and, with host set, claims its order there; with
// eng set too, it starts the run on eng (it prints "hello" and runs until
// killed) and marks it running.
func claim(t *testing.T, d *db.DB, host string, eng *fake.Engine) db.Submitted {
	t.Helper()
	ctx := context.Background()
	s := submit(t, d, `{}`)[0]
	if host == "" {
		return s
	}
	c, err := d.ClaimOrder(ctx, host, "0", "test")
	if err != nil || c == nil || c.Order.ID != s.OrderID {
		t.Fatalf("claim on %s: %+v, %v; want order %d", host, c, err, s.OrderID)
	}
	if eng == nil {
		return s
	}
	id := pyexec.RunID(d.QueueID(), s.OrderID, 1)
	started := make(chan run.Started, 1)
	done := make(chan error, 1)
	go func() {
		_, err := eng.Run(ctx, run.Spec{ID: id, Argv: []string{"hello"}}, func(st run.Started) { started <- st })
		done <- err
	}()
	var st run.Started
	select {
	case st = <-started:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() {
		_ = eng.Kill(ctx, id, 0)
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	if err := d.MarkRunning(ctx, s.OrderID, 1, st.RunDir, st.PID); err != nil {
		t.Fatal(err)
	}
	return s
}

// hello is a run that prints hello and runs until killed.
func hello(ctx context.Context, _ run.Spec, stdout, _ io.Writer) int {
	io.WriteString(stdout, "hello\n")
	<-ctx.Done()
	return 0
}

// openFake connects host h1 to eng, which outlives the connection; any
// other host does not answer.
func openFake(eng *fake.Engine) func(context.Context, *db.DB, string) (engine.Engine, error) {
	return func(_ context.Context, _ *db.DB, name string) (engine.Engine, error) {
		if name != "h1" {
			return nil, errors.New("connection refused")
		}
		return unclosed{eng}, nil
	}
}

// unclosed is an engine whose Close leaves it open.
type unclosed struct{ engine.Engine }

func (unclosed) Close() error { return nil }

// TestCancel checks Cancel's action for each kind of order, on a fake
// engine, and the ids it matched nothing for.
func TestCancel(t *testing.T) {
	d := testutil.MustOpenDB(t)
	eng := fake.New("h1", hello)
	running := claim(t, d, "h1", eng)
	assigned := claim(t, d, "h1", nil)
	elsewhere := claim(t, d, "h2", nil)
	waiting := claim(t, d, "", nil)
	sel := db.Selection{JobIDs: []int64{running.JobID, assigned.JobID, elsewhere.JobID, waiting.JobID, 99}}
	res, err := dispatch.Cancel(context.Background(), d, sel, dispatch.CancelOptions{OpenHost: openFake(eng)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{
		running.OrderID:   dispatch.ActionKilled + ": ",
		assigned.OrderID:  dispatch.ActionKillPending + ": its run has not started yet",
		elsewhere.OrderID: dispatch.ActionKillPending + ": cannot reach the host now: connection refused",
		waiting.OrderID:   dispatch.ActionCancelled + ": ",
	}
	if len(res.Orders) != len(want) {
		t.Fatalf("Cancel returned %d orders, want %d: %+v", len(res.Orders), len(want), res.Orders)
	}
	for _, r := range res.Orders {
		if got := r.Action + ": " + r.Why; got != want[r.Order.ID] {
			t.Errorf("order %d: %q, want %q", r.Order.ID, got, want[r.Order.ID])
		}
	}
	if len(res.Missing) != 1 || res.Missing[0] != 99 || len(res.Warnings) != 0 {
		t.Errorf("Missing %v, Warnings %v; want [99] and none", res.Missing, res.Warnings)
	}
	states, err := d.OrderStates(context.Background(), []int64{running.OrderID, waiting.OrderID})
	if err != nil || states[running.OrderID].State != db.StateCancelled || states[waiting.OrderID].State != db.StateCancelled {
		t.Errorf("states after cancel: %+v, %v; want cancelled", states, err)
	}
}
