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
	UpdatedAt time.Time
}

// SaveHost records a host's entry and state. seen says it just answered.
func (db *DB) SaveHost(ctx context.Context, name string, config []byte, status string, load *float64, lastErr string, seen bool) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		now := formatTime(tx.now)
		var seenAt any
		if seen {
			seenAt = now
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO hosts (name, config, status, load, last_error, seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET config = excluded.config, status = excluded.status,
				load = COALESCE(excluded.load, hosts.load), last_error = excluded.last_error,
				seen_at = COALESCE(excluded.seen_at, hosts.seen_at), updated_at = excluded.updated_at`,
			name, string(config), status, floatPtr(load), nullString(lastErr), seenAt, now)
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
	rows, err := db.sql.QueryContext(ctx, `SELECT name, config, status, load, last_error, seen_at, updated_at FROM hosts`+where, args...)
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
		if err := rows.Scan(&h.Name, &config, &h.Status, &load, &lastErr, ts.col(&h.SeenAt), ts.col(&h.UpdatedAt)); err != nil {
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
