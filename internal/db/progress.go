package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// MetricPoint is one stored point of a curve: the value of metric Name of
// series Series at Step, the Idx-th point of that curve (from 0).
type MetricPoint struct {
	Series string
	Name   string
	Idx    int64
	Step   float64
	Value  float64
	At     time.Time // when the dispatcher read the line
}

// MetricOp removes stored points of one curve: the point Idx, or, with
// Stride above 0, every point from From on that is off the grid
// From + k·Stride, but those in Keep (a thinning; see internal/progress).
type MetricOp struct {
	Series, Name string
	Idx          int64
	Stride, From int64
	Keep         []int64
}

// ProgressBatch is what one save of an attempt's progress writes: the
// offset its stdout has been read to, the lines taken and the skips since
// the last save, the removals in order, then the new points.
type ProgressBatch struct {
	OrderID int64
	Attempt int
	Offset  int64
	Lines   int64            // progress lines taken since the last save
	Skipped map[string]int64 // counts since the last save, by reason
	Ops     []MetricOp
	Points  []MetricPoint
}

// SaveProgress writes b in one transaction, so that the stdout offset
// moves only with the points read up to it. It returns ErrStaleAttempt
// for an attempt that was never claimed.
func (db *DB) SaveProgress(ctx context.Context, b ProgressBatch) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		return saveProgress(ctx, tx, b)
	})
	if err != nil {
		return fmt.Errorf("save progress of order %d attempt %d: %w", b.OrderID, b.Attempt, err)
	}
	return nil
}

func saveProgress(ctx context.Context, tx *dbTx, b ProgressBatch) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM attempts WHERE order_id = ? AND attempt = ?`, b.OrderID, b.Attempt).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return ErrStaleAttempt
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO progress (order_id, attempt, stdout_offset, lines, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (order_id, attempt) DO UPDATE SET stdout_offset = excluded.stdout_offset,
			lines = lines + excluded.lines, updated_at = excluded.updated_at`,
		b.OrderID, b.Attempt, b.Offset, b.Lines, formatTime(tx.now)); err != nil {
		return err
	}
	for reason, k := range b.Skipped {
		if _, err := tx.ExecContext(ctx, `INSERT INTO progress_skipped (order_id, attempt, reason, count) VALUES (?, ?, ?, ?)
			ON CONFLICT (order_id, attempt, reason) DO UPDATE SET count = count + excluded.count`,
			b.OrderID, b.Attempt, reason, k); err != nil {
			return err
		}
	}
	for _, op := range b.Ops {
		if op.Stride <= 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM metrics WHERE order_id = ? AND attempt = ? AND series = ? AND name = ? AND idx = ?`,
				b.OrderID, b.Attempt, op.Series, op.Name, op.Idx); err != nil {
				return err
			}
			continue
		}
		keep := make([]any, 0, len(op.Keep))
		for _, k := range op.Keep {
			keep = append(keep, k)
		}
		q := `DELETE FROM metrics WHERE order_id = ? AND attempt = ? AND series = ? AND name = ? AND idx >= ? AND (idx - ?) % ? != 0`
		if len(keep) > 0 {
			q += ` AND idx NOT IN (` + placeholders(len(keep)) + `)`
		}
		args := append([]any{b.OrderID, b.Attempt, op.Series, op.Name, op.From, op.From, op.Stride}, keep...)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	if len(b.Points) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO metrics (order_id, attempt, series, name, idx, step, value, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, p := range b.Points {
		at := p.At
		if at.IsZero() {
			at = tx.now
		}
		if _, err := stmt.ExecContext(ctx, b.OrderID, b.Attempt, p.Series, p.Name, p.Idx, p.Step, p.Value, formatTime(at)); err != nil {
			return err
		}
	}
	return nil
}

// CurveState is where a stored curve stands: what a dispatcher that goes
// on reading its run needs to thin it as before.
type CurveState struct {
	Series, Name string
	// N is the number of points the curve has had: its last point's Idx+1
	// (the last point is always kept).
	N        int64
	LastStep float64
	// Min and Max are its lowest and highest points, the first of equals.
	Min, Max MetricPoint
}

// ProgressState is where the progress of an attempt stands.
type ProgressState struct {
	Offset int64 // stdout bytes read
	Lines  int64 // progress lines taken
	Curves []CurveState
}

// Progress returns where the progress of attempt of order stands; the
// zero state when none was saved.
func (db *DB) Progress(ctx context.Context, orderID int64, attempt int) (ProgressState, error) {
	var st ProgressState
	err := db.sql.QueryRowContext(ctx, `SELECT stdout_offset, lines FROM progress WHERE order_id = ? AND attempt = ?`,
		orderID, attempt).Scan(&st.Offset, &st.Lines)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read progress of order %d attempt %d: %w", orderID, attempt, err)
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT m.series, m.name, m.idx, m.step FROM metrics m
		JOIN (SELECT series, name, MAX(idx) AS last FROM metrics WHERE order_id = ? AND attempt = ? GROUP BY series, name) c
		ON m.series = c.series AND m.name = c.name AND m.idx = c.last
		WHERE m.order_id = ? AND m.attempt = ? ORDER BY m.series, m.name`, orderID, attempt, orderID, attempt)
	if err != nil {
		return st, fmt.Errorf("read progress of order %d attempt %d: %w", orderID, attempt, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c CurveState
		if err := rows.Scan(&c.Series, &c.Name, &c.N, &c.LastStep); err != nil {
			return st, fmt.Errorf("read progress of order %d attempt %d: %w", orderID, attempt, err)
		}
		c.N++
		st.Curves = append(st.Curves, c)
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("read progress of order %d attempt %d: %w", orderID, attempt, err)
	}
	rows.Close()
	for i := range st.Curves {
		c := &st.Curves[i]
		for _, f := range []struct {
			dst   *MetricPoint
			order string
		}{{&c.Min, "value ASC, idx"}, {&c.Max, "value DESC, idx"}} {
			// order is one of two fixed strings, never input.
			err := db.sql.QueryRowContext(ctx, `SELECT idx, step, value FROM metrics
				WHERE order_id = ? AND attempt = ? AND series = ? AND name = ? ORDER BY `+f.order+` LIMIT 1`,
				orderID, attempt, c.Series, c.Name).Scan(&f.dst.Idx, &f.dst.Step, &f.dst.Value)
			if err != nil {
				return st, fmt.Errorf("read progress of order %d attempt %d: %w", orderID, attempt, err)
			}
			f.dst.Series, f.dst.Name = c.Series, c.Name
		}
	}
	return st, nil
}

