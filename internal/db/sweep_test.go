package db

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// sweepJobs returns n distinct jobs in project p.
func sweepJobs(n int) []NewJob {
	jobs := make([]NewJob, n)
	for i := range jobs {
		jobs[i] = NewJob{Project: "p", Script: "nn.py", Spec: fmt.Appendf(nil, `{"projectName":"p","scriptName":"nn.py","lr":%d}`, i)}
	}
	return jobs
}

func TestSubmitSweep(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	db.Now = func() time.Time { return time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC) }
	def := []byte(`{"grid":[{"path":"lr","values":[1,2]}]}`)

	res, err := db.Submit(ctx, sweepJobs(3), SubmitOptions{Sweep: &NewSweep{Definition: def}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sweep == nil || res.Sweep.ID != 1 || res.Sweep.Name != "p-20250304-050607" || res.Sweep.Jobs != 3 || res.Sweep.Project != "p" {
		t.Fatalf("sweep = %+v, want id 1 named p-20250304-050607 with 3 jobs", res.Sweep)
	}
	// The same second again: the default name gets a suffix.
	res2, err := db.Submit(ctx, sweepJobs(1), SubmitOptions{Sweep: &NewSweep{Definition: def}})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Sweep.Name != "p-20250304-050607-2" {
		t.Errorf("second sweep name = %q, want p-20250304-050607-2", res2.Sweep.Name)
	}
	named, err := db.Submit(ctx, sweepJobs(2)[1:], SubmitOptions{Sweep: &NewSweep{Name: "lr-sweep", Definition: def}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := db.SubmitJobs(ctx, sweepJobs(1))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("jobs remember their sweep", func(t *testing.T) {
		for _, c := range []struct {
			job  int64
			want int64
		}{{res.Jobs[0].JobID, 1}, {res.Jobs[2].JobID, 1}, {res2.Jobs[0].JobID, 2}, {named.Jobs[0].JobID, 3}, {plain[0].JobID, 0}} {
			j, err := db.Job(ctx, c.job)
			if err != nil {
				t.Fatal(err)
			}
			if j.SweepID != c.want {
				t.Errorf("job %d sweep = %d, want %d", c.job, j.SweepID, c.want)
			}
		}
	})

	t.Run("lookup by id or name", func(t *testing.T) {
		tests := []struct {
			idOrName string
			wantID   int64
			wantErr  error
		}{
			{idOrName: "1", wantID: 1},
			{idOrName: "p-20250304-050607", wantID: 1},
			{idOrName: "lr-sweep", wantID: 3},
			{idOrName: "3", wantID: 3},
			{idOrName: "9", wantErr: ErrSweepNotFound},
			{idOrName: "nope", wantErr: ErrSweepNotFound},
			{idOrName: "99999999999999999999", wantErr: ErrSweepNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.idOrName, func(t *testing.T) {
				sw, err := db.Sweep(ctx, tt.idOrName)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Sweep(%q) error = %v, want %v", tt.idOrName, err, tt.wantErr)
				}
				if err == nil && sw.ID != tt.wantID {
					t.Errorf("Sweep(%q) = %+v, want id %d", tt.idOrName, sw, tt.wantID)
				}
			})
		}
		sw, err := db.Sweep(ctx, "1")
		if err != nil {
			t.Fatal(err)
		}
		if string(sw.Definition) != string(def) || sw.Jobs != 3 || !sw.CreatedAt.Equal(db.Now()) {
			t.Errorf("Sweep(1) = %+v", sw)
		}
	})

	t.Run("list", func(t *testing.T) {
		all, err := db.Sweeps(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range all {
			got = append(got, fmt.Sprintf("%d %s %d", s.ID, s.Name, s.Jobs))
		}
		if want := "[1 p-20250304-050607 3 2 p-20250304-050607-2 1 3 lr-sweep 1]"; fmt.Sprint(got) != want {
			t.Errorf("Sweeps = %v, want %s", got, want)
		}
	})
}

func TestSubmitSweepErrors(t *testing.T) {
	tests := []struct {
		name string
		ns   NewSweep
		want error
	}{
		{name: "name taken", ns: NewSweep{Name: "taken", Definition: []byte(`{}`)}, want: ErrSweepNameTaken},
		{name: "all digits", ns: NewSweep{Name: "2024", Definition: []byte(`{}`)}, want: ErrBadSweepName},
		{name: "control character", ns: NewSweep{Name: "a\nb", Definition: []byte(`{}`)}, want: ErrBadSweepName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			ctx := context.Background()
			if _, err := db.Submit(ctx, sweepJobs(1), SubmitOptions{Sweep: &NewSweep{Name: "taken", Definition: []byte(`{}`)}}); err != nil {
				t.Fatal(err)
			}
			_, err := db.Submit(ctx, sweepJobs(2)[1:], SubmitOptions{Sweep: &tt.ns})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Submit error = %v, want %v", err, tt.want)
			}
			if n := countRows(t, db, "jobs"); n != 1 {
				t.Errorf("jobs = %d after a refused sweep, want 1", n)
			}
		})
	}
}

func TestSweepAllSkippedIsNotKept(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	if _, err := db.SubmitJobs(ctx, sweepJobs(2)); err != nil {
		t.Fatal(err)
	}
	res, err := db.Submit(ctx, sweepJobs(2), SubmitOptions{Sweep: &NewSweep{Name: "again", Definition: []byte(`{}`)}, Dedupe: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sweep != nil || !res.Jobs[0].Skipped || !res.Jobs[1].Skipped {
		t.Errorf("result = %+v, want both skipped and no sweep", res)
	}
	if _, err := db.Sweep(ctx, "again"); !errors.Is(err, ErrSweepNotFound) {
		t.Errorf("Sweep(again) error = %v, want ErrSweepNotFound", err)
	}
}

// BenchmarkSubmitSweep submits a 10,000-job sweep in one transaction into
// a queue already holding 100,000 jobs, duplicate check included.
func BenchmarkSubmitSweep(b *testing.B) {
	db := MustOpenDB(b)
	ctx := context.Background()
	queueJobs(b, db, 100_000)
	jobs := benchJobs(10_000)
	for i := range jobs {
		jobs[i].Spec = fmt.Appendf(nil, `{"projectName":"sweep","scriptName":"nn.py","lr":%d,"hidden":[64,32],"optimizer":"adam","epochs":300}`, i)
	}
	for b.Loop() {
		res, err := db.Submit(ctx, jobs, SubmitOptions{Sweep: &NewSweep{Definition: []byte(`{}`)}})
		if err != nil || len(res.Jobs) != len(jobs) {
			b.Fatalf("Submit = %d jobs, %v", len(res.Jobs), err)
		}
	}
}

// TestResolveSweep: a sweep of another project, or none, is an
// *UnknownSweepError that offers the latest sweeps of the project asked
// for, newest first.
func TestResolveSweep(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	def := []byte(`{}`)
	for _, name := range []string{"a", "b"} {
		if _, err := db.Submit(ctx, sweepJobs(1), SubmitOptions{Sweep: &NewSweep{Name: name, Definition: def}}); err != nil {
			t.Fatal(err)
		}
	}
	if sw, err := db.ResolveSweep(ctx, "b", "p"); err != nil || sw.ID != 2 {
		t.Errorf("ResolveSweep(b, p) = %+v, %v; want sweep 2", sw, err)
	}
	tests := []struct {
		idOrName, project string
		msg               string
		elsewhere         bool
		latest            int
	}{
		{"c", "", `no sweep "c" in the queue`, false, 2},
		{"c", "p", `no sweep "c" in project "p"`, false, 2},
		{"a", "q", `sweep "a" is in project "p", not "q"`, true, 0},
	}
	for _, tt := range tests {
		_, err := db.ResolveSweep(ctx, tt.idOrName, tt.project)
		var e *UnknownSweepError
		if !errors.As(err, &e) || !errors.Is(err, ErrSweepNotFound) || e.Error() != tt.msg ||
			(e.Elsewhere != nil) != tt.elsewhere || len(e.Latest) != tt.latest || (tt.latest > 0 && e.Latest[0].Name != "b") {
			t.Errorf("ResolveSweep(%s, %s) error = %#v; want %q, elsewhere %v, %d latest, b first", tt.idOrName, tt.project, err, tt.msg, tt.elsewhere, tt.latest)
		}
	}
	if names, err := db.SweepNames(ctx); err != nil || len(names) != 2 || names[1] != "a" {
		t.Errorf("SweepNames = %v, %v; want 1: a, 2: b", names, err)
	}
}
