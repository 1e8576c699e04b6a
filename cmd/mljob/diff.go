package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/provenance"
)

type diffOptions struct {
	app  *app
	a, b int64
}

func newDiffCmd(a *app) *cobra.Command {
	opts := &diffOptions{app: a}
	cmd := &cobra.Command{
		Use:   "diff JOB1 JOB2",
		Short: "Show what differs between two jobs: fields, code and environment",
		Long: `Diff compares two jobs and prints what differs, in three sections:
Fields (the job's fields as dotted paths, hiddenLayers.0.dropout, and its
project, script and data file), Code (the scripts repository's commit and
whether it was dirty, as recorded at submit, and the SHA-256 of the script
and data file) and Environment (of each job's latest attempt that recorded
one: python, the versions of the modules the script imports, host, CPU,
GPUs). When the uncommitted diffs stored with the two jobs differ, a
unified diff of one against the other follows. A job submitted before
mljob recorded code shows "not recorded".

Exit codes: 0 ok (whether or not the jobs differ), 1 error (e.g. no such
job), 2 usage error.`,
		Example: `  mljob diff 12 31`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.a, err = jobIDArg(cmd, args[0]); err != nil {
				return err
			}
			if opts.b, err = jobIDArg(cmd, args[1]); err != nil {
				return err
			}
			return runDiff(cmd.Context(), opts)
		},
	}
	return cmd
}

func runDiff(ctx context.Context, opts *diffOptions) error {
	store, err := opts.app.openDB(ctx, db.ReadOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	var hs [2]*db.JobHistory
	for i, id := range []int64{opts.a, opts.b} {
		hs[i], err = store.JobHistory(ctx, id)
		if errors.Is(err, db.ErrJobNotFound) {
			return &userError{msg: fmt.Sprintf("job %d not found", id), hint: "list jobs with: mljob outcomes, or mljob status"}
		}
		if err != nil {
			return fmt.Errorf("diff: %w", err)
		}
	}
	return provenance.Compare(hs[0], hs[1]).Write(opts.app.io.Out)
}
