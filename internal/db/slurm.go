package db

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// SlurmTask names an attempt's run in Slurm: the array job, the task's
// index, and the task's state as last seen (PENDING, RUNNING, COMPLETED,
// TIMEOUT, ... as squeue/sacct print it; "" = not seen yet).
type SlurmTask struct {
	JobID      int64
	ArrayIndex int
	State      string
}

// SlurmStateChange is a Slurm task state seen for one attempt, as
// SetSlurmStates records it.
type SlurmStateChange struct {
	OrderID int64
	Attempt int
	State   string
}

// slurmScanner takes the sched_task and sched_state columns of a row, in
// that order.
type slurmScanner struct {
	task, state sql.NullString
}

// slurmTask returns the scanned task as Slurm's, or nil when the row was not
// handed to a scheduler, or to one whose task ids are not Slurm's.
func (s *slurmScanner) slurmTask() *SlurmTask {
	if !s.task.Valid {
		return nil
	}
	t, ok := parseSlurmTask(s.task.String)
	if !ok {
		return nil
	}
	t.State = s.state.String
	return &t
}

// parseSlurmTask reads a Slurm task id, "JOB_INDEX".
func parseSlurmTask(task string) (SlurmTask, bool) {
	j, i, ok := strings.Cut(task, "_")
	job, err1 := strconv.ParseInt(j, 10, 64)
	idx, err2 := strconv.Atoi(i)
	return SlurmTask{JobID: job, ArrayIndex: idx}, ok && err1 == nil && err2 == nil && job > 0 && idx >= 0
}

// MarkSlurm records that the order's attempt runs as task in Slurm: on the
// attempt's row, and on the order's row when the order is still at that
// attempt (the order's fields describe its current attempt, so a stale
// attempt leaves them alone). The engine calls it right after MarkRunning,
// once sbatch has accepted the task; an empty task.State is stored as "not
// seen yet". It returns ErrStaleAttempt for an attempt that was never
// claimed.
func (db *DB) MarkSlurm(ctx context.Context, orderID int64, attempt int, task SlurmTask) error {
	if task.JobID <= 0 || task.ArrayIndex < 0 {
		return fmt.Errorf("mark order %d attempt %d in slurm: job %d_%d is not a Slurm array task", orderID, attempt, task.JobID, task.ArrayIndex)
	}
	return db.markTask(ctx, orderID, attempt, strconv.FormatInt(task.JobID, 10)+"_"+strconv.Itoa(task.ArrayIndex), task.State)
}

// MarkTask records that the order's attempt runs as the batch scheduler's
// task named task, as its engine names it (run.Started.Task; Slurm's
// "JOB_INDEX"), not seen yet: on the attempt's row, and on the order's row
// when the order is still at that attempt (see MarkSlurm). The id is stored
// as it is: mljob does not read it.
func (db *DB) MarkTask(ctx context.Context, orderID int64, attempt int, task string) error {
	if task == "" {
		return fmt.Errorf("mark order %d attempt %d: no task id", orderID, attempt)
	}
	return db.markTask(ctx, orderID, attempt, task, "")
}

func (db *DB) markTask(ctx context.Context, orderID int64, attempt int, task, state string) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE attempts SET sched_task = ?, sched_state = ?
			WHERE order_id = ? AND attempt = ?`,
			task, nullString(state), orderID, attempt)
		if err := requireOne(res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE orders SET sched_task = ?, sched_state = ?
			WHERE id = ? AND attempt = ?`,
			task, nullString(state), orderID, attempt)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark order %d attempt %d as task %s: %w", orderID, attempt, task, err)
	}
	return nil
}

// SetSlurmStates records the Slurm states of a poll: each change sets the
// state of its attempt, and of its order when the order is still at that
// attempt. The whole slice is one transaction, so a poll of 200 tasks is
// one write and one fsync; an empty slice writes nothing. A change for an
// attempt that MarkSlurm never marked is a caller's bug: it fails the call
// and nothing is recorded.
func (db *DB) SetSlurmStates(ctx context.Context, changes []SlurmStateChange) error {
	if len(changes) == 0 {
		return nil
	}
	err := db.withTx(ctx, func(tx *dbTx) error {
		attempts, err := tx.PrepareContext(ctx, `
			UPDATE attempts SET sched_state = ?
			WHERE order_id = ? AND attempt = ? AND sched_task IS NOT NULL`)
		if err != nil {
			return err
		}
		defer attempts.Close()
		orders, err := tx.PrepareContext(ctx, `
			UPDATE orders SET sched_state = ?
			WHERE id = ? AND attempt = ? AND sched_task IS NOT NULL`)
		if err != nil {
			return err
		}
		defer orders.Close()
		for _, c := range changes {
			res, err := attempts.ExecContext(ctx, nullString(c.State), c.OrderID, c.Attempt)
			n, rerr := rowsAffected(res, err)
			if rerr != nil {
				return fmt.Errorf("order %d attempt %d: %w", c.OrderID, c.Attempt, rerr)
			}
			if n == 0 {
				return fmt.Errorf("order %d attempt %d: not handed to Slurm (no MarkSlurm)", c.OrderID, c.Attempt)
			}
			if _, err := orders.ExecContext(ctx, nullString(c.State), c.OrderID, c.Attempt); err != nil {
				return fmt.Errorf("order %d attempt %d: %w", c.OrderID, c.Attempt, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set slurm states: %w", err)
	}
	return nil
}

// rowsAffected returns how many rows an update changed.
func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