// MetricFilter selects the points Metrics returns.
type MetricFilter struct {
	OrderID int64
	Attempt int
	Name    string  // "" = every metric
	Series  *string // nil = every series; "" is the unnamed one
}

// Metrics returns the stored points of an attempt, by series, step, name
// and point.
func (db *DB) Metrics(ctx context.Context, f MetricFilter) ([]MetricPoint, error) {
	q := `SELECT series, name, idx, step, value, at FROM metrics WHERE order_id = ? AND attempt = ?`
	args := []any{f.OrderID, f.Attempt}
	if f.Name != "" {
		q += ` AND name = ?`
		args = append(args, f.Name)
	}
	if f.Series != nil {
		q += ` AND series = ?`
		args = append(args, *f.Series)
	}
	q += ` ORDER BY series, step, name, idx`
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read metrics of order %d attempt %d: %w", f.OrderID, f.Attempt, err)
	}
	defer rows.Close()
	out := []MetricPoint{}
	for rows.Next() {
		var p MetricPoint
		var at sql.NullString
		if err := rows.Scan(&p.Series, &p.Name, &p.Idx, &p.Step, &p.Value, &at); err != nil {
			return nil, fmt.Errorf("read metrics of order %d attempt %d: %w", f.OrderID, f.Attempt, err)
		}
		if p.At, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read metrics of order %d attempt %d: %w", f.OrderID, f.Attempt, err)
	}
	return out, nil
}

// ProgressSummary is what an attempt's progress came to: lines taken,
// points stored, and what was not taken, by reason.
type ProgressSummary struct {
	OrderID int64
	Attempt int
	Offset  int64
	Lines   int64
	Points  int64
	Skipped map[string]int64
}

// ProgressSummaries returns the summary of every attempt of the orders
// that printed progress lines (taken or not), by order and attempt.
func (db *DB) ProgressSummaries(ctx context.Context, orderIDs []int64) ([]ProgressSummary, error) {
	if len(orderIDs) == 0 {
		return nil, nil
	}
	ids := make([]any, len(orderIDs))
	for i, id := range orderIDs {
		ids[i] = id
	}
	in := placeholders(len(ids))
	rows, err := db.sql.QueryContext(ctx, `SELECT p.order_id, p.attempt, p.stdout_offset, p.lines,
		(SELECT COUNT(*) FROM metrics m WHERE m.order_id = p.order_id AND m.attempt = p.attempt)
		FROM progress p WHERE p.order_id IN (`+in+`) ORDER BY p.order_id, p.attempt`, ids...)
	if err != nil {
		return nil, fmt.Errorf("read progress: %w", err)
	}
	defer rows.Close()
	var out []ProgressSummary
	at := map[[2]int64]int{}
	for rows.Next() {
		s := ProgressSummary{Skipped: map[string]int64{}}
		if err := rows.Scan(&s.OrderID, &s.Attempt, &s.Offset, &s.Lines, &s.Points); err != nil {
			return nil, fmt.Errorf("read progress: %w", err)
		}
		at[[2]int64{s.OrderID, int64(s.Attempt)}] = len(out)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read progress: %w", err)
	}
	rows.Close()
	skips, err := db.sql.QueryContext(ctx, `SELECT order_id, attempt, reason, count FROM progress_skipped
		WHERE order_id IN (`+in+`)`, ids...)
	if err != nil {
		return nil, fmt.Errorf("read progress: %w", err)
	}
	defer skips.Close()
	for skips.Next() {
		var o, a, n int64
		var reason string
		if err := skips.Scan(&o, &a, &reason, &n); err != nil {
			return nil, fmt.Errorf("read progress: %w", err)
		}
		if i, ok := at[[2]int64{o, a}]; ok {
			out[i].Skipped[reason] = n
		}
	}
	if err := skips.Err(); err != nil {
		return nil, fmt.Errorf("read progress: %w", err)
	}
	// An attempt whose stdout was read and held no progress line has a
	// row (its offset) and nothing to say.
	kept := out[:0]
	for _, s := range out {
		if s.Lines > 0 || len(s.Skipped) > 0 {
			kept = append(kept, s)
		}
	}
	return kept, nil
}
