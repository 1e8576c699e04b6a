package db

import (
	"context"
	"database/sql"
	"fmt"
)

// AbandonOrder is ReleaseOrder for an attempt whose run may still be going
// on a host that stopped answering: the attempt is also marked abandoned,
// so that its run dir is looked at when the host answers again.
func (db *DB) AbandonOrder(ctx context.Context, orderID int64, attempt int, reason string) error {
	if err := db.ReleaseOrder(ctx, orderID, attempt, reason); err != nil {
		return err
	}
	err := db.withTx(ctx, func(tx *dbTx) error {
		_, err := tx.ExecContext(ctx, `UPDATE attempts SET abandoned = 1 WHERE order_id = ? AND attempt = ?`, orderID, attempt)
		return err
	})
	if err != nil {
		return fmt.Errorf("abandon order %d attempt %d: %w", orderID, attempt, err)
	}
	return nil
}

// AbandonedAttempts lists the abandoned attempts of a host, with their jobs.
func (db *DB) AbandonedAttempts(ctx context.Context, host string) ([]Claim, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT order_id, attempt FROM attempts WHERE abandoned = 1 AND host = ? ORDER BY order_id, attempt`, host)
	if err != nil {
		return nil, fmt.Errorf("abandoned attempts: %w", err)
	}
	type key struct {
		order   int64
		attempt int
	}
	var keys []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.order, &k.attempt); err != nil {
			rows.Close()
			return nil, err
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []Claim
	for _, k := range keys {
		var project string
		o, err := scanOrder(db.sql.QueryRowContext(ctx, orderSelect+` WHERE o.id = ?`, k.order), &project)
		if err != nil {
			return nil, fmt.Errorf("abandoned attempts: %w", err)
		}
		j, err := findJob(ctx, db.sql, o.JobID)
		if err != nil {
			return nil, fmt.Errorf("abandoned attempts: %w", err)
		}
		// The claim describes the abandoned attempt, not the order's current one.
		var runDir sql.NullString
		var pid sql.NullInt64
		var ts timeScanner
		if err := db.sql.QueryRowContext(ctx, `SELECT run_dir, pid, started_at FROM attempts WHERE order_id = ? AND attempt = ?`,
			k.order, k.attempt).Scan(&runDir, &pid, ts.col(&o.StartedAt)); err != nil {
			return nil, err
		}
		if err := ts.parse(); err != nil {
			return nil, err
		}
		o.Project, o.Attempt, o.RunDir, o.PID, o.Host = project, k.attempt, runDir.String, int(pid.Int64), host
		out = append(out, Claim{Order: o, Job: j})
	}
	return out, nil
}

// ClearAbandoned forgets an abandoned attempt whose run left nothing to
// keep (never started, lost, or killed).
func (db *DB) ClearAbandoned(ctx context.Context, orderID int64, attempt int, note string) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		_, err := tx.ExecContext(ctx, `UPDATE attempts SET abandoned = 0, error = COALESCE(error, '') || ? WHERE order_id = ? AND attempt = ? AND abandoned = 1`,
			"; "+note, orderID, attempt)
		return err
	})
	if err != nil {
		return fmt.Errorf("clear abandoned order %d attempt %d: %w", orderID, attempt, err)
	}
	return nil
}

// RecordLateOutcome stores the outcome of an abandoned attempt whose run
// turned out to have finished. Every outcome is kept; which one counts for
// the order follows one rule, so that a result once final only ever
// changes from a failure to a success:
//
//   - the order has no result yet (a later attempt is queued or in flight):
//     the late outcome counts and the order takes it; a later attempt still
//     going is marked cancelled (its dispatcher kills it), and its outcome,
//     should it still record one, is marked superseded;
//   - the order failed and the late run succeeded: the late outcome counts,
//     the order becomes succeeded, and the later outcomes are marked
//     superseded, naming the late attempt;
//   - otherwise (the order succeeded, or both failed) the result stands and
//     the late outcome is marked superseded, naming the attempt that counts;
//   - a cancelled order stays cancelled.
//
// It returns what it did, for the user, and false when the attempt was no
// longer abandoned (another dispatcher got there first).
func (db *DB) RecordLateOutcome(ctx context.Context, o Outcome) (string, bool, error) {
	var note string
	var done bool
	err := db.withTx(ctx, func(tx *dbTx) error {
		var abandoned int
		if err := tx.QueryRowContext(ctx, `SELECT abandoned FROM attempts WHERE order_id = ? AND attempt = ?`,
			o.OrderID, o.Attempt).Scan(&abandoned); err != nil {
			return err
		}
		if abandoned == 0 {
			return nil
		}
		var jobID int64
		var current int
		var state OrderState
		if err := tx.QueryRowContext(ctx, `SELECT job_id, attempt, state FROM orders WHERE id = ?`, o.OrderID).
			Scan(&jobID, &current, &state); err != nil {
			return err
		}
		o.JobID = jobID
		now := formatTime(tx.now)
		final := StateFailed
		if o.Succeeded {
			final = StateSucceeded
		}
		counts := state != StateCancelled && state != StateSucceeded && (state != StateFailed || o.Succeeded)
		var err error
		switch {
		case state == StateCancelled:
			note = fmt.Sprintf("attempt %d finished after all (it was given up when its host stopped answering): kept its outcome; the order stays cancelled", o.Attempt)
		case counts:
			note, err = lateCounts(ctx, tx, o, current, state, now)
		default:
			o.Superseded = fmt.Sprintf("found finished after its host had stopped answering, when attempt %d had already %s: that attempt's outcome counts", current, state)
			note = fmt.Sprintf("attempt %d finished after all (it was given up when its host stopped answering): kept its outcome, marked superseded; attempt %d's outcome (%s) counts", o.Attempt, current, state)
		}
		if err != nil {
			return err
		}
		if _, err := insertOutcome(ctx, tx, o); err != nil {
			return err
		}
		if o.Env != "" {
			if err := linkEnvironment(ctx, tx, o.OrderID, o.Attempt, o.Env); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE attempts SET state = ?, exit_code = ?, error = ?, finished_at = ?, abandoned = 0
			WHERE order_id = ? AND attempt = ?`,
			final, intPtr(o.ExitCode), nullString(o.Error), now, o.OrderID, o.Attempt); err != nil {
			return err
		}
		if counts {
			if _, err := tx.ExecContext(ctx, `
				UPDATE orders SET state = ?, finished_at = ?, last_error = ? WHERE id = ?`,
				final, now, nullString(o.Error), o.OrderID); err != nil {
				return err
			}
		}
		done = true
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("record late outcome of order %d attempt %d: %w", o.OrderID, o.Attempt, err)
	}
	return note, done, nil
}

