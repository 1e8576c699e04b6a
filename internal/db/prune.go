package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/mljob/mljob/internal/prune"
)

// A study is the runs an attempt is judged against by its pruner: the
// attempts of the jobs of the same project, sweep (or, outside sweeps, the
// project's loose jobs) and objective, as status groups them.
// studyOf is a common table expression naming the study of order ?.
const studyOf = `study AS (SELECT j.project, j.sweep_id, j.objective, j.goal
	FROM orders o JOIN jobs j ON j.id = o.job_id WHERE o.id = ?)`

// inStudy is the condition that job alias j is in the study.
const inStudy = `j.project = study.project AND j.sweep_id IS study.sweep_id
	AND j.objective = study.objective AND j.goal = study.goal`

// PruneState is what an attempt has recorded toward its pruner so far, for
// a dispatcher that starts judging it (again).
type PruneState struct {
	// NextRung is the first rung the attempt has not recorded.
	NextRung int
	// Series is the series it is judged on, when HasSeries: that of its
	// rungs, else that of its first stored point of the objective.
	Series    string
	HasSeries bool
	// Pruned is set once Prune has recorded its verdict.
	Pruned bool
}

// PruneState reads attempt's PruneState; name is its objective's name.
func (db *DB) PruneState(ctx context.Context, orderID int64, attempt int, name string) (PruneState, error) {
	var st PruneState
	var series sql.NullString
	var maxRung sql.NullInt64
	err := db.sql.QueryRowContext(ctx, `
		SELECT MAX(rung), (SELECT series FROM prune_rungs WHERE order_id = ?1 AND attempt = ?2 ORDER BY rung LIMIT 1),
			EXISTS (SELECT 1 FROM prunes WHERE order_id = ?1 AND attempt = ?2)
		FROM prune_rungs WHERE order_id = ?1 AND attempt = ?2`, orderID, attempt).Scan(&maxRung, &series, &st.Pruned)
	if err != nil {
		return PruneState{}, fmt.Errorf("prune state of order %d attempt %d: %w", orderID, attempt, err)
	}
	if maxRung.Valid {
		st.NextRung = int(maxRung.Int64) + 1
	}
	if !series.Valid {
		err = db.sql.QueryRowContext(ctx, `
			SELECT series FROM metrics WHERE order_id = ? AND attempt = ? AND name = ?
			ORDER BY at, idx LIMIT 1`, orderID, attempt, name).Scan(&series)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return PruneState{}, fmt.Errorf("prune state of order %d attempt %d: %w", orderID, attempt, err)
		}
	}
	st.Series, st.HasSeries = series.String, series.Valid
	return st, nil
}

// Pruning is a pruner's verdict on an attempt, as the dispatcher reached
// it, with what to store of it.
type Pruning struct {
	OrderID int64
	Attempt int
	// Series is the series judged.
	Series string
	prune.Decision
	// Reason is the order's last_error when it is pruned: the verdict in
	// words.
	Reason string
}

