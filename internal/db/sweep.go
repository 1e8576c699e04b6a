package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrSweepNotFound is returned when no sweep has the requested id or name.
var ErrSweepNotFound = errors.New("sweep not found")

// ErrSweepNameTaken is returned by Submit when the sweep's name is already
// another sweep's.
var ErrSweepNameTaken = errors.New("sweep name already taken")

// ErrBadSweepName is returned by Submit for a sweep name that is all
// digits, which Sweep would read as an id, or that holds control
// characters.
var ErrBadSweepName = errors.New("bad sweep name")

// NewSweep is a sweep to create with its jobs (see SubmitOptions).
type NewSweep struct {
	// Name is the sweep's unique name; "" picks "<project>-<YYYYMMDD-HHMMSS>"
	// (UTC, with -2, -3, … when taken).
	Name string
	// Project is the project the sweep's jobs are in; "" takes the first
	// job's.
	Project string
	// Definition is how the jobs were made, as JSON (see
	// sweep.Spec.Definition); it must not be nil.
	Definition []byte
}

// Sweep is a submitted sweep.
type Sweep struct {
	ID         int64
	Name       string
	Project    string
	Definition []byte
	// Jobs is how many jobs belong to the sweep.
	Jobs      int
	CreatedAt time.Time
}

// CheckSweepName returns ErrBadSweepName (wrapped, saying why) unless name
// can name a sweep: not empty, not all digits, no control characters.
func CheckSweepName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrBadSweepName)
	}
	if isDigits(name) {
		return fmt.Errorf("%w: %q is all digits, which reads as a sweep id", ErrBadSweepName, name)
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return fmt.Errorf("%w: %q holds a control character", ErrBadSweepName, name)
		}
	}
	return nil
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// createSweep inserts the sweep for jobs, naming it when ns.Name is empty.
func createSweep(ctx context.Context, tx *dbTx, ns NewSweep, jobs []NewJob) (Sweep, error) {
	sw := Sweep{Name: ns.Name, Project: ns.Project, Definition: ns.Definition, CreatedAt: tx.now}
	if sw.Project == "" && len(jobs) > 0 {
		sw.Project = jobs[0].Project
	}
	if sw.Name == "" {
		stem := tx.now.Format("20060102-150405")
		if sw.Project != "" {
			stem = sw.Project + "-" + stem
		}
		sw.Name = stem
		for n := 2; ; n++ {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM sweeps WHERE name = ?`, sw.Name).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				break
			}
			if err != nil {
				return Sweep{}, fmt.Errorf("create sweep: %w", err)
			}
			sw.Name = stem + "-" + strconv.Itoa(n)
		}
	}
	if err := CheckSweepName(sw.Name); err != nil {
		return Sweep{}, fmt.Errorf("create sweep: %w", err)
	}
	err := tx.QueryRowContext(ctx, `
		INSERT INTO sweeps (name, project, definition, created_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO NOTHING
		RETURNING id`, sw.Name, sw.Project, bytesText(sw.Definition), formatTime(tx.now)).Scan(&sw.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return Sweep{}, fmt.Errorf("create sweep: %w: %q", ErrSweepNameTaken, sw.Name)
	}
	if err != nil {
		return Sweep{}, fmt.Errorf("create sweep %q: %w", sw.Name, err)
	}
	return sw, nil
}

// sweepSelect selects a sweep and how many jobs it has.
const sweepSelect = `SELECT s.id, s.name, s.project, s.definition, s.created_at,
	(SELECT COUNT(*) FROM jobs WHERE jobs.sweep_id = s.id) FROM sweeps s`

// scanSweep reads a row of sweepSelect.
func scanSweep(s scanner) (Sweep, error) {
	var sw Sweep
	var def string
	var ts timeScanner
	if err := s.Scan(&sw.ID, &sw.Name, &sw.Project, &def, ts.col(&sw.CreatedAt), &sw.Jobs); err != nil {
		return Sweep{}, err
	}
	sw.Definition = []byte(def)
	return sw, ts.parse()
}

// Sweep returns the sweep named by idOrName: an id when it is all digits
// (names never are), else a name. It returns ErrSweepNotFound when there
// is none.
func (db *DB) Sweep(ctx context.Context, idOrName string) (Sweep, error) {
	q, arg := sweepSelect+` WHERE s.name = ?`, any(idOrName)
	if isDigits(idOrName) {
		id, err := strconv.ParseInt(idOrName, 10, 64)
		if err != nil {
			return Sweep{}, fmt.Errorf("sweep %s: %w", idOrName, ErrSweepNotFound)
		}
		q, arg = sweepSelect+` WHERE s.id = ?`, id
	}
	sw, err := scanSweep(db.sql.QueryRowContext(ctx, q, arg))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrSweepNotFound
	}
	if err != nil {
		return Sweep{}, fmt.Errorf("sweep %s: %w", idOrName, err)
	}
	return sw, nil
}

// Sweeps returns every sweep, oldest first.
func (db *DB) Sweeps(ctx context.Context) ([]Sweep, error) {
	rows, err := db.sql.QueryContext(ctx, sweepSelect+` ORDER BY s.id`)
	if err != nil {
		return nil, fmt.Errorf("list sweeps: %w", err)
	}
	defer rows.Close()
	var out []Sweep
	for rows.Next() {
		sw, err := scanSweep(rows)
		if err != nil {
			return nil, fmt.Errorf("list sweeps: %w", err)
		}
		out = append(out, sw)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sweeps: %w", err)
	}
	return out, nil
}

// maxSweepsListed bounds UnknownSweepError.Latest.
const maxSweepsListed = 10

// UnknownSweepError is ResolveSweep's error for a sweep that is not in the
// queue, or not in the project asked for. It matches ErrSweepNotFound.
type UnknownSweepError struct {
	IDOrName string
	Project  string // the project asked for; "" for any
	// Elsewhere is the sweep IDOrName names in another project than
	// Project; nil when it names none.
	Elsewhere *Sweep
	// Latest are the most recent sweeps of Project (of every project when
	// ""), newest first, at most maxSweepsListed: the ones to offer.
	Latest []Sweep
}

func (e *UnknownSweepError) Error() string {
	switch {
	case e.Elsewhere != nil:
		return fmt.Sprintf("sweep %q is in project %q, not %q", e.IDOrName, e.Elsewhere.Project, e.Project)
	case e.Project != "":
		return fmt.Sprintf("no sweep %q in project %q", e.IDOrName, e.Project)
	}
	return fmt.Sprintf("no sweep %q in the queue", e.IDOrName)
}

func (e *UnknownSweepError) Unwrap() error { return ErrSweepNotFound }

// ResolveSweep finds the sweep idOrName names (as Sweep does), which must
// be in project unless project is "". When there is none it returns an
// *UnknownSweepError.
func (db *DB) ResolveSweep(ctx context.Context, idOrName, project string) (Sweep, error) {
	sw, err := db.Sweep(ctx, idOrName)
	if err == nil && (project == "" || sw.Project == project) {
		return sw, nil
	}
	if err != nil && !errors.Is(err, ErrSweepNotFound) {
		return Sweep{}, err
	}
	e := &UnknownSweepError{IDOrName: idOrName, Project: project}
	if err == nil {
		e.Elsewhere = &sw
	}
	all, err := db.Sweeps(ctx)
	if err != nil {
		return Sweep{}, err
	}
	for i := len(all) - 1; i >= 0 && len(e.Latest) < maxSweepsListed; i-- {
		if project == "" || all[i].Project == project {
			e.Latest = append(e.Latest, all[i])
		}
	}
	return Sweep{}, e
}

// SweepNames returns every sweep's name by id.
func (db *DB) SweepNames(ctx context.Context) (map[int64]string, error) {
	sweeps, err := db.Sweeps(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[int64]string, len(sweeps))
	for _, sw := range sweeps {
		names[sw.ID] = sw.Name
	}
	return names, nil
}
