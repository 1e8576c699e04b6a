package db

import (
	"context"
	"errors"
	"fmt"
)

// BestRuns is the filter of "the best run" wherever mljob names one:
// each group's (a sweep's jobs, or a project's jobs outside any sweep, of
// one objective) first succeeded run by its objective, as outcomes --best
// --status succeeded lists them. A run without a value, a superseded one
// and a pruned one never lead. SweepProgresses' bests and BestJob read
// it; sweepID 0 keeps every group.
func BestRuns(sweepID int64) OutcomeFilter {
	return OutcomeFilter{SweepID: sweepID, States: []string{OutcomeSucceeded}, Sort: "objective", Best: true}
}

// ErrNoBest is BestJob's error when no group has a best run yet.
var ErrNoBest = errors.New("no succeeded run with a value of its objective")

// AmbiguousBestError is BestJob's error when more than one group has a
// best run: several sweeps or projects (sweepID 0), or a sweep whose jobs
// have several objectives.
type AmbiguousBestError struct{ Groups int }

func (e *AmbiguousBestError) Error() string {
	return fmt.Sprintf("%d sweeps (or projects) have a best run", e.Groups)
}

// BestJob returns the job of the one best run (BestRuns) of sweep sweepID,
// or of the queue's only group with one when sweepID is 0: what --best
// names. It returns ErrNoBest or an *AmbiguousBestError when there is not
// exactly one.
func (db *DB) BestJob(ctx context.Context, sweepID int64) (int64, error) {
	var jobs []int64
	err := db.EachOutcome(ctx, BestRuns(sweepID), func(r *OutcomeRow) error {
		jobs = append(jobs, r.JobID)
		return nil
	})
	switch {
	case err != nil:
		return 0, fmt.Errorf("best job: %w", err)
	case len(jobs) == 0:
		return 0, ErrNoBest
	case len(jobs) > 1:
		return 0, &AmbiguousBestError{Groups: len(jobs)}
	}
	return jobs[0], nil
}
