package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// MetricCurve names one stored curve of an attempt: its series ("" is the
// unnamed one) and its metric.
type MetricCurve struct {
	Series, Name string
}

// MetricCurves lists the curves an attempt stored, by series and name,
// without reading their points: the metrics table's key starts with
// (order_id, attempt, series, name), so each next curve is one seek in it
// (a skip scan), however many points the curves hold. mljob report asks
// it of every run, to pick the curve its charts draw.
func (db *DB) MetricCurves(ctx context.Context, orderID int64, attempt int) ([]MetricCurve, error) {
	var out []MetricCurve
	for {
		q := `SELECT series, name FROM metrics WHERE order_id = ? AND attempt = ?`
		args := []any{orderID, attempt}
		if len(out) > 0 {
			last := out[len(out)-1]
			q += ` AND (series, name) > (?, ?)`
			args = append(args, last.Series, last.Name)
		}
		var c MetricCurve
		err := db.sql.QueryRowContext(ctx, q+` ORDER BY series, name LIMIT 1`, args...).Scan(&c.Series, &c.Name)
		if errors.Is(err, sql.ErrNoRows) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read curves of order %d attempt %d: %w", orderID, attempt, err)
		}
		out = append(out, c)
	}
}
