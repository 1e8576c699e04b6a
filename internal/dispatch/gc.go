package dispatch

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/rungc"
)

// GCOptions shape GC.
type GCOptions struct {
	// Entries are a hosts file's entries, for the env values the queue
	// does not keep (a Slurm entry's SLURM_CONF); nil: none.
	Entries []hosts.Host
	// DryRun lists what GC would remove and removes nothing.
	DryRun bool
	// Removed is called for each run dir GC removed (or, with DryRun,
	// would remove); gone: it was gone already.
	Removed func(r db.RunDir, gone bool)
}

// GC removes from their hosts the run dirs that db.CollectableRunDirs
// names (an outcome recorded, artifacts home or not owed), one host at a
// time, and records each removal so that no later GC visits it again. A
// host that cannot be reached, or a run dir that rungc refuses, is a
// problem in the returned list; the other hosts and dirs go on.
func GC(ctx context.Context, store *db.DB, opts GCOptions) ([]error, error) {
	dirs, err := store.CollectableRunDirs(ctx)
	if err != nil {
		return nil, err
	}
	var problems []error
	for i := 0; i < len(dirs); {
		j := i
		for j < len(dirs) && dirs[j].Host == dirs[i].Host {
			j++
		}
		problems = append(problems, gcHost(ctx, store, dirs[i].Host, dirs[i:j], opts)...)
		if ctx.Err() != nil {
			return problems, ctx.Err()
		}
		i = j
	}
	return problems, nil
}

// gcHost removes dirs, all on host name.
func gcHost(ctx context.Context, store *db.DB, name string, dirs []db.RunDir, opts GCOptions) []error {
	if opts.DryRun {
		for _, r := range dirs {
			opts.Removed(r, false)
		}
		return nil
	}
	rec, err := store.Host(ctx, name)
	if err != nil {
		return []error{fmt.Errorf("host %s: %w", name, err)}
	}
	var h hosts.Host
	if err := json.Unmarshal(rec.Config, &h); err != nil {
		return []error{fmt.Errorf("host %s: stored entry: %w", name, err)}
	}
	e, err := OpenHostWith(ctx, store, name, opts.Entries)
	if err != nil {
		return []error{fmt.Errorf("host %s: %w (its %d run dirs are left for the next gc)", name, err, len(dirs))}
	}
	defer e.Close()
	var problems []error
	for _, r := range dirs {
		id := pyexec.RunID(store.QueueID(), r.OrderID, r.Attempt)
		gone, err := rungc.Remove(ctx, e, h.Workdir, id, r.Dir)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s on %s: %w", r.Dir, name, err))
			continue
		}
		if err := store.RunDirRemoved(ctx, r); err != nil {
			problems = append(problems, err)
			continue
		}
		opts.Removed(r, gone)
	}
	return problems
}
