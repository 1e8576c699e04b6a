package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/render"
)

// killTimeout bounds connecting to a host and killing there, so an
// unreachable host cannot hang cancel; the dispatchers kill later.
const killTimeout = 20 * time.Second

// Actions cancel reports per order.
const (
	actionCancelled   = "cancelled"    // it was waiting: nothing ran
	actionKilled      = "killed"       // its run was stopped just now
	actionKillPending = "kill pending" // a dispatcher will stop its run
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
	// for dispatch.OpenHostWith over hostsFile's entries.
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

// cancelRow is one line of cancel's output.
type cancelRow struct {
	OrderID       int64  `json:"orderId"`
	JobID         int64  `json:"jobId"`
	PreviousState string `json:"previousState"`
	Action        string `json:"action"`

	host string
	why  string // why a kill is pending
}

func runCancel(ctx context.Context, opts *cancelOptions) error {
	if opts.openHost == nil {
		var entries []hosts.Host
		if opts.hostsFile != "" {
			var err error
			if entries, err = opts.app.loadHosts(ctx, opts.hostsFile, 1, ""); err != nil {
				return err
			}
		}
		opts.openHost = func(ctx context.Context, store *db.DB, name string) (engine.Engine, error) {
			return dispatch.OpenHostWith(ctx, store, name, entries)
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
	orders, err := store.CancelOrders(ctx, selection(opts.ids, opts.byOrder, opts.project))
	if err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	errOut := opts.app.io.ErrOut
	warnUnmatched(errOut, orders, opts.ids, opts.byOrder, "nothing to cancel (no such id, or already finished)")
	if len(orders) == 0 {
		return &userError{
			msg:  "nothing to cancel: no named order is waiting, assigned or running",
			hint: "see what is queued and running with: mljob status; a job's orders with: mljob show JOB",
		}
	}

	rows := make([]cancelRow, len(orders))
	byHost := map[string][]int{}
	for i, o := range orders {
		rows[i] = cancelRow{OrderID: o.ID, JobID: o.JobID, PreviousState: string(o.State), Action: actionCancelled, host: o.Host}
		if o.State == db.StateAssigned || o.State == db.StateRunning {
			byHost[o.Host] = append(byHost[o.Host], i)
		}
	}
	// The orders are cancelled already: from here on, a failure only
	// delays the kill. The kill outlives an interrupt of this command by
	// no more than killTimeout.
	killCtx, cancel := context.WithTimeout(ctx, killTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for host, idx := range byHost {
		wg.Go(func() { killOnHost(killCtx, opts, store, host, idx, orders, rows) })
	}
	wg.Wait()

	t := render.Table{
		Headers: []string{"ORDER", "JOB", "PREVIOUS", "ACTION"},
		Keys:    []string{"orderId", "jobId", "previousState", "action"},
		Numeric: map[int]bool{0: true, 1: true},
	}
	for _, r := range rows {
		t.Rows = append(t.Rows, []string{strconv.FormatInt(r.OrderID, 10), strconv.FormatInt(r.JobID, 10), r.PreviousState, r.Action})
	}
	if err := render.Write(opts.app.io.Out, opts.output, t, rows); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	for _, r := range rows {
		if r.Action == actionKillPending {
			fmt.Fprintf(errOut, "Order %d: its run on %s will be killed by the next dispatcher that reaches %s (the order is cancelled already): %s\n",
				r.OrderID, r.host, r.host, r.why)
		}
	}
	return nil
}

// killOnHost kills the runs of orders[idx] on host, one connection for
// all, and sets their rows' actions. Each row is written by one goroutine.
func killOnHost(ctx context.Context, opts *cancelOptions, store *db.DB, host string, idx []int, orders []db.Order, rows []cancelRow) {
	pending := func(i int, why string) {
		rows[i].Action, rows[i].why = actionKillPending, why
	}
	if host == "" {
		for _, i := range idx {
			pending(i, "no host recorded for its attempt")
		}
		return
	}
	h, err := opts.openHost(ctx, store, host)
	if err != nil {
		for _, i := range idx {
			pending(i, "cannot reach the host now: "+err.Error())
		}
		return
	}
	defer h.Close()
	mine := make([]db.Order, len(idx))
	for j, i := range idx {
		mine[j] = orders[i]
	}
	var warnMu sync.Mutex
	res := dispatch.KillRuns(ctx, store, h, mine, func(err error) {
		warnMu.Lock()
		defer warnMu.Unlock()
		fmt.Fprintf(opts.app.io.ErrOut, "mljob: %v\n", err)
	})
	for j, i := range idx {
		if res[j].Killed {
			rows[i].Action = actionKilled
		} else {
			pending(i, res[j].Why)
		}
	}
}

// warnUnmatched tells, on w, which of the named ids no returned order
// matched.
func warnUnmatched(w io.Writer, orders []db.Order, ids []int64, byOrder bool, why string) {
	what := "Job"
	if byOrder {
		what = "Order"
	}
	for _, id := range ids {
		found := slices.ContainsFunc(orders, func(o db.Order) bool {
			if byOrder {
				return o.ID == id
			}
			return o.JobID == id
		})
		if !found {
			fmt.Fprintf(w, "%s %d: %s.\n", what, id, why)
		}
	}
}
