package db

import (
	"context"
	"fmt"
)

// RunDir is one attempt's run dir on its host, as the queue recorded it
// when the run started.
type RunDir struct {
	OrderID int64
	JobID   int64
	Attempt int
	Host    string
	Dir     string
}

// CollectableRunDirs returns the run dirs that gc may remove, by host then
// order and attempt: those of attempts that ended with an outcome, whose
// artifacts are home (done), given up (failed) or were never owed (no
// fetch recorded), and that no gc removed yet. An attempt still queued or
// running, or whose artifacts are owed (pending, listed) or held back
// over the cap, is never among them: its run dir is what it needs.
func (db *DB) CollectableRunDirs(ctx context.Context) ([]RunDir, error) {
	rows, err := db.sql.QueryContext(ctx, `
		SELECT a.order_id, o.job_id, a.attempt, a.host, a.run_dir
		FROM attempts a JOIN orders o ON o.id = a.order_id
		LEFT JOIN artifact_fetches f ON f.order_id = a.order_id AND f.attempt = a.attempt
		WHERE a.run_dir IS NOT NULL AND a.run_dir != '' AND a.host IS NOT NULL
		AND a.state IN ('succeeded','failed','cancelled','pruned')
		AND EXISTS (SELECT 1 FROM outcomes x WHERE x.order_id = a.order_id AND x.attempt = a.attempt)
		AND (f.state IS NULL OR f.state IN ('done','failed'))
		AND NOT EXISTS (SELECT 1 FROM run_dir_removals r WHERE r.order_id = a.order_id AND r.attempt = a.attempt)
		ORDER BY a.host, a.order_id, a.attempt`)
	if err != nil {
		return nil, fmt.Errorf("run dirs to remove: %w", err)
	}
	defer rows.Close()
	var out []RunDir
	for rows.Next() {
		var r RunDir
		if err := rows.Scan(&r.OrderID, &r.JobID, &r.Attempt, &r.Host, &r.Dir); err != nil {
			return nil, fmt.Errorf("run dirs to remove: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run dirs to remove: %w", err)
	}
	return out, nil
}

// RunDirRemoved records that r's run dir is gone from its host (removed
// by gc, or already gone), so that no later gc visits it.
func (db *DB) RunDirRemoved(ctx context.Context, r RunDir) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO run_dir_removals (order_id, attempt, host, run_dir, removed_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id, attempt) DO NOTHING`,
			r.OrderID, r.Attempt, r.Host, r.Dir, formatTime(tx.now))
		return err
	})
	if err != nil {
		return fmt.Errorf("record the removal of %s on %s: %w", r.Dir, r.Host, err)
	}
	return nil
}
