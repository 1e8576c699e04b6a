package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/pyexec"
)

// OutputRequest names the output Output prints: a stream of an attempt of
// an order, the order named by its id or by its job's.
type OutputRequest struct {
	ID      int64 // a job id (its last order), or an order id with ByOrder
	ByOrder bool
	Attempt int    // 0: the order's current attempt
	Stream  string // "stdout" or "stderr"
	Follow  bool   // a running attempt's output until the run ends
	LogDir  string // where dispatchers keep finished attempts' output (LogFile)
	// OpenHost connects to a host by name; nil for OpenHost. Tests set it.
	OpenHost func(ctx context.Context, store *db.DB, name string) (engine.Engine, error)
}

// OutputProblem is why Output printed none of the output, or only its
// end.
type OutputProblem int

// The problems of an OutputError.
const (
	NoJob         OutputProblem = iota + 1 // the job id names no job
	NoOrder                                // the job has no order
	NoSuchOrder                            // the order id names no order
	Waiting                                // the order has no attempt yet
	NoAttempt                              // the order has no such attempt
	NotStarted                             // the attempt's run has not started
	NotKept                                // no copy here, and no run dir on a host
	Unreachable                            // a running attempt's host did not answer
	PartialOutput                          // only the end kept here was printed
)

// OutputError says what is wrong when Output prints no whole output, and
// leaves what to do about it to the caller, by Problem.
type OutputError struct {
	Problem OutputProblem
	Msg     string
	Host    string // the attempt's host, when it has one
}

func (e *OutputError) Error() string { return e.Msg }

// Output copies the stream of an attempt to w: from the copy a dispatcher
// kept on this machine (LogFile) when it holds the whole stream, else from
// the run dir on the attempt's host; with Follow, a running attempt's until
// the run ends. When the host cannot be read and only the end of the
// stream was kept here (PartialSuffix), it copies that end and returns a
// PartialOutput error. The problems a user can act on are *OutputError.
func Output(ctx context.Context, store *db.DB, req OutputRequest, w io.Writer) error {
	o, attempt, err := outputAttempt(ctx, store, req)
	if err != nil {
		return err
	}
	kept := LogFile(req.LogDir, o.ID, attempt, req.Stream)
	if done, err := copyKept(kept, w); err != nil || done {
		return err
	}
	atts, err := store.Attempts(ctx, o.ID)
	if err != nil {
		return err
	}
	var a db.Attempt
	for _, x := range atts {
		if x.Attempt == attempt {
			a = x
		}
	}
	notStarted := &OutputError{Problem: NotStarted, Host: a.Host,
		Msg: fmt.Sprintf("attempt %d of order %d has not started yet", attempt, o.ID)}
	partial := func(why error) error {
		return copyPartial(kept+PartialSuffix, w, attempt, o.ID, a.Host, why)
	}
	live := a.State == db.StateAssigned || a.State == db.StateRunning
	switch {
	case a.Host == "" && live:
		return notStarted
	case a.Host == "" || (!live && a.RunDir == ""):
		return partial(nil)
	}
	// A finished attempt whose whole output is not here (a dispatcher
	// keeps only its end, or none) may still have its run dir on the host.
	h, err := openHost(req)(ctx, store, a.Host)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !live {
			return partial(err)
		}
		return &OutputError{Problem: Unreachable, Host: a.Host,
			Msg: fmt.Sprintf("cannot reach host %s for the output of order %d: %v", a.Host, o.ID, err)}
	}
	defer h.Close()
	cw := &countWriter{w: w}
	err = h.Output(ctx, pyexec.RunID(store.QueueID(), o.ID, attempt), req.Stream, req.Follow && live, cw)
	switch {
	case errors.Is(err, engine.ErrNotStarted) && live:
		return notStarted
	case err != nil && ctx.Err() == nil && !live && cw.n == 0:
		return partial(err)
	}
	return err
}

// openHost is req.OpenHost, or OpenHost.
func openHost(req OutputRequest) func(ctx context.Context, store *db.DB, name string) (engine.Engine, error) {
	if req.OpenHost != nil {
		return req.OpenHost
	}
	return OpenHost
}

// outputAttempt resolves req to an order (with ByOrder the order itself,
// else the job's last) and the number of the attempt asked for.
func outputAttempt(ctx context.Context, store *db.DB, req OutputRequest) (db.OrderStatus, int, error) {
	orderID := req.ID
	if !req.ByOrder {
		if _, err := store.Job(ctx, req.ID); errors.Is(err, db.ErrJobNotFound) {
			return db.OrderStatus{}, 0, &OutputError{Problem: NoJob, Msg: fmt.Sprintf("job %d not found", req.ID)}
		} else if err != nil {
			return db.OrderStatus{}, 0, err
		}
		orders, err := store.OrdersForJob(ctx, req.ID)
		if err != nil {
			return db.OrderStatus{}, 0, err
		}
		if len(orders) == 0 {
			return db.OrderStatus{}, 0, &OutputError{Problem: NoOrder, Msg: fmt.Sprintf("job %d has no order", req.ID)}
		}
		orderID = orders[len(orders)-1].ID
	}
	states, err := store.OrderStates(ctx, []int64{orderID})
	if err != nil {
		return db.OrderStatus{}, 0, err
	}
	o, ok := states[orderID]
	if !ok {
		return o, 0, &OutputError{Problem: NoSuchOrder, Msg: fmt.Sprintf("order %d not found", orderID)}
	}
	attempt := req.Attempt
	if attempt == 0 {
		attempt = o.Attempt
	}
	if attempt == 0 {
		return o, 0, &OutputError{Problem: Waiting, Msg: fmt.Sprintf("order %d has not started yet: it is waiting in the queue", o.ID)}
	}
	if attempt > o.Attempt {
		return o, 0, &OutputError{Problem: NoAttempt, Msg: fmt.Sprintf("order %d has no attempt %d (it has %d)", o.ID, attempt, o.Attempt)}
	}
	return o, attempt, nil
}

// copyPartial copies the end of a stream kept at path, when there is one,
// and returns a PartialOutput error that says it printed only the end (and
// why, when the host could not be read); otherwise a NotKept error.
func copyPartial(path string, w io.Writer, attempt int, orderID int64, host string, why error) error {
	info, err := os.Stat(path)
	if err != nil {
		return &OutputError{Problem: NotKept, Host: host,
			Msg: fmt.Sprintf("no output was kept for attempt %d of order %d", attempt, orderID)}
	}
	if _, err := copyKept(path, w); err != nil {
		return err
	}
	msg := fmt.Sprintf("printed only the last %d bytes of the output, all that was kept on this machine", info.Size())
	if why != nil {
		msg += fmt.Sprintf("; the whole of it is on host %s, which could not be read: %v", host, why)
	}
	return &OutputError{Problem: PartialOutput, Msg: msg, Host: host}
}

// copyKept copies the local copy at path to w; done is false when there is
// no such file.
func copyKept(path string, w io.Writer) (done bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return true, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
