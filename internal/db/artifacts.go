package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// FetchState is how far bringing an attempt's artifacts home got.
type FetchState string

// The states of an attempt's artifacts (artifact_fetches.state).
const (
	FetchPending FetchState = "pending"  // owed: not listed yet
	FetchListed  FetchState = "listed"   // listed; some files not home yet
	FetchDone    FetchState = "done"     // every listed file is home, whole
	FetchOverCap FetchState = "over_cap" // over the cap: none copied
	FetchFailed  FetchState = "failed"   // never can be (the run dir is gone)
)

// Fetch is what is owed home of one attempt's artifacts.
type Fetch struct {
	OrderID, JobID int64
	Attempt        int
	Host           string
	State          FetchState
	Globs          []string // the job's artifact globs
	JobCap         int64    // the job's cap; 0: the dispatch's
	Total, Cap     int64    // the listing's total and the cap it was held to
	Error          string
	UpdatedAt      time.Time
}

// ArtifactFile is one file of an attempt's listing.
type ArtifactFile struct {
	Path      string
	Size      int64
	SHA256    string
	Done      bool // home, whole
	FetchedAt time.Time
}

// owePendingFetch records, in an outcome's transaction, that the
// attempt's artifacts are owed home: only for an attempt that had a run
// dir on a host. noDir (the host said the run dir has no artifacts/ dir)
// with a job that names no globs records it done with nothing listed, so
// that such a run costs no session to list.
func owePendingFetch(ctx context.Context, tx *dbTx, orderID int64, attempt int, noDir bool) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO artifact_fetches (order_id, attempt, host, state, total, updated_at)
		SELECT a.order_id, a.attempt, a.host, v.state, v.total, ?
		FROM attempts a JOIN orders o ON o.id = a.order_id JOIN jobs j ON j.id = o.job_id,
			(SELECT 'done' AS state, 0 AS total UNION ALL SELECT 'pending', NULL) v
		WHERE a.order_id = ? AND a.attempt = ? AND a.run_dir IS NOT NULL AND a.host IS NOT NULL
		AND (v.state = 'done') = (? AND (j.artifacts IS NULL OR j.artifacts = '[]'))
		ON CONFLICT (order_id, attempt) DO NOTHING`,
		formatTime(tx.now), orderID, attempt, noDir)
	if err != nil {
		return fmt.Errorf("owe artifacts: %w", err)
	}
	return nil
}

const fetchColumns = `f.order_id, o.job_id, f.attempt, f.host, f.state, j.artifacts, COALESCE(j.artifacts_cap, 0),
	COALESCE(f.total, 0), COALESCE(f.cap, 0), COALESCE(f.error, ''), f.updated_at`

const fetchFrom = ` FROM artifact_fetches f JOIN orders o ON o.id = f.order_id JOIN jobs j ON j.id = o.job_id`

func scanFetch(s scanner) (Fetch, error) {
	var f Fetch
	var globs sql.NullString
	var ts timeScanner
	if err := s.Scan(&f.OrderID, &f.JobID, &f.Attempt, &f.Host, &f.State, &globs, &f.JobCap, &f.Total, &f.Cap, &f.Error, ts.col(&f.UpdatedAt)); err != nil {
		return Fetch{}, err
	}
	if globs.Valid {
		if err := json.Unmarshal([]byte(globs.String), &f.Globs); err != nil {
			return Fetch{}, fmt.Errorf("job %d: its artifacts %q: %w", f.JobID, globs.String, err)
		}
	}
	return f, ts.parse()
}

// PendingFetches returns the attempts on host whose artifacts are owed
// home (pending or listed), oldest first.
func (db *DB) PendingFetches(ctx context.Context, host string) ([]Fetch, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+fetchColumns+fetchFrom+`
		WHERE f.host = ? AND f.state IN ('pending','listed') ORDER BY f.order_id, f.attempt`, host)
	if err != nil {
		return nil, fmt.Errorf("pending artifacts on %s: %w", host, err)
	}
	defer rows.Close()
	var out []Fetch
	for rows.Next() {
		f, err := scanFetch(rows)
		if err != nil {
			return nil, fmt.Errorf("pending artifacts on %s: %w", host, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending artifacts on %s: %w", host, err)
	}
	return out, nil
}

// GetFetch returns one attempt's fetch and its files (by path), or
// ErrOrderNotFound when it owes none.
func (db *DB) GetFetch(ctx context.Context, orderID int64, attempt int) (Fetch, []ArtifactFile, error) {
	f, err := scanFetch(db.sql.QueryRowContext(ctx, `SELECT `+fetchColumns+fetchFrom+`
		WHERE f.order_id = ? AND f.attempt = ?`, orderID, attempt))
	if err == sql.ErrNoRows {
		return Fetch{}, nil, ErrOrderNotFound
	}
	if err != nil {
		return Fetch{}, nil, fmt.Errorf("artifacts of order %d attempt %d: %w", orderID, attempt, err)
	}
	files, err := db.artifactFiles(ctx, orderID, attempt)
	return f, files, err
}

// JobFetch returns the artifacts of a job's latest attempt that owes any
// (its order's current attempt, as a rule); ErrJobNotFound when the job
// has none.
func (db *DB) JobFetch(ctx context.Context, jobID int64) (Fetch, []ArtifactFile, error) {
	f, err := scanFetch(db.sql.QueryRowContext(ctx, `SELECT `+fetchColumns+fetchFrom+`
		WHERE o.job_id = ? ORDER BY f.attempt DESC LIMIT 1`, jobID))
	if err == sql.ErrNoRows {
		return Fetch{}, nil, ErrJobNotFound
	}
	if err != nil {
		return Fetch{}, nil, fmt.Errorf("artifacts of job %d: %w", jobID, err)
	}
	files, err := db.artifactFiles(ctx, f.OrderID, f.Attempt)
	return f, files, err
}

// AttemptFetch is one attempt's fetch with its files (JobFetches).
type AttemptFetch struct {
	Fetch
	Files []ArtifactFile
}

// JobFetches returns the fetch of every attempt of a job that owes (or
// owed) artifacts, by order, then attempt, each with its files by path.
func (db *DB) JobFetches(ctx context.Context, jobID int64) ([]AttemptFetch, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+fetchColumns+fetchFrom+`
		WHERE o.job_id = ? ORDER BY f.order_id, f.attempt`, jobID)
	if err != nil {
		return nil, fmt.Errorf("artifacts of job %d: %w", jobID, err)
	}
	var out []AttemptFetch
	for rows.Next() {
		f, err := scanFetch(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("artifacts of job %d: %w", jobID, err)
		}
		out = append(out, AttemptFetch{Fetch: f})
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("artifacts of job %d: %w", jobID, err)
	}
	// The files are read once the fetches' rows are closed: a pool of
	// one connection (a read-only open) would otherwise wait on itself.
	for i := range out {
		if out[i].Files, err = db.artifactFiles(ctx, out[i].OrderID, out[i].Attempt); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (db *DB) artifactFiles(ctx context.Context, orderID int64, attempt int) ([]ArtifactFile, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT path, size, sha256, state = 'done', fetched_at FROM artifacts
		WHERE order_id = ? AND attempt = ? ORDER BY path`, orderID, attempt)
	if err != nil {
		return nil, fmt.Errorf("artifacts of order %d attempt %d: %w", orderID, attempt, err)
	}
	defer rows.Close()
	var out []ArtifactFile
	for rows.Next() {
		var a ArtifactFile
		var ts timeScanner
		if err := rows.Scan(&a.Path, &a.Size, &a.SHA256, &a.Done, ts.col(&a.FetchedAt)); err != nil {
			return nil, err
		}
		if err := ts.parse(); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SaveListing stores an attempt's listing (files with the host's SHA-256)
