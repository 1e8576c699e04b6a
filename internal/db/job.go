package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// NewJob is a job to submit: the spec as the user wrote it and the fields
// mljob reads from it.
type NewJob struct {
	Project  string
	Script   string
	DataFile string
	Priority int
	// Spec is the submitted JSON object, stored byte for byte. It must not
	// be nil.
	Spec []byte
}

// Submitted names the rows SubmitJobs created for one NewJob.
type Submitted struct {
	JobID   int64
	OrderID int64
}

// Job is a submitted job.
type Job struct {
	ID       int64
	Project  string
	Script   string
	DataFile string
	Priority int
	// Spec is the submitted JSON, exactly as submitted (whitespace, key
	// order and fields mljob does not know are all kept).
	Spec      []byte
	CreatedAt time.Time
}

// SubmitJobs stores jobs and one unassigned order for each, in one
// transaction: either all are queued or, on error, none. The result is in
// the order of jobs.
func (db *DB) SubmitJobs(ctx context.Context, jobs []NewJob) ([]Submitted, error) {
	var out []Submitted
	err := db.withTx(ctx, func(tx *dbTx) error {
		var err error
		out, err = submitJobs(ctx, tx, jobs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("submit jobs: %w", err)
	}
	return out, nil
}

// submitJobs inserts jobs and their orders with two prepared statements, as
// a sweep can submit thousands at once.
func submitJobs(ctx context.Context, tx *dbTx, jobs []NewJob) ([]Submitted, error) {
	insJob, err := tx.PrepareContext(ctx, `
		INSERT INTO jobs (project, script, data_file, priority, spec, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	defer insJob.Close()
	insOrder, err := tx.PrepareContext(ctx, `
		INSERT INTO orders (job_id, state, priority, created_at)
		VALUES (?, 'unassigned', ?, ?)`)
	if err != nil {
		return nil, err
	}
	defer insOrder.Close()

	now := formatTime(tx.now)
	out := make([]Submitted, 0, len(jobs))
	for i, j := range jobs {
		res, err := insJob.ExecContext(ctx, j.Project, j.Script, j.DataFile, j.Priority, bytesText(j.Spec), now)
		if err != nil {
			return nil, fmt.Errorf("job %d: %w", i, err)
		}
		jobID, err := res.LastInsertId()
		if err != nil {
			return nil, fmt.Errorf("job %d: %w", i, err)
		}
		res, err = insOrder.ExecContext(ctx, jobID, j.Priority, now)
		if err != nil {
			return nil, fmt.Errorf("job %d: order: %w", i, err)
		}
		orderID, err := res.LastInsertId()
		if err != nil {
			return nil, fmt.Errorf("job %d: order: %w", i, err)
		}
		out = append(out, Submitted{JobID: jobID, OrderID: orderID})
	}
	return out, nil
}

// Job returns the job with the given id, or ErrJobNotFound.
func (db *DB) Job(ctx context.Context, id int64) (Job, error) {
	j, err := findJob(ctx, db.sql, id)
	if err != nil {
		return Job{}, fmt.Errorf("job %d: %w", id, err)
	}
	return j, nil
}

// jobColumns is the column list scanJob reads, in its order.
const jobColumns = `jobs.id, jobs.project, jobs.script, jobs.data_file, jobs.priority, jobs.spec, jobs.created_at`

// findJob reads one job through q (the DB or a transaction).
func findJob(ctx context.Context, q queryer, id int64) (Job, error) {
	j, err := scanJob(q.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE jobs.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, ErrJobNotFound
	}
	return j, err
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanJob reads the columns of jobColumns.
func scanJob(s scanner) (Job, error) {
	var j Job
	var spec string
	var ts timeScanner
	if err := s.Scan(&j.ID, &j.Project, &j.Script, &j.DataFile, &j.Priority, &spec, ts.col(&j.CreatedAt)); err != nil {
		return Job{}, err
	}
	j.Spec = []byte(spec)
	return j, ts.parse()
}
