package db

import (
	"context"
	"fmt"
	"strings"
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

// JobSummary is a job as shell completion lists it: its id, its order's id
// and state, project and script.
type JobSummary struct {
	JobID, OrderID  int64
	Project, Script string
	State           OrderState
}

// RecentJobs returns the newest jobs first, at most limit, each with its
// order; with states, only the jobs whose order is in one of them.
func (db *DB) RecentJobs(ctx context.Context, limit int, states ...OrderState) ([]JobSummary, error) {
	q := `SELECT j.id, o.id, j.project, j.script, o.state FROM jobs j JOIN orders o ON o.job_id = j.id`
	var args []any
	if len(states) > 0 {
		q += ` WHERE o.state IN (?` + strings.Repeat(`, ?`, len(states)-1) + `)`
		for _, s := range states {
			args = append(args, s)
		}
	}
	q += ` ORDER BY j.id DESC, o.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var out []JobSummary
	for rows.Next() {
		var s JobSummary
		if err := rows.Scan(&s.JobID, &s.OrderID, &s.Project, &s.Script, &s.State); err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return out, nil
}

// UnknownProjectError is CheckProject's error for a project that no job of
// the queue is in.
type UnknownProjectError struct {
	Project string
	Known   []string // the queue's projects, sorted (Projects)
}

func (e *UnknownProjectError) Error() string {
	return fmt.Sprintf("no project %q in the queue", e.Project)
}

// CheckProject returns an *UnknownProjectError unless project is "" or has
// jobs in the queue. A project whose jobs have no outcomes yet is known.
func (db *DB) CheckProject(ctx context.Context, project string) error {
	if project == "" {
		return nil
	}
	ok, err := db.HasProject(ctx, project)
	if err != nil || ok {
		return err
	}
	known, err := db.Projects(ctx)
	if err != nil {
		return err
	}
	return &UnknownProjectError{Project: project, Known: known}
}
