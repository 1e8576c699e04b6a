package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/orderview"
	"github.com/mljob/mljob/internal/render"
)

type retryOptions struct {
	app     *app
	ids     []int64
	byOrder bool
	failed  bool
	pruned  bool
	project string
	output  string
}

func newRetryCmd(a *app) *cobra.Command {
	opts := &retryOptions{app: a}
	cmd := &cobra.Command{
		Use:   "retry [ID]... [--order] | --failed | --pruned [--project P]",
		Short: "Queue failed or cancelled jobs again",
		Long: `Retry puts failed or cancelled jobs back in the queue: IDs are job ids
(order ids with --order); --project adds the orders of a project; --failed
keeps only failed orders, and alone retries every failed order. Runs their
pruner stopped early are left out unless --pruned is given (alone: every
pruned order; with --failed: failed and pruned ones). The next dispatch
runs them as a new attempt; earlier attempts and their outcomes are kept
(see mljob show JOB).

A cancelled order whose run is still being stopped is skipped until its
outcome is recorded.

Exit codes: 0 ok, 1 error (e.g. nothing to retry, unknown project), 2 usage
error.`,
		Example: `  mljob retry 12
  mljob retry --failed
  mljob retry --failed --project wine_data -o json
  mljob retry --pruned --project wine_data`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(cmd, args, opts.byOrder)
			if err != nil {
				return err
			}
			if len(ids) == 0 && opts.project == "" && !opts.failed && !opts.pruned {
				return usagef(cmd, "nothing named: give job ids (order ids with --order), --project, --failed or --pruned")
			}
			opts.ids = ids
			return runRetry(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.byOrder, "order", false, "IDs are order ids, not job ids")
	cmd.Flags().BoolVar(&opts.failed, "failed", false, "only failed orders (alone: every failed order)")
	cmd.Flags().BoolVar(&opts.pruned, "pruned", false, "also orders their pruner stopped (alone: every pruned order)")
	cmd.Flags().StringVar(&opts.project, "project", "", "also the orders of this project")
	addOutputFlag(cmd, &opts.output)
	return cmd
}

func runRetry(ctx context.Context, opts *retryOptions) error {
	store, err := opts.app.openDB(ctx, db.Existing)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := checkProject(ctx, store, opts.project); err != nil {
		return fmt.Errorf("retry: %w", err)
	}
	sel := selection(opts.ids, opts.byOrder, opts.project)
	if len(opts.ids) == 0 && opts.project == "" {
		sel = db.Selection{All: true} // --failed or --pruned alone: every project's
	}
	choice := orderview.RetryChoice{Failed: opts.failed, Pruned: opts.pruned, Named: len(opts.ids) > 0 || opts.project != ""}
	orders, err := store.RetryOrders(ctx, sel, choice.States()...)
	if err != nil {
		return fmt.Errorf("retry: %w", err)
	}
	errOut := opts.app.io.ErrOut
	orderview.WriteUnmatched(errOut, sel.Missing(orders), opts.byOrder, choice.Unmatched())
	if len(orders) == 0 {
		return &userError{msg: choice.Nothing(),
			hint: "see each project's states with: mljob status; a job's attempts with: mljob show JOB"}
	}
	t, rows := orderview.RetryTable(orders)
	if err := render.Write(opts.app.io.Out, opts.output, t, rows); err != nil {
		return fmt.Errorf("retry: %w", err)
	}
	fmt.Fprintf(errOut, "Queued %d order(s) again. Run them with: mljob dispatch\n", len(orders))
	return nil
}
