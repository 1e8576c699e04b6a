package db

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Selection names orders: by job ids, by order ids, or by project. The
// three combine as a union; an empty Selection names no order. All names
// every order.
type Selection struct {
	JobIDs   []int64
	OrderIDs []int64
	Project  string
	// All selects every order of every project (the others are then
	// ignored); the call's own condition (a state) narrows it.
	All bool
}

// empty reports whether s names no order at all.
func (s Selection) empty() bool {
	return !s.All && len(s.JobIDs) == 0 && len(s.OrderIDs) == 0 && s.Project == ""
}

// Missing returns the ids s names (job ids, or order ids) that none of
// orders matches, in s's order: what a command that acted on orders says it
// found nothing for.
func (s Selection) Missing(orders []Order) []int64 {
	var out []int64
	for _, id := range s.OrderIDs {
		if !slices.ContainsFunc(orders, func(o Order) bool { return o.ID == id }) {
			out = append(out, id)
		}
	}
	for _, id := range s.JobIDs {
		if !slices.ContainsFunc(orders, func(o Order) bool { return o.JobID == id }) {
			out = append(out, id)
		}
	}
	return out
}

// where returns the SQL condition (over orderSelect's aliases o and j) that
// matches the selected orders, and its arguments. The text is built from
// placeholders only; the ids and the project travel as bind parameters.
func (s Selection) where() (string, []any) {
	if s.All {
		return "(1)", nil
	}
	var terms []string
	var args []any
	if len(s.OrderIDs) > 0 {
		terms = append(terms, "o.id IN ("+placeholders(len(s.OrderIDs))+")")
		for _, id := range s.OrderIDs {
			args = append(args, id)
		}
	}
	if len(s.JobIDs) > 0 {
		terms = append(terms, "o.job_id IN ("+placeholders(len(s.JobIDs))+")")
		for _, id := range s.JobIDs {
			args = append(args, id)
		}
	}
	if s.Project != "" {
		terms = append(terms, "j.project = ?")
		args = append(args, s.Project)
	}
	return "(" + strings.Join(terms, " OR ") + ")", args
}

// placeholders returns n comma-separated "?".
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// selectOrders reads the selected orders that also satisfy cond (a fixed
// SQL condition over o and j), by order id, inside tx.
func selectOrders(ctx context.Context, tx *dbTx, sel Selection, cond string) ([]Order, error) {
	where, args := sel.where()
	rows, err := tx.QueryContext(ctx, orderSelect+` WHERE `+where+` AND `+cond+` ORDER BY o.id`, args...)
	if err != nil {
		return nil, err
	}
	return scanOrders(rows)
}

// KillPending is the error of a cancelled attempt whose run may still be
// going: cancelled, but nobody has confirmed yet that the run stopped.
const KillPending = "cancelled; kill pending: its run is stopped and recorded by the next dispatcher that reaches its host"

// KillConfirmed is the error of a cancelled attempt whose run mljob cancel
// killed, until a dispatcher reads what the run left and records it.
const KillConfirmed = "cancelled; killed by mljob cancel: the next dispatcher that reaches its host records its outcome"

// liveAttempt is the SQL condition (over attempts a) of an attempt whose run
// may still be going: assigned or running, or cancelled while it was (its
// finished_at still NULL until its outcome is recorded).
const liveAttempt = `(a.state IN ('assigned', 'running') OR (a.state = 'cancelled' AND a.finished_at IS NULL))`

