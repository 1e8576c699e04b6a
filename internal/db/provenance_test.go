package db

import (
	"bytes"
	"context"
	"testing"
)

func TestCodeStoredOnce(t *testing.T) {
	ctx := context.Background()
	diff := []byte("diff --git a/nn.py b/nn.py\n-x = 1\n+x = 2\n")
	other := []byte("diff --git a/nn.py b/nn.py\n-x = 1\n+x = 3\n")
	tests := []struct {
		name      string
		submits   [][]*Code // per submit, the Code of each job
		wantDiffs int
	}{
		{name: "one submit, shared code", submits: [][]*Code{{
			{Repo: RepoGit, Commit: "abc", Dirty: true, Diff: diff, DiffSize: int64(len(diff))},
		}}, wantDiffs: 1},
		{name: "two submits, same diff", submits: [][]*Code{
			{{Repo: RepoGit, Commit: "abc", Dirty: true, Diff: diff, DiffSize: int64(len(diff))}},
			{{Repo: RepoGit, Commit: "abc", Dirty: true, Diff: bytes.Clone(diff), DiffSize: int64(len(diff))}},
		}, wantDiffs: 1},
		{name: "two diffs", submits: [][]*Code{
			{{Repo: RepoGit, Commit: "abc", Dirty: true, Diff: diff, DiffSize: int64(len(diff))}},
			{{Repo: RepoGit, Commit: "abc", Dirty: true, Diff: other, DiffSize: int64(len(other))}},
		}, wantDiffs: 2},
		{name: "clean and not a repo", submits: [][]*Code{
			{{Repo: RepoGit, Commit: "abc"}},
			{{Repo: RepoNone}},
		}, wantDiffs: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			var ids []int64
			var codes []*Code
			for _, sub := range tt.submits {
				for _, c := range sub {
					c.ScriptHash = HashBytes([]byte("script"))
					// Three jobs share each Code, as a sweep's jobs do.
					jobs := make([]NewJob, 3)
					for i := range jobs {
						jobs[i] = NewJob{Project: "p", Script: "nn.py", Spec: []byte(`{"projectName":"p","i":` + string(rune('0'+i)) + `}`), Code: c}
					}
					res, err := db.SubmitJobs(ctx, jobs)
					if err != nil {
						t.Fatal(err)
					}
					for _, s := range res {
						ids, codes = append(ids, s.JobID), append(codes, c)
					}
				}
			}
			n, err := db.CodeDiffs(ctx)
			if err != nil || n != tt.wantDiffs {
				t.Fatalf("CodeDiffs = %d, %v; want %d", n, err, tt.wantDiffs)
			}
			for i, id := range ids {
				got, err := db.JobCode(ctx, id)
				if err != nil || got == nil {
					t.Fatalf("JobCode(%d) = %v, %v", id, got, err)
				}
				want := codes[i]
				if got.Repo != want.Repo || got.Commit != want.Commit || got.Dirty != want.Dirty ||
					!bytes.Equal(got.Diff, want.Diff) || got.DiffSize != want.DiffSize || got.ScriptHash != want.ScriptHash {
					t.Errorf("job %d: code %+v, want %+v", id, got, want)
				}
				if (want.Diff == nil) != (got.DiffHash == "") || (want.Diff != nil && got.DiffHash != HashBytes(want.Diff)) {
					t.Errorf("job %d: diff hash %q for diff %q", id, got.DiffHash, want.Diff)
				}
			}
		})
	}
}

func TestJobCodeNone(t *testing.T) {
	db := MustOpenDB(t)
	sub := mustSubmit(t, db, "p", 0)
	c, err := db.JobCode(context.Background(), sub[0].JobID)
	if err != nil || c != nil {
		t.Fatalf("JobCode of a job without code = %+v, %v; want nil, nil", c, err)
	}
}

func TestEnvironmentStoredOnce(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	sub := mustSubmit(t, db, "p", 0, 0, 0)
	envA := []byte(`{"python":"3.11.2","host":"a"}`)
	envB := []byte(`{"python":"3.12.1","host":"b"}`)
	specs := [][]byte{envA, bytes.Clone(envA), envB}
	for i, spec := range specs {
		c := mustClaim(t, db, "h")
		h, err := db.SaveEnvironment(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		if h != HashBytes(spec) {
			t.Fatalf("SaveEnvironment = %s, want the spec's hash", h)
		}
		if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: true, Env: h}); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM environments`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("environments = %d, %v; want 2 (A stored once)", n, err)
	}
	for i, s := range sub {
		envs, err := db.JobEnvironments(ctx, s.JobID)
		if err != nil {
			t.Fatal(err)
		}
		if len(envs) != 1 || !bytes.Equal(envs[0].Spec, specs[i]) || envs[0].OrderID != s.OrderID || envs[0].Attempt != 1 {
			t.Errorf("job %d: environments %+v, want %s", s.JobID, envs, specs[i])
		}
	}
}
