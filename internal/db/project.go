package db

import (
	"context"
	"fmt"
)

// Projects returns the distinct projects of the queue's jobs, sorted. A
// project exists once a job of it was submitted, whatever became of it.
func (db *DB) Projects(ctx context.Context) ([]string, error) {
	// jobs has no index on project: a GROUP BY is one pass over the table
	// (a few milliseconds at 100,000 jobs), and this runs only to explain an
	// error or complete a flag.
	rows, err := db.sql.QueryContext(ctx, `SELECT project FROM jobs GROUP BY project ORDER BY project`)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("list projects: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return out, nil
}

// HasProject reports whether any job of the queue is in project. It stops
// at the first such job, so commands can check a --project on every run.
func (db *DB) HasProject(ctx context.Context, project string) (bool, error) {
	var ok bool
	if err := db.sql.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM jobs WHERE project = ?)`, project).Scan(&ok); err != nil {
		return false, fmt.Errorf("find project %q: %w", project, err)
	}
	return ok, nil
}