// CancelOrders cancels the selected orders that are not final (unassigned,
// assigned or running) and returns them as they were before, so State is the
// previous state: callers kill the runs of those that were assigned or
// running. Orders already succeeded, failed or cancelled are left alone.
//
// An unassigned order becomes cancelled at once; it has no live attempt. An
// assigned or running order becomes cancelled with last_error "cancelled",
// and its attempt cancelled with error KillPending and no finished_at: the
// run may still be going, and whoever waits on it (or adopts it, see
// AdoptOrders) kills it and records its outcome when it ends, which
// finishes the attempt (still cancelled, see RecordOutcome). Dispatchers
// kill such runs; mljob cancel tries first (see MarkKilled).
//
// One transaction: a dispatcher's claim either sees the order cancelled or
// claimed it before, and then the order is returned as assigned.
func (db *DB) CancelOrders(ctx context.Context, sel Selection) ([]Order, error) {
	if sel.empty() {
		return nil, nil
	}
	var out []Order
	err := db.withTx(ctx, func(tx *dbTx) error {
		var err error
		out, err = selectOrders(ctx, tx, sel, `o.state IN ('unassigned', 'assigned', 'running')`)
		if err != nil {
			return err
		}
		now := formatTime(tx.now)
		for _, o := range out {
			// last_error of an unassigned order may say why its last
			// attempt was released; that stays worth reading.
			q := `UPDATE orders SET state = 'cancelled', finished_at = ? WHERE id = ? AND state = ?`
			if o.State != StateUnassigned {
				q = `UPDATE orders SET state = 'cancelled', finished_at = ?, last_error = 'cancelled' WHERE id = ? AND state = ?`
			}
			res, err := tx.ExecContext(ctx, q, now, o.ID, o.State)
			if err := requireOne(res, err); err != nil {
				return fmt.Errorf("order %d: %w", o.ID, err)
			}
			if o.State == StateUnassigned {
				continue
			}
			if _, err := tx.ExecContext(ctx, `
				UPDATE attempts SET state = 'cancelled', error = ?
				WHERE order_id = ? AND attempt = ? AND state IN ('assigned', 'running')`,
				KillPending, o.ID, o.Attempt); err != nil {
				return fmt.Errorf("order %d: %w", o.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cancel orders: %w", err)
	}
	return out, nil
}

// RetryOrders queues again the selected orders that ended in one of
// states (failed, cancelled, pruned; the others are refused) and returns
// them as they were before, in one transaction: by id, or, with sel.All,
// project by project.
// An order is queued again as unassigned with infra_failures 0 and its host,
// slot, run dir, pid, dispatcher, Slurm task and times cleared; its attempt counter and
// every attempt and outcome row are kept, so the next claim starts the next
// attempt and the history stays readable. last_error is kept until that
// claim.
//
// A cancelled order whose current attempt is still assigned or running is
// skipped: its run may still be going, and a second run of the same order
// must not start beside it. It can be retried once its outcome is recorded.
func (db *DB) RetryOrders(ctx context.Context, sel Selection, states ...OrderState) ([]Order, error) {
	if sel.empty() || len(states) == 0 {
		return nil, nil
	}
	var words []string
	for _, s := range states {
		if s != StateFailed && s != StateCancelled && s != StatePruned {
			return nil, fmt.Errorf("retry orders: an order %s cannot be retried", s)
		}
		// A fixed word, checked above: no input reaches the SQL text.
		words = append(words, "'"+string(s)+"'")
	}
	cond := `o.state IN (` + strings.Join(words, ", ") + `)`
	var out []Order
	err := db.withTx(ctx, func(tx *dbTx) error {
		var err error
		out, err = selectOrders(ctx, tx, sel, cond+` AND NOT EXISTS (
			SELECT 1 FROM attempts a WHERE a.order_id = o.id AND a.attempt = o.attempt
			AND `+liveAttempt+`)`)
		if err != nil {
			return err
		}
		if sel.All {
			// Project by project, each by id.
			sort.SliceStable(out, func(i, j int) bool { return out[i].Project < out[j].Project })
		}
		for _, o := range out {
			res, err := tx.ExecContext(ctx, `
				UPDATE orders SET state = 'unassigned', infra_failures = 0,
					host = NULL, slot = NULL, run_dir = NULL, pid = NULL, dispatcher = NULL,
					assigned_at = NULL, started_at = NULL, finished_at = NULL,
					sched_task = NULL, sched_state = NULL
				WHERE id = ? AND state = ?`, o.ID, o.State)
			if err := requireOne(res, err); err != nil {
				return fmt.Errorf("order %d: %w", o.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("retry orders: %w", err)
	}
	return out, nil
}

// MarkKilled notes on a cancelled attempt whose run is still to be recorded
// that mljob cancel has stopped it (KillConfirmed instead of KillPending).
func (db *DB) MarkKilled(ctx context.Context, orderID int64, attempt int) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		_, err := tx.ExecContext(ctx, `
			UPDATE attempts SET error = ? WHERE order_id = ? AND attempt = ? AND state = 'cancelled' AND finished_at IS NULL`,
			KillConfirmed, orderID, attempt)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark order %d attempt %d killed: %w", orderID, attempt, err)
	}
	return nil
}
