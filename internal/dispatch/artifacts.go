package dispatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/mljob/mljob/internal/artifacts"
	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/pyexec"
)

// bringHome copies the artifacts of o's attempt once its outcome is
// recorded, if it owes any. Whatever it does not finish (ctx ended, the
// connection dropped, the dispatcher died) stays owed in the database, and
// adoptFetches goes on with it, here or in the next dispatch.
func (d *dispatcher) bringHome(ctx context.Context, hs *hostState, o db.Order) {
	if d.opts.ArtifactsDir == "" {
		return
	}
	f, _, err := d.db.GetFetch(d.saveCtx, o.ID, o.Attempt)
	if errors.Is(err, db.ErrOrderNotFound) {
		return // no run dir: nothing owed
	}
	if err != nil {
		d.warnf("order %d: %v", o.ID, err)
		return
	}
	if f.State != db.FetchPending && f.State != db.FetchListed {
		return // nothing owed (no artifacts/ dir, no globs): no session
	}
	if d.opts.BeforeArtifacts != nil {
		d.opts.BeforeArtifacts(o.ID)
	}
	d.fetch(ctx, hs, f)
}

// adoptFetches goes on, on a host that answers, with the artifacts owed
// home from its runs: those of a dispatcher that died or was stopped
// before it copied them, or of a copy cut short.
func (d *dispatcher) adoptFetches(ctx context.Context, hs *hostState) {
	if d.opts.ArtifactsDir == "" {
		return
	}
	owed, err := d.db.PendingFetches(ctx, hs.cfg.Name)
	if err != nil {
		if ctx.Err() == nil {
			d.warnf("%v", err)
		}
		return
	}
	for _, f := range owed {
		key := attemptKey{f.OrderID, f.Attempt}
		if _, busy := d.fetching.Load(key); busy {
			continue
		}
		id := "artifacts " + pyexec.RunID(d.queue, f.OrderID, f.Attempt)
		if hs.late[id] {
			continue
		}
		// Counted among the late looks, so the dispatch waits for it.
		hs.late[id] = true
		d.fetching.Store(key, struct{}{})
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer d.send(event{host: hs, kind: "late", orderID: f.OrderID, runID: id})
			defer d.fetching.Delete(key)
			d.logf("order %d attempt %d: fetching its artifacts from %s", f.OrderID, f.Attempt, hs.cfg.Name)
			d.fetch(ctx, hs, f)
		}()
	}
}

// artifactsLimit is the cap a run's artifacts are held to: the job's,
// else the dispatch's (--artifacts-cap, its env or config key), else the
// host's artifacts_cap, else artifacts.DefaultCap; 0 is "not set".
func artifactsLimit(job, dispatch, host int64) int64 {
	return cmp.Or(job, dispatch, host, artifacts.DefaultCap)
}

// fetch lists (when not listed yet) and copies the artifacts of attempt f
// into the artifacts dir, recording each file as it comes home.
func (d *dispatcher) fetch(ctx context.Context, hs *hostState, f db.Fetch) {
	id := pyexec.RunID(d.queue, f.OrderID, f.Attempt)
	python := cmp.Or(hs.cfg.Python, hosts.DefaultPython)
	limit := artifactsLimit(f.JobCap, d.opts.ArtifactsCap, hs.cfg.ArtifactsCap)
	if f.State == db.FetchPending {
		l, err := artifacts.List(ctx, hs.h, python, id, f.Globs, limit)
		if err != nil {
			d.fetchFailed(f, err)
			return
		}
		files := make([]db.ArtifactFile, len(l.Files))
		for i, a := range l.Files {
			files[i] = db.ArtifactFile{Path: a.Path, Size: a.Size, SHA256: a.SHA256}
		}
		msg := ""
		if l.Over {
			msg = fmt.Sprintf("artifacts of %d bytes (%s) over the cap of %d bytes (%s): none copied; raise the cap with the job's %q, dispatch --artifacts-cap or the host's artifacts_cap, then mljob fetch JOB after a new dispatch",
				l.Total, artifacts.FormatSize(l.Total), limit, artifacts.FormatSize(limit), pyexec.KeyArtifactsCap)
		}
		if err := d.db.SaveListing(d.saveCtx, f.OrderID, f.Attempt, files, l.Total, limit, l.Over, msg); err != nil {
			d.warnf("order %d: %v", f.OrderID, err)
			return
		}
		if l.Over {
			d.warnf("order %d attempt %d on %s: %s", f.OrderID, f.Attempt, hs.cfg.Name, msg)
			return
		}
	}
	_, files, err := d.db.GetFetch(d.saveCtx, f.OrderID, f.Attempt)
	if err != nil {
		d.warnf("order %d: %v", f.OrderID, err)
		return
	}
	var todo []artifacts.File
	for _, a := range files {
		if !a.Done {
			todo = append(todo, artifacts.File{Path: a.Path, Size: a.Size, SHA256: a.SHA256})
		}
	}
	dir := artifacts.Home(d.opts.ArtifactsDir, f.JobID, f.Attempt)
	n := 0
	err = artifacts.Fetch(ctx, hs.h, python, id, todo, dir, func(a artifacts.File) error {
		n++
		return d.db.ArtifactHome(d.saveCtx, f.OrderID, f.Attempt, a.Path)
	})
	if err != nil {
		d.fetchFailed(f, err)
		return
	}
	if len(todo) > 0 {
		d.logf("order %d attempt %d: %d artifacts home in %s", f.OrderID, f.Attempt, n, dir)
	}
}

// fetchFailed notes why f's artifacts are not home; a run dir that is gone
// means they never will be.
func (d *dispatcher) fetchFailed(f db.Fetch, err error) {
	final := errors.Is(err, engine.ErrNotStarted)
	if err := d.db.NoteFetch(d.saveCtx, f.OrderID, f.Attempt, err.Error(), final); err != nil {
		d.warnf("order %d: %v", f.OrderID, err)
	}
	if !final && !errors.Is(err, context.Canceled) {
		d.warnf("order %d attempt %d: artifacts not home yet (the next dispatch tries again): %v", f.OrderID, f.Attempt, err)
	}
}