// and the cap it was held to, and moves it to listed; over (the total
// passed the cap) moves it to over_cap with msg instead, its files kept
// unhashed for the record. A listing already stored is kept.
func (db *DB) SaveListing(ctx context.Context, orderID int64, attempt int, files []ArtifactFile, total, limit int64, over bool, msg string) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		var state FetchState
		if err := tx.QueryRowContext(ctx, `SELECT state FROM artifact_fetches WHERE order_id = ? AND attempt = ?`,
			orderID, attempt).Scan(&state); err != nil {
			return err
		}
		if state != FetchPending {
			return nil
		}
		next, errText := FetchListed, any(nil)
		if over {
			next, errText = FetchOverCap, msg
		}
		for _, f := range files {
			if _, err := tx.ExecContext(ctx, `INSERT INTO artifacts (order_id, attempt, path, size, sha256, state)
				VALUES (?, ?, ?, ?, ?, 'pending')`, orderID, attempt, f.Path, f.Size, f.SHA256); err != nil {
				return err
			}
		}
		if !over && len(files) == 0 {
			next = FetchDone
		}
		_, err := tx.ExecContext(ctx, `UPDATE artifact_fetches SET state = ?, total = ?, cap = ?, error = ?, updated_at = ?
			WHERE order_id = ? AND attempt = ?`, next, total, limit, errText, formatTime(tx.now), orderID, attempt)
		return err
	})
	if err != nil {
		return fmt.Errorf("save the artifacts listing of order %d attempt %d: %w", orderID, attempt, err)
	}
	return nil
}

// ArtifactHome marks one listed file home, whole; the attempt is done once
// no file is left.
func (db *DB) ArtifactHome(ctx context.Context, orderID int64, attempt int, path string) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		now := formatTime(tx.now)
		if _, err := tx.ExecContext(ctx, `UPDATE artifacts SET state = 'done', fetched_at = ?
			WHERE order_id = ? AND attempt = ? AND path = ? AND state = 'pending'`, now, orderID, attempt, path); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE artifact_fetches SET state = 'done', error = NULL, updated_at = ?
			WHERE order_id = ? AND attempt = ? AND state = 'listed'
			AND NOT EXISTS (SELECT 1 FROM artifacts WHERE order_id = ? AND attempt = ? AND state = 'pending')`,
			now, orderID, attempt, orderID, attempt)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark artifact %s of order %d attempt %d home: %w", path, orderID, attempt, err)
	}
	return nil
}

// NoteFetch records why an attempt's artifacts are not home yet; with
// final, it moves it to failed (they never will be).
func (db *DB) NoteFetch(ctx context.Context, orderID int64, attempt int, msg string, final bool) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		q := `UPDATE artifact_fetches SET error = ?, updated_at = ? WHERE order_id = ? AND attempt = ?`
		if final {
			q = `UPDATE artifact_fetches SET state = 'failed', error = ?, updated_at = ? WHERE order_id = ? AND attempt = ?`
		}
		_, err := tx.ExecContext(ctx, q, msg, formatTime(tx.now), orderID, attempt)
		return err
	})
	if err != nil {
		return fmt.Errorf("note the artifacts of order %d attempt %d: %w", orderID, attempt, err)
	}
	return nil
}
