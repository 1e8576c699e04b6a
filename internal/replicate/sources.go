package replicate

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/fieldcheck"
	"github.com/mljob/mljob/internal/objective"
)

// Request is what mljob replicate asks for: the Top best runs of Sweep (of
// Project, when its name is ambiguous), or the jobs Jobs names; Seeds
// copies of each, with the seed fields their scripts declare in
// ScriptsDir.
type Request struct {
	Sweep   string // an id or a name; "" when Jobs names the jobs
	Project string
	Jobs    []int64
	Top     int
	Seeds   int
	// ScriptsDir holds the scripts' field declarations (fieldcheck.Find).
	ScriptsDir string
}

// RequestError is a request Queue cannot serve (a sweep or job without a
// value of its objective, jobs of two projects, a bad seed declaration),
// with what to do instead.
type RequestError struct {
	Msg  string
	Hint string
}

func (e *RequestError) Error() string { return e.Msg }

// Queued is what Queue made: the group as submitted, its id, and the jobs
// and orders of its members, in the order of Group.Members.
type Queued struct {
	GroupID int64
	Group   db.NewReplicateGroup
	Picks   []Pick
	Subs    []db.Submitted
}

// Queue ranks the sources of req (Sources), makes their replicate group
// (Group: req.Seeds copies of each, seeds after the replicates made
// before) and submits it in one transaction. Besides store's errors, it
// returns a *RequestError, a *db.UnknownProjectError for an unknown
// req.Project, and ResolveSweep's errors for an unknown req.Sweep.
func Queue(ctx context.Context, store *db.DB, req Request) (Queued, error) {
	picks, obj, sweepID, err := Sources(ctx, store, req)
	if err != nil {
		return Queued{}, err
	}
	jobs := make(map[int64]db.Job, len(picks))
	ids := make([]int64, len(picks))
	for i, p := range picks {
		if jobs[p.JobID], err = store.Job(ctx, p.JobID); err != nil {
			return Queued{}, err
		}
		ids[i] = p.JobID
	}
	counts, err := store.ReplicateCounts(ctx, ids)
	if err != nil {
		return Queued{}, err
	}
	seeds := func(script string) ([]fieldcheck.Seed, error) {
		decl, err := fieldcheck.Find(req.ScriptsDir, script)
		if err != nil {
			return nil, &RequestError{Msg: err.Error(), Hint: "fix the script's field declaration, or name another --scripts dir"}
		}
		return SeedFields(decl), nil
	}
	q := Queued{Picks: picks}
	if q.Group, err = Group(picks, jobs, obj, sweepID, req.Seeds, seeds, counts); err != nil {
		return Queued{}, err
	}
	if q.GroupID, q.Subs, err = store.CreateReplicates(ctx, q.Group); err != nil {
		return Queued{}, err
	}
	return q, nil
}

// Sources ranks what req replicates: the sweep's top req.Top jobs, or the
// jobs req.Jobs names, best first by their objective. It returns them
// with that objective and the sweep's id (0 for named jobs); its errors
// are Queue's.
func Sources(ctx context.Context, store *db.DB, req Request) ([]Pick, objective.Objective, int64, error) {
	if req.Sweep != "" {
		return sweepSources(ctx, store, req)
	}
	succeeded := []string{db.OutcomeSucceeded}
	var rows []db.OutcomeRow
	for _, id := range req.Jobs {
		if _, err := store.Job(ctx, id); errors.Is(err, db.ErrJobNotFound) {
			return nil, objective.Objective{}, 0, &RequestError{Msg: fmt.Sprintf("no job %d in the queue", id), Hint: "see the jobs with: mljob outcomes"}
		} else if err != nil {
			return nil, objective.Objective{}, 0, err
		}
		jr, err := store.Outcomes(ctx, db.OutcomeFilter{JobID: id, States: succeeded, Sort: "objective"})
		if err != nil {
			return nil, objective.Objective{}, 0, err
		}
		if _, _, err := Best(jr, 1); err != nil {
			return nil, objective.Objective{}, 0, &RequestError{Msg: fmt.Sprintf("job %d has %s", id, err),
				Hint: fmt.Sprintf("replicate jobs that succeeded with their objective in their outcome; see: mljob show %d", id)}
		}
		rows = append(rows, jr...)
	}
	// Rank the named jobs as a sweep's runs are ranked: best first.
	SortRows(rows)
	picks, obj, err := Best(rows, len(req.Jobs))
	if err != nil {
		return nil, obj, 0, &RequestError{Msg: err.Error(), Hint: "name jobs judged by one objective"}
	}
	projects := map[string]bool{}
	for _, r := range rows {
		projects[r.Project] = true
	}
	if len(projects) > 1 {
		return nil, obj, 0, &RequestError{Msg: "the jobs named are of more than one project", Hint: "name jobs of one project"}
	}
	return picks, obj, 0, nil
}

