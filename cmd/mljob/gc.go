package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/hosts"
)

type gcOptions struct {
	app    *app
	dryRun bool
	// hostsFile, when set, gives the env values the queue does not keep.
	hostsFile string
}

func newGCCmd(a *app) *cobra.Command {
	opts := &gcOptions{app: a}
	cmd := &cobra.Command{
		Use:   "gc [--dry-run] [--hosts FILE]",
		Short: "Remove the run dirs of finished runs from their hosts",
		Long: `Gc removes from the hosts the run dirs of attempts whose outcome is recorded
and whose artifacts are home (or were never owed, or are lost for good). A run
still queued or running, or whose artifacts are not home yet or were held back
over the cap, keeps its run dir.

The run dir is the one the queue recorded when the run started. It is removed
only when its name is the run's id and it lies in runs/ under the host's
workdir (never through a symlink). Each removal is recorded, so a second gc
does not visit it again. Gc prints each run dir it removes; with --dry-run it
prints what it would remove and removes nothing.

Hosts are reached as the last dispatcher recorded them; --hosts (or
MLJOB_HOSTS, or hosts in the config file) gives the env values the queue does
not keep, such as a Slurm entry's SLURM_CONF.

Exit codes: 0 ok, 1 error (e.g. a host that cannot be reached: its run dirs
are left for the next gc), 2 usage error.`,
		Example: `  mljob gc --dry-run
  mljob gc`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGC(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "print what would be removed, remove nothing")
	cmd.Flags().StringVar(&opts.hostsFile, "hosts", "",
		"hosts file whose env values reaching a host uses, e.g. a Slurm entry's SLURM_CONF (env MLJOB_HOSTS, config hosts)")
	return cmd
}

// runGC is wiring: dispatch.GC finds and removes the run dirs; each is
// printed as it goes.
func runGC(ctx context.Context, opts *gcOptions) error {
	var entries []hosts.Host
	if opts.hostsFile != "" {
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
	out := opts.app.io.Out
	verb := "removed"
	if opts.dryRun {
		verb = "would remove"
	}
	n := 0
	problems, err := dispatch.GC(ctx, store, dispatch.GCOptions{Entries: entries, DryRun: opts.dryRun,
		Removed: func(r db.RunDir, gone bool) {
			n++
			note := ""
			if gone {
				note = " (already gone)"
			}
			fmt.Fprintf(out, "%s %s:%s (job %d, order %d attempt %d)%s\n", verb, r.Host, r.Dir, r.JobID, r.OrderID, r.Attempt, note)
		}})
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	if n == 0 && len(problems) == 0 {
		fmt.Fprintln(opts.app.io.ErrOut, "Nothing to remove: no finished run has a run dir left with its artifacts home.")
	}
	for _, p := range problems {
		fmt.Fprintf(opts.app.io.ErrOut, "mljob: %v\n", p)
	}
	if len(problems) > 0 {
		return &userError{msg: fmt.Sprintf("gc: %d run dirs not removed", len(problems)),
			hint: "a host that did not answer: check it with mljob hosts check, then run mljob gc again; a run dir refused: the queue's record does not name runs/<run id> under the host's workdir, so gc leaves it"}
	}
	return nil
}
