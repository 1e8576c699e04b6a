package main

import (
	"context"
	"fmt"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/render"
	"github.com/mljob/mljob/internal/replicate"
)

// runReplicateOutcomes is outcomes --replicates: each replicate group of
// the project (or drawn from the sweep) summed up from its jobs' outcomes.
func runReplicateOutcomes(ctx context.Context, opts *outcomesOptions) error {
	store, err := opts.app.openDB(ctx, db.ReadOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := checkProject(ctx, store, opts.filter.Project); err != nil {
		return fmt.Errorf("outcomes: %w", err)
	}
	var sweepID int64
	if opts.sweep != "" {
		sw, err := store.ResolveSweep(ctx, opts.sweep, opts.filter.Project)
		if err != nil {
			return sweepError(err)
		}
		sweepID = sw.ID
	}
	groups, err := store.ReplicateGroups(ctx, opts.filter.Project, sweepID)
	if err != nil {
		return fmt.Errorf("outcomes: %w", err)
	}
	views := make([]replicate.GroupView, 0, len(groups))
	for _, g := range groups {
		values, err := jobValues(ctx, store, g)
		if err != nil {
			return fmt.Errorf("outcomes: %w", err)
		}
		views = append(views, replicate.NewGroupView(g, values))
	}
	if len(views) == 0 && opts.output == render.FormatTable {
		fmt.Fprintln(opts.app.io.ErrOut, "No replicate groups. Make one with: mljob replicate --sweep S --top K --seeds N")
		return nil
	}
	if err := render.Write(opts.app.io.Out, opts.output, replicate.Table(views), views); err != nil {
		return fmt.Errorf("outcomes: %w", err)
	}
	if opts.output == render.FormatTable {
		return replicate.WriteNotes(opts.app.io.ErrOut, views)
	}
	return nil
}

// jobValues reads each job of g (sources and replicates) for its best
// outcome that counts: succeeded, not superseded, with a value.
func jobValues(ctx context.Context, store *db.DB, g db.ReplicateGroup) (map[int64]*float64, error) {
	values := map[int64]*float64{}
	for _, s := range g.Sources {
		for _, id := range append([]int64{s.JobID}, s.Jobs...) {
			rows, err := store.Outcomes(ctx, db.OutcomeFilter{JobID: id, States: []string{db.OutcomeSucceeded}, Sort: "objective"})
			if err != nil {
				return nil, err
			}
			if picks, _, err := replicate.Best(rows, 1); err == nil {
				v := picks[0].Value
				values[id] = &v
			}
		}
	}
	return values, nil
}
