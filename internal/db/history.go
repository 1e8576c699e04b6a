package db

import (
	"context"
	"strconv"
)

// JobHistory is all the queue holds of one job: what mljob show prints.
type JobHistory struct {
	Job Job
	// Sweep is the sweep the job was submitted in; nil outside a sweep.
	Sweep    *Sweep
	Orders   []Order
	Attempts [][]Attempt // Attempts[i] are those of Orders[i]
	Outcomes []OutcomeRow
	// Progress sums up the attempts that printed progress lines.
	Progress []ProgressSummary
	// Prunes are the verdicts on the attempts their pruner stopped, by
	// order, then attempt.
	Prunes []PruneRecord
	// Code is the code the job was submitted with; nil when none was
	// recorded.
	Code *Code
	// Envs are the environments its attempts ran in, by order, then
	// attempt.
	Envs []AttemptEnv
	// Artifacts are the fetches of its attempts that owe (or owed)
	// artifacts, with their files, by order, then attempt.
	Artifacts []AttemptFetch
}

// JobHistory reads the job with the given id (or ErrJobNotFound), its
// orders with their attempts and the verdicts on those pruned, its
// outcomes, its progress and its sweep.
func (db *DB) JobHistory(ctx context.Context, jobID int64) (*JobHistory, error) {
	job, err := db.Job(ctx, jobID)
	if err != nil {
		return nil, err
	}
	h := &JobHistory{Job: job}
	if h.Orders, err = db.OrdersForJob(ctx, job.ID); err != nil {
		return nil, err
	}
	for _, o := range h.Orders {
		as, err := db.Attempts(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		h.Attempts = append(h.Attempts, as)
		ps, err := db.Prunes(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		h.Prunes = append(h.Prunes, ps...)
	}
	if h.Outcomes, err = db.Outcomes(ctx, OutcomeFilter{JobID: job.ID}); err != nil {
		return nil, err
	}
	ids := make([]int64, len(h.Orders))
	for i, o := range h.Orders {
		ids[i] = o.ID
	}
	if h.Progress, err = db.ProgressSummaries(ctx, ids); err != nil {
		return nil, err
	}
	if h.Code, err = db.JobCode(ctx, job.ID); err != nil {
		return nil, err
	}
	if h.Envs, err = db.JobEnvironments(ctx, job.ID); err != nil {
		return nil, err
	}
	if h.Artifacts, err = db.JobFetches(ctx, job.ID); err != nil {
		return nil, err
	}
	if job.SweepID != 0 {
		sw, err := db.Sweep(ctx, strconv.FormatInt(job.SweepID, 10))
		if err != nil {
			return nil, err
		}
		h.Sweep = &sw
	}
	return h, nil
}
