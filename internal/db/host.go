package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrHostNotFound is returned for a host no dispatcher has recorded.
var ErrHostNotFound = errors.New("host not known")

// HostRecord is what the last dispatcher knew of a host.
type HostRecord struct {
	Name      string
	Config    []byte // the resolved hosts-file entry, JSON
	Status    string // "up", "down", "refused", "unknown"
	Load      *float64
	LastError string
	SeenAt    time.Time // last time it answered
	Since     time.Time // when Status last changed; zero if not known (saved before schema v6)
	UpdatedAt time.Time
}

// SaveHost records a host's entry and state. seen says it just answered.
// The record's Since moves to now only when status differs from the one
// stored, so it says how long the host has been up (or down).
func (db *DB) SaveHost(ctx context.Context, name string, config []byte, status string, load *float64, lastErr string, seen bool) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		now := formatTime(tx.now)
		var seenAt any
		if seen {
			seenAt = now
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO hosts (name, config, status, load, last_error, seen_at, status_since, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET config = excluded.config, status = excluded.status,
				load = COALESCE(excluded.load, hosts.load), last_error = excluded.last_error,
				seen_at = COALESCE(excluded.seen_at, hosts.seen_at),
				status_since = CASE WHEN hosts.status = excluded.status THEN hosts.status_since ELSE excluded.status_since END,
				updated_at = excluded.updated_at`,
			name, string(config), status, floatPtr(load), nullString(lastErr), seenAt, now, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("save host %s: %w", name, err)
	}
	return nil
}

// Host returns the record of one host, or ErrHostNotFound.
func (db *DB) Host(ctx context.Context, name string) (HostRecord, error) {
	hs, err := db.queryHosts(ctx, ` WHERE name = ?`, name)
	if err != nil {
		return HostRecord{}, err
	}
	if len(hs) == 0 {
		return HostRecord{}, fmt.Errorf("host %s: %w", name, ErrHostNotFound)
	}
	return hs[0], nil
}

// Hosts returns every recorded host, by name.
func (db *DB) Hosts(ctx context.Context) ([]HostRecord, error) {
	return db.queryHosts(ctx, ` ORDER BY name`)
}

func (db *DB) queryHosts(ctx context.Context, where string, args ...any) ([]HostRecord, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT name, config, status, load, last_error, seen_at, status_since, updated_at FROM hosts`+where, args...)
	if err != nil {
		return nil, fmt.Errorf("hosts: %w", err)
	}
	defer rows.Close()
	var out []HostRecord
	for rows.Next() {
		var h HostRecord
		var config string
		var load sql.NullFloat64
		var lastErr sql.NullString
		var ts timeScanner
		if err := rows.Scan(&h.Name, &config, &h.Status, &load, &lastErr, ts.col(&h.SeenAt), ts.col(&h.Since), ts.col(&h.UpdatedAt)); err != nil {
			return nil, fmt.Errorf("hosts: %w", err)
		}
		if err := ts.parse(); err != nil {
			return nil, err
		}
		h.Config, h.LastError = []byte(config), lastErr.String
		if load.Valid {
			l := load.Float64
			h.Load = &l
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// HostRuns sums up the attempts a host has been given.
type HostRuns struct {
	Host      string
	Runs      int           // attempts assigned to the host, in any state
	Succeeded int           // attempts that ended succeeded
	Failed    int           // attempts that ended failed
	Active    int           // attempts assigned or running now
	Timed     int           // finished attempts with a start and end time: what MeanRun is over
	MeanRun   time.Duration // mean run time (start to finish) of the Timed attempts; 0 if none
	LastRun   time.Time     // latest assignment; zero if none
}

// HostRuns returns the attempt counts of every host that was given one,
// by host name.
func (db *DB) HostRuns(ctx context.Context) ([]HostRuns, error) {
	// julianday reads the stored RFC 3339 text (fraction and Z included);
	// days * 86400 gives seconds.
	rows, err := db.sql.QueryContext(ctx, `
		SELECT host, COUNT(*),
			COALESCE(SUM(state = 'succeeded'), 0), COALESCE(SUM(state = 'failed'), 0),
			COALESCE(SUM(state IN ('assigned', 'running') OR (state = 'cancelled' AND finished_at IS NULL)), 0),
			COUNT(CASE WHEN state IN ('succeeded', 'failed') AND started_at IS NOT NULL AND finished_at IS NOT NULL THEN 1 END),
			AVG(CASE WHEN state IN ('succeeded', 'failed') AND started_at IS NOT NULL AND finished_at IS NOT NULL
				THEN (julianday(finished_at) - julianday(started_at)) * 86400.0 END),
			MAX(assigned_at)
		FROM attempts WHERE host IS NOT NULL AND host != ''
		GROUP BY host ORDER BY host`)
	if err != nil {
		return nil, fmt.Errorf("host runs: %w", err)
	}
	defer rows.Close()
	var out []HostRuns
	for rows.Next() {
		var r HostRuns
		var mean sql.NullFloat64
		var ts timeScanner
		if err := rows.Scan(&r.Host, &r.Runs, &r.Succeeded, &r.Failed, &r.Active, &r.Timed, &mean, ts.col(&r.LastRun)); err != nil {
			return nil, fmt.Errorf("host runs: %w", err)
		}
		if err := ts.parse(); err != nil {
			return nil, fmt.Errorf("host runs: %w", err)
		}
		if mean.Valid {
			r.MeanRun = time.Duration(mean.Float64 * float64(time.Second)).Round(time.Millisecond)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("host runs: %w", err)
	}
	return out, nil
}
