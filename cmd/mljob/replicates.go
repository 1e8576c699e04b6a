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
	views, err := replicate.GroupViews(ctx, store, groups)
	if err != nil {
		return fmt.Errorf("outcomes: %w", err)
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
