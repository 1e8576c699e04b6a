package db

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

func TestSubmitDuplicates(t *testing.T) {
	tests := []struct {
		name   string
		first  []string // specs queued first, project p
		then   []string // specs submitted next, project p
		dedupe bool
		// wantDup[i] lists the job ids then[i] duplicates: first gets ids
		// 1, 2, …, then the job in project "other", then the jobs of then
		// that are not skipped.
		wantDup  [][]int64
		wantJobs int // rows in jobs at the end
	}{
		{
			name: "key order and layout do not matter", first: []string{`{"a":1,"b":[1,2]}`},
			then:    []string{"{ \"b\": [1, 2],\n \"a\": 1 }"},
			wantDup: [][]int64{{1}}, wantJobs: 2,
		},
		{
			name: "escapes do not matter", first: []string{`{"a":"é"}`},
			then:    []string{`{"a":"\u00e9"}`},
			wantDup: [][]int64{{1}}, wantJobs: 2,
		},
		{
			name: "different values are not duplicates", first: []string{`{"a":1}`},
			then:    []string{`{"a":2}`, `{"a":1.0}`, `{"a":"1"}`},
			wantDup: [][]int64{nil, nil, nil}, wantJobs: 4,
		},
		{
			name: "every earlier copy is named", first: []string{`{"a":1}`, `{"a":1}`},
			then:    []string{`{"a":1}`},
			wantDup: [][]int64{{1, 2}}, wantJobs: 3,
		},
		{
			name: "duplicates within one submission", first: nil,
			then:    []string{`{"a":1}`, `{"a":1}`},
			wantDup: [][]int64{nil, {2}}, wantJobs: 2,
		},
		{
			name: "dedupe skips", first: []string{`{"a":1}`},
			then: []string{`{"a":1}`, `{"a":2}`, `{"a":2}`}, dedupe: true,
			wantDup: [][]int64{{1}, nil, {3}}, wantJobs: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			ctx := context.Background()
			for _, s := range tt.first {
				if _, err := db.SubmitJobs(ctx, []NewJob{{Project: "p", Script: "s.py", Spec: []byte(s)}}); err != nil {
					t.Fatal(err)
				}
			}
			// The same spec in another project is never a duplicate.
			if _, err := db.SubmitJobs(ctx, []NewJob{{Project: "other", Script: "s.py", Spec: []byte(`{"a":1}`)}}); err != nil {
				t.Fatal(err)
			}
			var jobs []NewJob
			for _, s := range tt.then {
				jobs = append(jobs, NewJob{Project: "p", Script: "s.py", Spec: []byte(s)})
			}
			res, err := db.Submit(ctx, jobs, SubmitOptions{Dedupe: tt.dedupe})
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range res.Jobs {
				if fmt.Sprint(s.Duplicates) != fmt.Sprint(tt.wantDup[i]) {
					t.Errorf("job %d duplicates = %v, want %v", i, s.Duplicates, tt.wantDup[i])
				}
				if skipped := tt.dedupe && len(tt.wantDup[i]) > 0; s.Skipped != skipped || (s.JobID == 0) != skipped {
					t.Errorf("job %d = %+v, want skipped %v", i, s, skipped)
				}
			}
			if n := countRows(t, db, "jobs") - 1; n != tt.wantJobs {
				t.Errorf("jobs in p = %d, want %d", n, tt.wantJobs)
			}
			if n, o := countRows(t, db, "jobs"), countRows(t, db, "orders"); n != o {
				t.Errorf("%d jobs but %d orders", n, o)
			}
		})
	}
}

func TestSpecHashOfOldJobs(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	if _, err := db.SubmitJobs(ctx, []NewJob{{Project: "p", Script: "s.py", Spec: []byte(`{"a":1,"b":2}`)}}); err != nil {
		t.Fatal(err)
	}
	// As a job queued before schema version 5 added the column.
	if _, err := db.sql.Exec(`UPDATE jobs SET spec_hash = NULL`); err != nil {
		t.Fatal(err)
	}
	res, err := db.Submit(ctx, []NewJob{{Project: "p", Script: "s.py", Spec: []byte(`{"b":2,"a":1}`)}}, SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.Jobs[0].Duplicates); got != "[1]" {
		t.Errorf("duplicates = %s, want [1]: the old job's hash is filled in before the check", got)
	}
	var unhashed int
	if err := db.sql.QueryRow(`SELECT COUNT(*) FROM jobs WHERE spec_hash IS NULL`).Scan(&unhashed); err != nil || unhashed != 0 {
		t.Errorf("unhashed jobs = %d, %v; want 0", unhashed, err)
	}
}

func TestSpecHash(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{name: "key order", a: `{"a":1,"b":{"c":2,"d":3}}`, b: `{"b":{"d":3,"c":2},"a":1}`, same: true},
		{name: "whitespace", a: `{"a":[1,2]}`, b: "{\n  \"a\": [ 1, 2 ]\n}\n", same: true},
		{name: "array order matters", a: `{"a":[1,2]}`, b: `{"a":[2,1]}`},
		{name: "number text matters", a: `{"a":0.1}`, b: `{"a":0.10}`},
		{name: "big integers exact", a: `{"a":12345678901234567890}`, b: `{"a":12345678901234567891}`},
		{name: "not JSON", a: `{"a":`, b: `{"a": `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ha, hb := SpecHash([]byte(tt.a)), SpecHash([]byte(tt.b))
			if bytes.Equal(ha, hb) != tt.same || len(ha) != 16 {
				t.Errorf("SpecHash(%s) = %x, SpecHash(%s) = %x; want same = %v", tt.a, ha, tt.b, hb, tt.same)
			}
		})
	}
}
