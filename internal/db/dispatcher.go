package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Dispatcher is one `mljob dispatch` process as the database knows it.
type Dispatcher struct {
	ID          string
	Hostname    string
	PID         int
	StartedAt   time.Time
	HeartbeatAt time.Time
	StoppedAt   time.Time // zero while it runs
}

// RegisterDispatcher records a starting dispatcher.
func (db *DB) RegisterDispatcher(ctx context.Context, id, hostname string, pid int) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		now := formatTime(tx.now)
		_, err := tx.ExecContext(ctx, `
			INSERT INTO dispatchers (id, hostname, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopped_at = NULL`,
			id, hostname, pid, now, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("register dispatcher %s: %w", id, err)
	}
	return nil
}

// Heartbeat tells other dispatchers that id is alive.
func (db *DB) Heartbeat(ctx context.Context, id string) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		_, err := tx.ExecContext(ctx, `UPDATE dispatchers SET heartbeat_at = ? WHERE id = ?`, formatTime(tx.now), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("heartbeat %s: %w", id, err)
	}
	return nil
}

// StopDispatcher marks id as stopped: its orders may be adopted at once.
func (db *DB) StopDispatcher(ctx context.Context, id string) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		_, err := tx.ExecContext(ctx, `UPDATE dispatchers SET stopped_at = ? WHERE id = ? AND stopped_at IS NULL`,
			formatTime(tx.now), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("stop dispatcher %s: %w", id, err)
	}
	return nil
}

// Dispatchers lists the dispatchers not marked stopped.
func (db *DB) Dispatchers(ctx context.Context) ([]Dispatcher, error) {
	rows, err := db.sql.QueryContext(ctx, `
		SELECT id, hostname, pid, started_at, heartbeat_at, stopped_at FROM dispatchers
		WHERE stopped_at IS NULL ORDER BY started_at`)
	if err != nil {
		return nil, fmt.Errorf("dispatchers: %w", err)
	}
	defer rows.Close()
	var out []Dispatcher
	for rows.Next() {
		var d Dispatcher
		var ts timeScanner
		if err := rows.Scan(&d.ID, &d.Hostname, &d.PID, ts.col(&d.StartedAt), ts.col(&d.HeartbeatAt), ts.col(&d.StoppedAt)); err != nil {
			return nil, fmt.Errorf("dispatchers: %w", err)
		}
		if err := ts.parse(); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// AdoptOrders hands to dispatcher me the orders on host whose
// attempt is assigned or running but whose dispatcher is gone: unknown,
// stopped, or silent since staleBefore. Cancelled and pruned orders whose
// attempt still runs come too, so that their runs get killed. One transaction: two
// dispatchers never adopt the same order.
func (db *DB) AdoptOrders(ctx context.Context, me, host string, staleBefore time.Time) ([]Claim, error) {
	var out []Claim
	err := db.withTx(ctx, func(tx *dbTx) error {
		rows, err := tx.QueryContext(ctx, `
			SELECT o.id FROM orders o JOIN attempts a ON a.order_id = o.id AND a.attempt = o.attempt
			WHERE o.host = ? AND `+liveAttempt+`
			AND o.state IN ('assigned', 'running', 'cancelled', 'pruned')
			AND (o.dispatcher IS NULL OR (o.dispatcher <> ? AND o.dispatcher NOT IN (
				SELECT id FROM dispatchers WHERE stopped_at IS NULL AND heartbeat_at >= ?)))
			ORDER BY o.id`, host, me, formatTime(staleBefore))
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE orders SET dispatcher = ? WHERE id = ?`, me, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `
				UPDATE attempts SET dispatcher = ? WHERE order_id = ? AND attempt = (SELECT attempt FROM orders WHERE id = ?)`,
				me, id, id); err != nil {
				return err
			}
			o, err := scanOrder(tx.QueryRowContext(ctx, orderSelect+` WHERE o.id = ?`, id), new(string))
			if err != nil {
				return err
			}
			j, err := findJob(ctx, tx, o.JobID)
			if err != nil {
				return err
			}
			o.Project = j.Project
			out = append(out, Claim{Order: o, Job: j})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("adopt orders: %w", err)
	}
	return out, nil
}

// OrderStatus is where an order and its current attempt stand.
type OrderStatus struct {
	ID           int64
	State        OrderState
	Attempt      int
	AttemptState OrderState // "" before the first claim
}

// OrderStates returns the status of each order in ids (missing ids are
// left out), so a dispatcher can notice cancelled or superseded runs. One
// query per 500 ids: a dispatcher asks for all its runs on every tick.
func (db *DB) OrderStates(ctx context.Context, ids []int64) (map[int64]OrderStatus, error) {
	out := make(map[int64]OrderStatus, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := db.sql.QueryContext(ctx, `
			SELECT o.id, o.state, o.attempt, a.state FROM orders o
			LEFT JOIN attempts a ON a.order_id = o.id AND a.attempt = o.attempt
			WHERE o.id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("order states: %w", err)
		}
		for rows.Next() {
			var st OrderStatus
			var as sql.NullString
			if err := rows.Scan(&st.ID, &st.State, &st.Attempt, &as); err != nil {
				rows.Close()
				return nil, fmt.Errorf("order states: %w", err)
			}
			st.AttemptState = OrderState(as.String)
			out[st.ID] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("order states: %w", err)
		}
	}
	return out, nil
}
