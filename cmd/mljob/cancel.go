package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/orderview"
	"github.com/mljob/mljob/internal/render"
)

type cancelOptions struct {
	app     *app
	ids     []int64
	byOrder bool
	project string
	output  string
	// hostsFile, when set, gives the env values the queue does not keep.
	hostsFile string
	// openHost connects to a host as the last dispatcher recorded it; nil
	// for dispatch.OpenHostWith over hostsFile's entries. Tests set it.
	openHost func(ctx context.Context, store *db.DB, name string) (engine.Engine, error)
}

func newCancelCmd(a *app) *cobra.Command {
	opts := &cancelOptions{app: a}
	cmd := &cobra.Command{
		Use:   "cancel [ID]... [--order] [--project P]",
		Short: "Cancel queued or running jobs",
		Long: `Cancel stops jobs that have not finished: IDs are job ids (order ids with
--order); --project adds every order of a project. Waiting orders are
cancelled at once. The runs of assigned or running orders are killed on their
host (SIGTERM to every process of the run, SIGKILL 10s later); when the host
cannot be reached now, the order is cancelled all the same and the next
dispatcher that reaches the host kills the run (the attempt says "kill
pending" until then), and records it cancelled. Finished orders are left alone.

Hosts are reached as the last dispatcher recorded them. The queue keeps the
keys of a hosts file's env but not their values (often API keys): with
--hosts (or MLJOB_HOSTS, or hosts in the config file), a kill sets them, as a
Slurm entry's scancel needs its SLURM_CONF.

It prints each order it cancelled with its previous state and the action:
"cancelled", "killed" or "kill pending".

Exit codes: 0 ok, 1 error (e.g. nothing to cancel, unknown project), 2 usage
error.`,
		Example: `  mljob cancel 12 13
  mljob cancel --order 40
  mljob cancel --project wine_data -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseIDs(cmd, args, opts.byOrder)
			if err != nil {
				return err
			}
			if len(ids) == 0 && opts.project == "" {
				return usagef(cmd, "nothing named: give job ids (order ids with --order) or --project")
			}
			opts.ids = ids
			return runCancel(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.byOrder, "order", false, "IDs are order ids, not job ids")
	cmd.Flags().StringVar(&opts.project, "project", "", "also every order of this project")
	cmd.Flags().StringVar(&opts.hostsFile, "hosts", "",
		"hosts file whose env values a kill uses, e.g. a Slurm entry's SLURM_CONF (env MLJOB_HOSTS, config hosts); the queue keeps env keys only")
	addOutputFlag(cmd, &opts.output)
	return cmd
}

// parseIDs reads positional job or order ids.
func parseIDs(cmd *cobra.Command, args []string, byOrder bool) ([]int64, error) {
	what := "a job"
	if byOrder {
		what = "an order"
	}
	ids := make([]int64, 0, len(args))
	for _, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id < 1 {
			return nil, usagef(cmd, "%q is not %s id (a positive integer)", a, what)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// selection builds the db selection from ids (job or order ids) and a project.
func selection(ids []int64, byOrder bool, project string) db.Selection {
	if byOrder {
		return db.Selection{OrderIDs: ids, Project: project}
	}
	return db.Selection{JobIDs: ids, Project: project}
}

// runCancel is wiring: dispatch.Cancel cancels the orders and kills their
// runs; the rows and the pending kills are printed.
func runCancel(ctx context.Context, opts *cancelOptions) error {
	var entries []hosts.Host
	if opts.openHost == nil && opts.hostsFile != "" {
		var err error
		if entries, err = opts.app.loadHosts(ctx, opts.hostsFile, 1, ""); err != nil {
			return err
		}
	}
	store, err := opts.app.openDB(ctx, db.Existing)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := checkProject(ctx, store, opts.project); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	res, err := dispatch.Cancel(ctx, store, selection(opts.ids, opts.byOrder, opts.project), dispatch.CancelOptions{Entries: entries, OpenHost: opts.openHost})
	if err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	errOut := opts.app.io.ErrOut
	orderview.WriteUnmatched(errOut, res.Missing, opts.byOrder, "nothing to cancel (no such id, or already finished)")
	if len(res.Orders) == 0 {
		return &userError{
			msg:  "nothing to cancel: no named order is waiting, assigned or running",
			hint: "see what is queued and running with: mljob status; a job's orders with: mljob show JOB",
		}
	}
	for _, err := range res.Warnings {
		fmt.Fprintf(errOut, "mljob: %v\n", err)
	}
	return writeCancelled(opts, res.Orders)
}

// writeCancelled prints a row per order, then, on ErrOut, why each pending
// kill is pending.
func writeCancelled(opts *cancelOptions, res []dispatch.CancelResult) error {
	t, rows := orderview.CancelTable(res)
	if err := render.Write(opts.app.io.Out, opts.output, t, rows); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	for _, r := range res {
		if r.Action == dispatch.ActionKillPending {
			fmt.Fprintf(opts.app.io.ErrOut, "Order %d: its run on %s will be killed by the next dispatcher that reaches %s (the order is cancelled already): %s\n",
				r.Order.ID, r.Order.Host, r.Order.Host, r.Why)
		}
	}
	return nil
}
