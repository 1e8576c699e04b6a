package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mljob/mljob/internal/objective"
)

// NewReplicateGroup is one mljob replicate to store: the configurations it
// repeats (each a source job) and the jobs it queues for them.
type NewReplicateGroup struct {
	Project string
	// SweepID is the sweep the configurations were ranked in; 0 when they
	// were named as jobs.
	SweepID   int64
	Objective objective.Objective
	// Seeds is the number of new seeds per configuration.
	Seeds   int
	Members []NewReplicate
}

// NewReplicate is one job of a replicate group: a copy of its source job
// with new seeds.
type NewReplicate struct {
	SourceJobID int64
	// SourceRank is the source's rank by the objective when the group was
	// made, 1 the best.
	SourceRank int
	Job        NewJob
}

// ReplicateGroup is a stored replicate group.
type ReplicateGroup struct {
	ID        int64
	Project   string
	SweepID   int64 // 0 when the configurations were named as jobs
	Objective objective.Objective
	Seeds     int
	CreatedAt time.Time
	// Sources are the group's configurations by rank (best first), each
	// with the jobs queued for it.
	Sources []ReplicateSource
}

// ReplicateSource is one configuration of a group: its source job, its
// rank then, and the replicate jobs, in the order they were queued.
type ReplicateSource struct {
	JobID int64
	Rank  int
	Jobs  []int64
}

// ErrReplicateGroupEmpty is returned by CreateReplicates for a group
// without jobs.
var ErrReplicateGroupEmpty = errors.New("replicate group has no jobs")

// CreateReplicates stores g and queues its jobs, one order each, in one
// transaction: the group, every job and every membership, or nothing. It
// returns the group's id and what Submit made of each member's job.
func (db *DB) CreateReplicates(ctx context.Context, g NewReplicateGroup) (int64, []Submitted, error) {
	if len(g.Members) == 0 {
		return 0, nil, ErrReplicateGroupEmpty
	}
	var id int64
	var subs []Submitted
	err := db.withTx(ctx, func(tx *dbTx) error {
		var sweep any
		if g.SweepID != 0 {
			sweep = g.SweepID
		}
		err := tx.QueryRowContext(ctx, `
			INSERT INTO replicate_groups (project, sweep_id, objective, goal, seeds, created_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			g.Project, sweep, g.Objective.Name, string(g.Objective.Goal), g.Seeds, formatTime(tx.now)).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert group: %w", err)
		}
		jobs := make([]NewJob, len(g.Members))
		for i, m := range g.Members {
			jobs[i] = m.Job
		}
		res, err := submit(ctx, tx, jobs, SubmitOptions{})
		if err != nil {
			return err
		}
		subs = res.Jobs
		for i, m := range g.Members {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO replicates (job_id, group_id, source_job_id, source_rank) VALUES (?, ?, ?, ?)`,
				subs[i].JobID, id, m.SourceJobID, m.SourceRank); err != nil {
				return fmt.Errorf("insert replicate of job %d: %w", m.SourceJobID, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("create replicates: %w", err)
	}
	return id, subs, nil
}

// ReplicateCounts returns how many replicate jobs each of jobs has been
// the source of so far (absent: none), so that new seeds follow on from
// those already used.
func (db *DB) ReplicateCounts(ctx context.Context, jobs []int64) (map[int64]int, error) {
	out := make(map[int64]int, len(jobs))
	for _, id := range jobs {
		var n int
		if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM replicates WHERE source_job_id = ?`, id).Scan(&n); err != nil {
			return nil, fmt.Errorf("replicates of job %d: %w", id, err)
		}
		if n > 0 {
			out[id] = n
		}
	}
	return out, nil
}

// ReplicateGroups returns the replicate groups of project (every project's
// when ""), only those drawn from sweepID when it is not 0, oldest first,
// each with its configurations by rank.
func (db *DB) ReplicateGroups(ctx context.Context, project string, sweepID int64) ([]ReplicateGroup, error) {
	rows, err := db.sql.QueryContext(ctx, `
		SELECT g.id, g.project, g.sweep_id, g.objective, g.goal, g.seeds, g.created_at,
			r.source_job_id, r.source_rank, r.job_id
		FROM replicate_groups g
		JOIN replicates r ON r.group_id = g.id
		WHERE (? = '' OR g.project = ?) AND (? = 0 OR g.sweep_id = ?)
		ORDER BY g.id, r.source_rank, r.source_job_id, r.job_id`, project, project, sweepID, sweepID)
	if err != nil {
		return nil, fmt.Errorf("replicate groups: %w", err)
	}
	defer rows.Close()
	var out []ReplicateGroup
	for rows.Next() {
		var g ReplicateGroup
		var sweep sql.NullInt64
		var created sql.NullString
		var src ReplicateSource
		var job int64
		if err := rows.Scan(&g.ID, &g.Project, &sweep, &g.Objective.Name, &g.Objective.Goal, &g.Seeds, &created,
			&src.JobID, &src.Rank, &job); err != nil {
			return nil, fmt.Errorf("replicate groups: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].ID != g.ID {
			g.SweepID = sweep.Int64
			if g.CreatedAt, err = parseTime(created); err != nil {
				return nil, fmt.Errorf("replicate groups: %w", err)
			}
			out = append(out, g)
		}
		last := &out[len(out)-1]
		if n := len(last.Sources); n == 0 || last.Sources[n-1].JobID != src.JobID {
			last.Sources = append(last.Sources, src)
		}
		s := &last.Sources[len(last.Sources)-1]
		s.Jobs = append(s.Jobs, job)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("replicate groups: %w", err)
	}
	return out, nil
}