// JudgeRung asks judge for its verdict on one point of attempt p.OrderID,
// p.Attempt and stores what it says, in one write transaction: the rungs
// the point completed (Decision.Records, on p.Series at the decision's
// step), and, when it prunes, the verdict (see Prune). judge gets the
// values the other attempts of the study recorded at a rung, read inside
// the transaction, so two dispatchers judging runs of one study see each
// other's rungs in the order they were written. judge runs once, inside
// the transaction: it must not touch the database. p's Decision and
// Reason are ignored; the decision stored is returned, with whether the
// attempt was pruned by it (false also when the order had moved on, in
// which case nothing is stored).
func (db *DB) JudgeRung(ctx context.Context, p Pruning, reason func(prune.Decision) string,
	judge func(competing func(rung int) ([]float64, error)) (prune.Decision, error)) (prune.Decision, bool, error) {
	var d prune.Decision
	var pruned bool
	err := db.withTx(ctx, func(tx *dbTx) error {
		live, err := attemptLive(ctx, tx, p.OrderID, p.Attempt)
		if err != nil || !live {
			return err
		}
		competing := func(rung int) ([]float64, error) {
			return rungValues(ctx, tx, p.OrderID, p.Attempt, rung, p.Series)
		}
		if d, err = judge(competing); err != nil {
			return err
		}
		for _, r := range d.Records {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO prune_rungs (order_id, attempt, rung, series, step, value, at) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (order_id, attempt, rung) DO NOTHING`,
				p.OrderID, p.Attempt, r.Rung, p.Series, d.Step, r.Value, formatTime(tx.now)); err != nil {
				return fmt.Errorf("record rung %d: %w", r.Rung, err)
			}
		}
		if !d.Prune {
			return nil
		}
		p.Decision, p.Reason = d, reason(d)
		pruned, err = markPruned(ctx, tx, p)
		return err
	})
	if err != nil {
		return prune.Decision{}, false, fmt.Errorf("judge order %d attempt %d: %w", p.OrderID, p.Attempt, err)
	}
	return d, pruned, nil
}

// Prune records that attempt p.OrderID, p.Attempt is pruned, with the
// verdict p carries, when the order is still at that attempt and assigned
// or running: the order becomes pruned (finished now, last_error
// p.Reason) and the verdict is kept in prunes. Its attempt stays as it is
// until its run's outcome is recorded, which then ends it pruned
// (RecordOutcome); a dispatcher that adopts the order kills the run. It
// reports whether it pruned the attempt.
func (db *DB) Prune(ctx context.Context, p Pruning) (bool, error) {
	var pruned bool
	err := db.withTx(ctx, func(tx *dbTx) error {
		var err error
		pruned, err = markPruned(ctx, tx, p)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("prune order %d attempt %d: %w", p.OrderID, p.Attempt, err)
	}
	return pruned, nil
}

func markPruned(ctx context.Context, tx *dbTx, p Pruning) (bool, error) {
	now := formatTime(tx.now)
	res, err := tx.ExecContext(ctx, `
		UPDATE orders SET state = 'pruned', finished_at = ?, last_error = ?
		WHERE id = ? AND attempt = ? AND state IN ('assigned', 'running')`,
		now, nullString(p.Reason), p.OrderID, p.Attempt)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	var rung, rank, among any
	if p.Rung >= 0 {
		rung = p.Rung
	}
	if p.Rank > 0 {
		rank, among = p.Rank, p.Of
	} else if p.Of > 0 {
		among = p.Of
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO prunes (order_id, attempt, rule, series, rung, step, value, cutoff, rank, among, at)
		SELECT ?, ?, COALESCE(j.pruner, '{}'), ?, ?, ?, ?, ?, ?, ?, ?
		FROM orders o JOIN jobs j ON j.id = o.job_id WHERE o.id = ?`,
		p.OrderID, p.Attempt, p.Series, rung, p.Step, finiteOrNil(p.Value), finiteOrNil(p.Cutoff), rank, among, now, p.OrderID)
	if err != nil {
		return false, fmt.Errorf("record verdict: %w", err)
	}
	return true, nil
}

// attemptLive reports whether order orderID is still at attempt and
// assigned or running: the only attempts a pruner judges.
func attemptLive(ctx context.Context, tx *dbTx, orderID int64, attempt int) (bool, error) {
	var live bool
	err := tx.QueryRowContext(ctx, `
		SELECT EXISTS (SELECT 1 FROM orders WHERE id = ? AND attempt = ? AND state IN ('assigned', 'running'))`,
		orderID, attempt).Scan(&live)
	return live, err
}

// rungValues returns the values the attempts of the study of orderID,
// other than attempt itself, recorded at rung on series, in no particular
// order.
func rungValues(ctx context.Context, tx *dbTx, orderID int64, attempt, rung int, series string) ([]float64, error) {
	rows, err := tx.QueryContext(ctx, `WITH `+studyOf+`
		SELECT r.value FROM study, prune_rungs r
		JOIN orders o ON o.id = r.order_id JOIN jobs j ON j.id = o.job_id
		WHERE r.rung = ? AND r.series = ? AND `+inStudy+`
		AND NOT (r.order_id = ? AND r.attempt = ?)`, orderID, rung, series, orderID, attempt)
	if err != nil {
		return nil, fmt.Errorf("rung %d values: %w", rung, err)
	}
	defer rows.Close()
	var out []float64
	for rows.Next() {
		var v float64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// AttemptRef names one attempt of an order.
type AttemptRef struct {
	OrderID int64
	Attempt int
}

// StudyCurves returns the curve (series, name) of every attempt of the
// study of orderID that succeeded, except those known holds, as step →
// value (the first value stored at a step; an empty map for an attempt
// without that curve): what the median rule compares a run with. A
// succeeded attempt's curve no longer changes, so a caller keeps what it
// read and passes it back as known: each curve is read once. The curves
// are as stored (see internal/progress: past its first 10,000 points a
// curve is thinned).
func (db *DB) StudyCurves(ctx context.Context, orderID int64, series, name string, known map[AttemptRef]map[float64]float64) (map[AttemptRef]map[float64]float64, error) {
	rows, err := db.sql.QueryContext(ctx, `WITH `+studyOf+`
		SELECT a.order_id, a.attempt FROM study, attempts a
		JOIN orders o ON o.id = a.order_id JOIN jobs j ON j.id = o.job_id
		WHERE a.state = 'succeeded' AND `+inStudy, orderID)
	if err != nil {
		return nil, fmt.Errorf("study curves of order %d: %w", orderID, err)
	}
	var fresh []AttemptRef
	for rows.Next() {
		var r AttemptRef
		if err := rows.Scan(&r.OrderID, &r.Attempt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("study curves of order %d: %w", orderID, err)
		}
		if _, ok := known[r]; !ok {
			fresh = append(fresh, r)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("study curves of order %d: %w", orderID, err)
	}
	out := make(map[AttemptRef]map[float64]float64, len(fresh))
	for _, r := range fresh {
		pts, err := db.Metrics(ctx, MetricFilter{OrderID: r.OrderID, Attempt: r.Attempt, Name: name, Series: &series})
		if err != nil {
			return nil, err
		}
		curve := make(map[float64]float64, len(pts))
		for _, p := range pts {
			if _, ok := curve[p.Step]; !ok {
				curve[p.Step] = p.Value
			}
		}
		out[r] = curve
	}
	return out, nil
}

// PruneRecord is a stored verdict (see Prune), for show and outcomes.
type PruneRecord struct {
	OrderID int64
	Attempt int
	Rule    prune.Rule
	Series  string
	// Rung is -1 for a rule without rungs (median).
	Rung  int
	Step  float64
	Value float64 // NaN when the point judged was not a number
	// Cutoff is NaN when there was none.
	Cutoff float64
	// Rank among Of values compared (1 the best); 0 when not ranked.
	Rank, Of int
}

// Prunes returns the verdicts on the attempts of order orderID, by
// attempt.
func (db *DB) Prunes(ctx context.Context, orderID int64) ([]PruneRecord, error) {
	rows, err := db.sql.QueryContext(ctx, `
		SELECT order_id, attempt, rule, series, rung, step, value, cutoff, rank, among
		FROM prunes WHERE order_id = ? ORDER BY attempt`, orderID)
	if err != nil {
		return nil, fmt.Errorf("prunes of order %d: %w", orderID, err)
	}
	defer rows.Close()
	var out []PruneRecord
	for rows.Next() {
		var r PruneRecord
		var rule string
		var rung, rank, among sql.NullInt64
		var value, cutoff sql.NullFloat64
		if err := rows.Scan(&r.OrderID, &r.Attempt, &rule, &r.Series, &rung, &r.Step, &value, &cutoff, &rank, &among); err != nil {
			return nil, fmt.Errorf("prunes of order %d: %w", orderID, err)
		}
		if err := json.Unmarshal([]byte(rule), &r.Rule); err != nil {
			return nil, fmt.Errorf("prunes of order %d: its rule %q: %w", orderID, rule, err)
		}
		r.Rung, r.Rank, r.Of = -1, int(rank.Int64), int(among.Int64)
		if rung.Valid {
			r.Rung = int(rung.Int64)
		}
		r.Value, r.Cutoff = nanIfNull(value), nanIfNull(cutoff)
		out = append(out, r)
	}
	return out, rows.Err()
}

// finiteOrNil is v for a finite v, else NULL: SQLite stores no NaN.
func finiteOrNil(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

func nanIfNull(v sql.NullFloat64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}