// lateCounts makes way for a late outcome that counts: later attempts still
// going are cancelled, later outcomes already recorded are marked
// superseded. It returns the note for the user.
func lateCounts(ctx context.Context, tx *dbTx, o Outcome, current int, state OrderState, now any) (string, error) {
	why := fmt.Sprintf("superseded: attempt %d finished first", o.Attempt)
	if state == StateFailed {
		why = fmt.Sprintf("superseded: attempt %d succeeded after all (found finished when its host answered again); its outcome counts", o.Attempt)
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE attempts SET state = 'cancelled', error = ?, finished_at = COALESCE(finished_at, ?)
		WHERE order_id = ? AND attempt > ? AND state IN ('assigned', 'running')`,
		why, now, o.OrderID, o.Attempt); err != nil {
		return "", err
	}
	res, err := tx.ExecContext(ctx, `UPDATE outcomes SET superseded = ? WHERE order_id = ? AND attempt > ? AND superseded IS NULL`,
		why, o.OrderID, o.Attempt)
	if err != nil {
		return "", err
	}
	marked, _ := res.RowsAffected()
	note := fmt.Sprintf("attempt %d finished after all (it was given up when its host stopped answering): its outcome counts", o.Attempt)
	if current > o.Attempt && state != StateFailed {
		note += fmt.Sprintf("; attempt %d is superseded", current)
	}
	if marked > 0 {
		note += fmt.Sprintf("; %d later outcome(s) kept, marked superseded", marked)
	}
	return note, nil
}