// sweepSources is Sources of a sweep: its top req.Top succeeded runs.
func sweepSources(ctx context.Context, store *db.DB, req Request) ([]Pick, objective.Objective, int64, error) {
	if err := store.CheckProject(ctx, req.Project); err != nil {
		return nil, objective.Objective{}, 0, err
	}
	sw, err := store.ResolveSweep(ctx, req.Sweep, req.Project)
	if err != nil {
		return nil, objective.Objective{}, 0, err
	}
	rows, err := store.Outcomes(ctx, db.OutcomeFilter{SweepID: sw.ID, States: []string{db.OutcomeSucceeded}, Sort: "objective"})
	if err != nil {
		return nil, objective.Objective{}, 0, err
	}
	picks, obj, err := Best(rows, req.Top)
	if errors.Is(err, ErrNoValue) {
		return nil, obj, 0, &RequestError{Msg: fmt.Sprintf("sweep %s has %s yet", sw.Name, err),
			Hint: "run it first: mljob dispatch; see its runs with: mljob outcomes --sweep " + sw.Name}
	}
	if err != nil {
		return nil, obj, 0, &RequestError{Msg: err.Error(), Hint: "mljob outcomes --sweep " + sw.Name + " shows each run's objective"}
	}
	return picks, obj, sw.ID, nil
}

// SortRows sorts outcome rows best first by their objective (each row's
// own goal; rows of one objective are what Best takes), rows without a
// value last; equals keep their order.
func SortRows(rows []db.OutcomeRow) {
	slices.SortStableFunc(rows, func(a, b db.OutcomeRow) int {
		switch {
		case a.ObjectiveValue == nil || b.ObjectiveValue == nil:
			return boolInt(a.ObjectiveValue == nil) - boolInt(b.ObjectiveValue == nil)
		case a.Objective.Beats(*a.ObjectiveValue, *b.ObjectiveValue):
			return -1
		case b.Objective.Beats(*b.ObjectiveValue, *a.ObjectiveValue):
			return 1
		}
		return 0
	})
}

// GroupViews sums up each group from its jobs' outcomes (NewGroupView).
func GroupViews(ctx context.Context, store *db.DB, groups []db.ReplicateGroup) ([]GroupView, error) {
	views := make([]GroupView, 0, len(groups))
	for _, g := range groups {
		values, err := jobValues(ctx, store, g)
		if err != nil {
			return nil, err
		}
		views = append(views, NewGroupView(g, values))
	}
	return views, nil
}

// jobValues reads each job of g (sources and replicates) for its best
// outcome that counts: succeeded, not superseded, with a value.
func jobValues(ctx context.Context, store *db.DB, g db.ReplicateGroup) (map[int64]*float64, error) {
	values := map[int64]*float64{}
	for _, s := range g.Sources {
		for _, id := range append([]int64{s.JobID}, s.Jobs...) {
			rows, err := store.Outcomes(ctx, db.OutcomeFilter{JobID: id, States: []string{db.OutcomeSucceeded}, Sort: "objective"})
			if err != nil {
				return nil, fmt.Errorf("outcomes of job %d: %w", id, err)
			}
			if picks, _, err := Best(rows, 1); err == nil {
				v := picks[0].Value
				values[id] = &v
			}
		}
	}
	return values, nil
}
