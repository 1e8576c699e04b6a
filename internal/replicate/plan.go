package replicate

import (
	"errors"
	"fmt"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/fieldcheck"
	"github.com/mljob/mljob/internal/objective"
)

// Pick is a configuration chosen to replicate: its job, its value of the
// objective and its rank among those ranked (1 the best).
type Pick struct {
	JobID int64
	Value float64
	Rank  int
}

// ErrNoValue is Best's error when no run has a value of the objective;
// ErrMixedObjectives when the runs are judged by more than one.
var (
	ErrNoValue         = errors.New("no succeeded run with a value of its objective")
	ErrMixedObjectives = errors.New("the runs are judged by more than one objective")
)

// Best picks the top k jobs of rows, outcome rows sorted best first by
// their objective (db.OutcomeFilter Sort "objective"): each job once, by
// its best outcome that counts (succeeded, not superseded, not pruned,
// with a value). It returns them with their objective.
func Best(rows []db.OutcomeRow, k int) ([]Pick, objective.Objective, error) {
	var picks []Pick
	var obj objective.Objective
	seen := map[int64]bool{}
	for _, r := range rows {
		if !r.Succeeded || r.Pruned || r.Superseded != "" || r.ObjectiveValue == nil || seen[r.JobID] {
			continue
		}
		if len(picks) == 0 {
			obj = r.Objective
		} else if r.Objective != obj {
			return nil, obj, fmt.Errorf("%w (%s and %s): name the jobs to compare with --jobs", ErrMixedObjectives, obj, r.Objective)
		}
		seen[r.JobID] = true
		if len(picks) < k {
			picks = append(picks, Pick{JobID: r.JobID, Value: *r.ObjectiveValue, Rank: len(picks) + 1})
		}
	}
	if len(picks) == 0 {
		return nil, obj, ErrNoValue
	}
	return picks, obj, nil
}

// Group makes the replicate group of picks: n jobs per pick, each a copy
// of the pick's job (jobs: by id) with new seeds for the fields seeds
// gives for its script, after the counts[id] replicates made of it
// before. Nothing about the run changes but the seeds: the project,
// script, data file, priority and objective are the job's; no pruner, so
// that every replicate runs to its end.
func Group(picks []Pick, jobs map[int64]db.Job, obj objective.Objective, sweepID int64, n int,
	seeds func(script string) ([]fieldcheck.Seed, error), counts map[int64]int) (db.NewReplicateGroup, error) {
	g := db.NewReplicateGroup{SweepID: sweepID, Objective: obj, Seeds: n}
	for _, p := range picks {
		j := jobs[p.JobID]
		g.Project = j.Project
		fields, err := seeds(j.Script)
		if err != nil {
			return g, err
		}
		specs, err := Specs(j.Spec, fields, counts[p.JobID], n)
		if err != nil {
			return g, fmt.Errorf("job %d: %w", p.JobID, err)
		}
		for _, spec := range specs {
			g.Members = append(g.Members, db.NewReplicate{SourceJobID: p.JobID, SourceRank: p.Rank, Job: db.NewJob{
				Project: j.Project, Script: j.Script, DataFile: j.DataFile, Priority: j.Priority, Spec: spec, Objective: obj,
			}})
		}
	}
	return g, nil
}
