package db

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/prune"
	"github.com/mljob/mljob/internal/tpe"
)

// mustSubmitTPE registers a study of budget trials (parallel 0: no bound)
// and returns its sweep id.
func mustSubmitTPE(tb testing.TB, db *DB, name string, budget, parallel int) int64 {
	tb.Helper()
	res, err := db.Submit(context.Background(), nil, SubmitOptions{
		Sweep: &NewSweep{Name: name, Project: "p", Definition: []byte(`{"method":"tpe"}`)},
		Study: &NewStudy{Method: "tpe", Budget: budget, Parallel: parallel, Seed: 7, Space: []byte(`[{"path":"x","range":"lin:0:1"}]`),
			Base: NewJob{Project: "p", Script: "q.py", Spec: []byte(`{"x": 0}`),
				Objective: objective.Objective{Name: "loss", Goal: objective.Minimize}, Pruner: prune.Rule{Kind: "asha", MinStep: 1, Reduction: 3}}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	if res.Sweep == nil || len(res.Jobs) != 0 {
		tb.Fatalf("submit study: %+v, want a sweep and no jobs", res)
	}
	return res.Sweep.ID
}

// proposeNumber is a propose that sets x to the trial number and checks
// that it was handed every trial before it.
func proposeNumber(tb testing.TB) func(Study, int, []tpe.Trial) (Proposal, error) {
	return func(st Study, number int, trials []tpe.Trial) (Proposal, error) {
		if len(trials) != number {
			return Proposal{}, fmt.Errorf("trial %d proposed from %d trials", number, len(trials))
		}
		return Proposal{Spec: fmt.Appendf(nil, `{"x": %d}`, number), Params: []float64{float64(number)}}, nil
	}
}

// TestNextTrialConcurrent: two dispatchers (two handles on one file, four
// goroutines) making and claiming trials of one study never take one
// number twice and stop at the budget.
func TestNextTrialConcurrent(t *testing.T) {
	const budget, workers = 60, 4
	path := filepath.Join(t.TempDir(), "mljob.db")
	handles := []*DB{mustOpenPath(t, path), mustOpenPath(t, path)}
	sweepID := mustSubmitTPE(t, handles[0], "s", budget, 0)

	var mu sync.Mutex
	made := map[int]int{} // trial number -> times made; guarded by mu
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			db := handles[w%len(handles)]
			ctx := context.Background()
			for {
				nt, err := db.NextTrial(ctx, sweepID, proposeNumber(t))
				if err != nil {
					errs <- err
					return
				}
				if nt != nil {
					mu.Lock()
					made[nt.Number]++
					mu.Unlock()
				}
				c, err := db.ClaimOrder(ctx, fmt.Sprintf("h%d", w), "0", "d")
				if err != nil {
					errs <- err
					return
				}
				if nt == nil && c == nil {
					st, err := db.Studies(ctx)
					if err != nil {
						errs <- err
						return
					}
					if st[0].Trials >= budget {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(made) != budget {
		t.Errorf("%d distinct trial numbers made, want %d", len(made), budget)
	}
	for n := range budget {
		if made[n] != 1 {
			t.Errorf("trial %d made %d times, want once", n, made[n])
		}
	}
	sts, err := handles[1].Studies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st := sts[0]; st.Trials != budget || st.InFlight != budget || st.Queued != 0 {
		t.Errorf("study counts %d trials, %d in flight, %d queued; want %d, %d, 0", st.Trials, st.InFlight, st.Queued, budget, budget)
	}
}

// TestNextTrialLimits: one queued trial at a time, at most Parallel in
// flight, none past the budget, and a propose error queues nothing.
func TestNextTrialLimits(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	id := mustSubmitTPE(t, db, "lim", 3, 2)
	next := func() *NewTrial {
		t.Helper()
		nt, err := db.NextTrial(ctx, id, proposeNumber(t))
		if err != nil {
			t.Fatal(err)
		}
		return nt
	}
	if nt := next(); nt == nil || nt.Number != 0 {
		t.Fatalf("first trial = %+v, want number 0", nt)
	}
	if nt := next(); nt != nil {
		t.Fatalf("second trial while the first waits for a claim = %+v, want none", nt)
	}
	c0 := mustClaim(t, db, "h")
	if nt := next(); nt == nil || nt.Number != 1 {
		t.Fatalf("trial after a claim = %+v, want number 1", nt)
	}
	mustClaim(t, db, "h")
	if nt := next(); nt != nil {
		t.Fatalf("third trial with 2 in flight (parallel 2) = %+v, want none", nt)
	}
	boom := errors.New("boom")
	if _, err := db.NextTrial(ctx, id, func(Study, int, []tpe.Trial) (Proposal, error) { return Proposal{}, boom }); err != nil {
		t.Fatalf("a study that takes no trial must not call propose: %v", err)
	}
	if err := db.FailOrder(ctx, c0.Order.ID, c0.Order.Attempt, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NextTrial(ctx, id, func(Study, int, []tpe.Trial) (Proposal, error) { return Proposal{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("propose error = %v, want boom", err)
	}
	if nt := next(); nt == nil || nt.Number != 2 {
		t.Fatalf("trial after a failure = %+v, want number 2 (the failed propose took none)", nt)
	}
	mustClaim(t, db, "h")
	if nt := next(); nt != nil {
		t.Fatalf("trial past the budget of 3 = %+v", nt)
	}
	if _, err := db.NextTrial(ctx, 999, proposeNumber(t)); !errors.Is(err, ErrStudyNotFound) {
		t.Errorf("NextTrial of no study = %v, want ErrStudyNotFound", err)
	}
}

// TestStudyTrials: each trial's state as the sampler sees it: a value of
// the objective is Complete, a pruned run the value its pruner judged at
// its step, a run in flight Running, a failed run Failed.
func TestStudyTrials(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	id := mustSubmitTPE(t, db, "st", 5, 0)
	var claims []*Claim
	for range 4 {
		if nt, err := db.NextTrial(ctx, id, proposeNumber(t)); err != nil || nt == nil {
			t.Fatalf("next trial: %+v, %v", nt, err)
		}
		c := mustClaim(t, db, "h")
		if err := db.MarkRunning(ctx, c.Order.ID, c.Order.Attempt, "/w/runs/x", 1); err != nil {
			t.Fatal(err)
		}
		claims = append(claims, c)
	}
	// 0 succeeds with loss 0.25, 1 fails, 2 is pruned at step 3 with 0.9, 3 runs.
	loss := 0.25
	if _, err := db.RecordOutcome(ctx, Outcome{OrderID: claims[0].Order.ID, Attempt: 1, JobID: claims[0].Job.ID,
		Succeeded: true, Loss: &loss, JSON: []byte(`{"loss": 0.25}`)}); err != nil {
		t.Fatal(err)
	}
	if err := db.FailOrder(ctx, claims[1].Order.ID, 1, "exit 1"); err != nil {
		t.Fatal(err)
	}
	var seen []float64
	if _, pruned, err := db.JudgeRung(ctx, Pruning{OrderID: claims[2].Order.ID, Attempt: 1}, reasonOf, judgeWith(0, 0.9, true, &seen)); err != nil || !pruned {
		t.Fatalf("prune trial 2: %v, %v", pruned, err)
	}
	trials, next, err := db.StudyTrials(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []tpe.Trial{
		{Number: 0, Params: []float64{0}, State: tpe.Complete, Value: 0.25},
		{Number: 1, Params: []float64{1}, State: tpe.Failed},
		{Number: 2, Params: []float64{2}, State: tpe.Pruned, Value: 0.9, Step: 3},
		{Number: 3, Params: []float64{3}, State: tpe.Running},
	}
	if next != 4 || len(trials) != len(want) {
		t.Fatalf("trials %+v, next %d; want %+v, next 4", trials, next, want)
	}
	for i, w := range want {
		g := trials[i]
		if g.Number != w.Number || !slices.Equal(g.Params, w.Params) || g.State != w.State ||
			(w.State != tpe.Failed && w.State != tpe.Running && g.Value != w.Value) || g.Step != w.Step {
			t.Errorf("trial %d = %+v, want %+v", i, g, w)
		}
	}
	if math.IsNaN(trials[0].Value) {
		t.Error("complete trial with a NaN value")
	}
}

// sameTrials reports whether two trial lists are equal (a NaN value equals
// a NaN value).
func sameTrials(a, b []tpe.Trial) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		sameValue := x.Value == y.Value || (math.IsNaN(x.Value) && math.IsNaN(y.Value))
		if x.Number != y.Number || x.State != y.State || x.Step != y.Step || !sameValue || !slices.Equal(x.Params, y.Params) {
			return false
		}
	}
	return true
}

// TestTrialLog: a log kept across proposals and synced after each change
// (trial made, claimed, run, succeeded, failed, pruned, retried, claimed
// again, cancelled) holds the same trials as a full read and as a log
// rebuilt from the file, and NextTrialFrom hands propose those trials.
func TestTrialLog(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	id := mustSubmitTPE(t, db, "log", 8, 0)
	kept := NewTrialLog(id)
	check := func(step string) {
		t.Helper()
		if err := db.SyncTrialLog(ctx, kept); err != nil {
			t.Fatalf("%s: sync: %v", step, err)
		}
		full, _, err := db.StudyTrials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		fresh := NewTrialLog(id)
		if err := db.SyncTrialLog(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		if !sameTrials(kept.Trials(), full) || !sameTrials(fresh.Trials(), full) {
			t.Fatalf("%s: kept log %+v, rebuilt %+v, full read %+v", step, kept.Trials(), fresh.Trials(), full)
		}
	}
	propose := func(st Study, number int, trials []tpe.Trial) (Proposal, error) {
		full, _, err := db.StudyTrials(ctx, id) // outside the transaction: the same committed state
		if err != nil {
			return Proposal{}, err
		}
		if !sameTrials(trials, full) {
			return Proposal{}, fmt.Errorf("trial %d proposed from %+v, the queue holds %+v", number, trials, full)
		}
		return proposeNumber(t)(st, number, trials)
	}
	var claims []*Claim
	for i := range 4 {
		nt, err := db.NextTrialFrom(ctx, kept, propose)
		if err != nil || nt == nil || nt.Number != i {
			t.Fatalf("next trial %d: %+v, %v", i, nt, err)
		}
		check(fmt.Sprintf("trial %d made", i))
		c := mustClaim(t, db, "h")
		if err := db.MarkRunning(ctx, c.Order.ID, c.Order.Attempt, "/w/runs/x", 1); err != nil {
			t.Fatal(err)
		}
		claims = append(claims, c)
		check(fmt.Sprintf("trial %d running", i))
	}
	loss := 0.25
	if _, err := db.RecordOutcome(ctx, Outcome{OrderID: claims[0].Order.ID, Attempt: 1, JobID: claims[0].Job.ID,
		Succeeded: true, Loss: &loss, JSON: []byte(`{"loss": 0.25}`)}); err != nil {
		t.Fatal(err)
	}
	check("trial 0 succeeded")
	if err := db.FailOrder(ctx, claims[1].Order.ID, 1, "exit 1"); err != nil {
		t.Fatal(err)
	}
	check("trial 1 failed")
	var seen []float64
	if _, pruned, err := db.JudgeRung(ctx, Pruning{OrderID: claims[2].Order.ID, Attempt: 1}, reasonOf, judgeWith(0, 0.9, true, &seen)); err != nil || !pruned {
		t.Fatalf("prune trial 2: %v, %v", pruned, err)
	}
	check("trial 2 pruned")
	if got := kept.Trials(); got[1].State != tpe.Failed || got[2].State != tpe.Pruned {
		t.Fatalf("trials 1, 2 = %+v, %+v; want failed, pruned", got[1], got[2])
	}
	if _, err := db.RetryOrders(ctx, Selection{OrderIDs: []int64{claims[1].Order.ID, claims[2].Order.ID}}, StateFailed, StatePruned); err != nil {
		t.Fatal(err)
	}
	check("trials 1 and 2 retried")
	// Trial 2's run has not ended (its attempt is live), so only 1 is
	// queued again.
	if got := kept.Trials(); got[1].State != tpe.Running {
		t.Fatalf("retried trial 1 = %+v; want running", got[1])
	}
	c := mustClaim(t, db, "h")
	loss = 0.5
	if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: c.Order.Attempt, JobID: c.Job.ID,
		Succeeded: true, Loss: &loss, JSON: []byte(`{"loss": 0.5}`)}); err != nil {
		t.Fatal(err)
	}
	check("a retried trial succeeded")
	if _, err := db.CancelOrders(ctx, Selection{OrderIDs: []int64{claims[3].Order.ID}}); err != nil {
		t.Fatal(err)
	}
	check("trial 3 cancelled")
	if nt, err := db.NextTrialFrom(ctx, kept, propose); err != nil || nt == nil || nt.Number != 4 {
		t.Fatalf("next trial after the changes: %+v, %v", nt, err)
	}
	check("trial 4 made")
}

// TestTrialCarriesSubmit: a trial's job carries what submit gave the
// study: its code (a copy of the study's, diff included), artifacts
// globs and cap, objective and pruner.
func TestTrialCarriesSubmit(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	code := &Code{Repo: "git", Commit: "0123abcd", Dirty: true, Diff: []byte("--- a/q.py\n+++ b/q.py\n"), DiffSize: 22,
		ScriptHash: "aa", DataHash: "bb"}
	obj := objective.Objective{Name: "acc", Goal: objective.Maximize}
	rule := prune.Rule{Kind: "asha", MinStep: 1, Reduction: 3}
	res, err := db.Submit(ctx, nil, SubmitOptions{
		Sweep: &NewSweep{Name: "carry", Project: "p", Definition: []byte(`{"method":"tpe"}`)},
		Study: &NewStudy{Method: "tpe", Budget: 2, Seed: 1, Space: []byte(`[{"path":"x","range":"lin:0:1"}]`),
			Base: NewJob{Project: "p", Script: "q.py", Spec: []byte(`{"x": 0}`), Objective: obj, Pruner: rule,
				Artifacts: []string{"model*.pt", "plots/*.png"}, ArtifactsCap: 1 << 20, Code: code}},
	})
	if err != nil {
		t.Fatal(err)
	}
	nt, err := db.NextTrial(ctx, res.Sweep.ID, proposeNumber(t))
	if err != nil || nt == nil {
		t.Fatalf("next trial: %+v, %v", nt, err)
	}
	j, err := db.Job(ctx, nt.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(j.Artifacts, []string{"model*.pt", "plots/*.png"}) || j.ArtifactsCap != 1<<20 || j.Objective != obj || j.Pruner != rule {
		t.Errorf("trial job %+v, want the study's artifacts, cap, objective and pruner", j)
	}
	got, err := db.JobCode(ctx, nt.JobID)
	if err != nil || got == nil {
		t.Fatalf("trial's code: %+v, %v", got, err)
	}
	if got.Repo != "git" || got.Commit != "0123abcd" || !got.Dirty || string(got.Diff) != string(code.Diff) ||
		got.ScriptHash != "aa" || got.DataHash != "bb" {
		t.Errorf("trial's code %+v, want the study's %+v", got, code)
	}
}

// TestTrialsQueryPlan checks that a kept log's sync reads the changed
// trials through jobs_trial_rev, not every trial of the study through
// jobs_trial, and that a full read walks jobs_trial in order.
func TestTrialsQueryPlan(t *testing.T) {
	db := MustOpenDB(t)
	for _, tc := range []struct {
		name    string
		changed bool
		want    string
	}{
		{"changed", true, "USING INDEX jobs_trial_rev (sweep_id=? AND trial_rev>?)"},
		{"all", false, "USING INDEX jobs_trial (sweep_id=? AND trial>?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []any{1}
			if tc.changed {
				args = append(args, 5)
			}
			rows, err := db.sql.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+trialsQuery(tc.changed), args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notUsed int
				var detail string
				if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(plan, func(d string) bool { return strings.HasPrefix(d, "SEARCH j ") && strings.Contains(d, tc.want) }) {
				t.Errorf("plan of the trials query:\n%s\nwant the jobs search %s", strings.Join(plan, "\n"), tc.want)
			}
		})
	}
}

// TestStudyConstantLiar: a study registered with the constant liar on or
// off reads back so, in Studies and in the Study NextTrial hands propose,
// and the column takes nothing but 0 or 1.
func TestStudyConstantLiar(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	ids := map[bool]int64{}
	for _, liar := range []bool{true, false} {
		res, err := db.Submit(ctx, nil, SubmitOptions{
			Sweep: &NewSweep{Name: fmt.Sprintf("liar-%v", liar), Project: "p", Definition: []byte(`{"method":"tpe"}`)},
			Study: &NewStudy{Method: "tpe", Budget: 3, ConstantLiar: liar, Seed: 1, Space: []byte(`[{"path":"x","range":"lin:0:1"}]`),
				Base: NewJob{Project: "p", Script: "q.py", Spec: []byte(`{"x": 0}`)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids[liar] = res.Sweep.ID
	}
	sts, err := db.Studies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 {
		t.Fatalf("%d studies, want 2", len(sts))
	}
	for _, st := range sts {
		if want := st.SweepID == ids[true]; st.ConstantLiar != want {
			t.Errorf("study %s: ConstantLiar = %v, want %v", st.Sweep, st.ConstantLiar, want)
		}
	}
	for liar, id := range ids {
		seen, err := proposedLiar(db, id)
		if err != nil {
			t.Fatal(err)
		}
		if seen != liar {
			t.Errorf("sweep %d: propose saw ConstantLiar %v, want %v", id, seen, liar)
		}
	}
	if _, err := db.sql.ExecContext(ctx, `UPDATE studies SET constant_liar = 2 WHERE sweep_id = ?`, ids[true]); err == nil ||
		!strings.Contains(err.Error(), "CHECK constraint failed") {
		t.Errorf("constant_liar = 2: %v, want a CHECK constraint error", err)
	}
}

// TestMigrateStudyConstantLiar: a study an mljob at schema 20 registered
// (no constant_liar column: that mljob always used the liar) reads as
// liar on once the file is migrated, and proposes so.
func TestMigrateStudyConstantLiar(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mljob.db")
	raw := mustCreateAtVersion(t, path, 20)
	const at = "2026-03-01T12:00:00.000000000Z"
	for _, q := range []string{
		`INSERT INTO sweeps (id, name, project, definition, created_at) VALUES (1, 'old', 'p', '{"method":"tpe"}', '` + at + `')`,
		`INSERT INTO studies (sweep_id, method, budget, parallel, seed, space, project, script, data_file, priority, spec,
			allow_new, objective, goal, pruner)
			VALUES (1, 'tpe', 4, 2, 7, '[{"path":"x","range":"lin:0:1"}]', 'p', 'q.py', '', 0, '{"x": 0}', 0, 'loss', 'minimize', NULL)`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	db := mustOpenPath(t, path)
	steps, _ := parseSchema(schemaSQL)
	if _, version, err := readIDs(ctx, db.sql); err != nil || version != len(steps) {
		t.Fatalf("user_version = %d, %v; want %d", version, err, len(steps))
	}
	sts, err := db.Studies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || !sts[0].ConstantLiar || sts[0].Budget != 4 || sts[0].Parallel != 2 {
		t.Fatalf("studies after the migration: %+v, want the old one with ConstantLiar on", sts)
	}
	if seen, err := proposedLiar(db, 1); err != nil || !seen {
		t.Errorf("propose saw ConstantLiar %v (%v), want true", seen, err)
	}
}

// proposedLiar makes the study's next trial and returns the ConstantLiar
// of the Study that NextTrial handed propose; an error if none was made.
func proposedLiar(db *DB, sweepID int64) (bool, error) {
	var seen, called bool
	nt, err := db.NextTrial(context.Background(), sweepID, func(st Study, number int, trials []tpe.Trial) (Proposal, error) {
		seen, called = st.ConstantLiar, true
		return Proposal{Spec: fmt.Appendf(nil, `{"x": %d}`, number), Params: []float64{float64(number)}}, nil
	})
	if err == nil && (nt == nil || !called) {
		err = fmt.Errorf("sweep %d made no trial", sweepID)
	}
	return seen, err
}
