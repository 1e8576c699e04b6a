package db

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func TestSubmitJobsAllOrNone(t *testing.T) {
	good := NewJob{Project: "p", Script: "nn.py", Spec: []byte(`{}`)}
	tests := []struct {
		name string
		jobs []NewJob
	}{
		{name: "nil spec in the middle", jobs: []NewJob{good, {Project: "p", Script: "nn.py"}, good}},
		{name: "nil spec last", jobs: []NewJob{good, good, {Project: "p", Script: "nn.py", Spec: nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			sub, err := db.SubmitJobs(context.Background(), tt.jobs)
			if err == nil {
				t.Fatalf("SubmitJobs = %v, want a NOT NULL error", sub)
			}
			for _, table := range []string{"jobs", "orders"} {
				if n := countRows(t, db, table); n != 0 {
					t.Errorf("%s has %d rows after a failed submit, want 0", table, n)
				}
			}
		})
	}
}

func TestSubmitJobs(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	jobs := []NewJob{
		{Project: "wine", Script: "nn.py", DataFile: "wine.csv", Priority: 3, Spec: []byte(`{"a":1}`)},
		{Project: "iris", Script: "rf.py", Spec: []byte(`{"b":2}`)},
	}
	sub, err := db.SubmitJobs(ctx, jobs)
	if err != nil {
		t.Fatal(err)
	}
	if len(sub) != len(jobs) {
		t.Fatalf("got %d submitted, want %d", len(sub), len(jobs))
	}
	for i, s := range sub {
		t.Run(jobs[i].Project, func(t *testing.T) {
			j, err := db.Job(ctx, s.JobID)
			if err != nil {
				t.Fatal(err)
			}
			want := jobs[i]
			if j.Project != want.Project || j.Script != want.Script || j.DataFile != want.DataFile || j.Priority != want.Priority {
				t.Errorf("job = %+v, want fields of %+v", j, want)
			}
			o := mustOrder(t, db, s.JobID)
			if o.ID != s.OrderID || o.State != StateUnassigned || o.Priority != want.Priority || o.Attempt != 0 || o.Project != want.Project {
				t.Errorf("order = %+v, want unassigned order %d at priority %d", o, s.OrderID, want.Priority)
			}
		})
	}
	if n, err := db.CountUnassigned(ctx); err != nil || n != 2 {
		t.Errorf("CountUnassigned = %d, %v; want 2", n, err)
	}
}

func TestSpecVerbatim(t *testing.T) {
	tests := []struct {
		name string
		spec string
	}{
		{name: "whitespace and newlines", spec: "{\n  \"projectName\" :  \"wine\",\t\"x\": [1, 2 ]\n}\n"},
		{name: "key order", spec: `{"z":1,"a":2,"m":{"y":true,"b":null}}`},
		{name: "unicode", spec: `{"name":"Überprüfung 学习 🚀","esc":"\u00e9"}`},
		{name: "big and exact numbers", spec: `{"seed":12345678901234567890,"lr":1e-3,"x":0.10}`},
		{name: "empty object", spec: `{}`},
	}
	db := MustOpenDB(t)
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := db.SubmitJobs(ctx, []NewJob{{Project: "p", Script: "s.py", Spec: []byte(tt.spec)}})
			if err != nil {
				t.Fatal(err)
			}
			j, err := db.Job(ctx, sub[0].JobID)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(j.Spec, []byte(tt.spec)) {
				t.Errorf("Job spec = %q, want %q", j.Spec, tt.spec)
			}
			c := mustClaim(t, db, "h")
			if !bytes.Equal(c.Job.Spec, []byte(tt.spec)) {
				t.Errorf("claimed spec = %q, want %q", c.Job.Spec, tt.spec)
			}
		})
	}
}

func TestJobNotFound(t *testing.T) {
	db := MustOpenDB(t)
	_, err := db.Job(context.Background(), 12345)
	if !errors.Is(err, ErrJobNotFound) {
		t.Errorf("Job(12345) error = %v, want ErrJobNotFound", err)
	}
}
