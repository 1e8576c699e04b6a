package jobinput

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/fieldcheck"
)

// submitted is a sweep of three jobs over lr, the second skipped by
// --dedupe as identical to job 7, the third identical to the first.
func submitted() (*Batch, db.SubmitResult) {
	job := func(lr, where string) Job {
		return Job{NewJob: db.NewJob{Project: "p", Script: "nn.py"}, Where: where, Values: []json.RawMessage{json.RawMessage(lr)}}
	}
	b := &Batch{Jobs: []Job{job(`0.1`, "a.json"), job(`"x"`, "b.json"), job(`0.1`, "c.json")}, Paths: []string{"lr"}}
	res := db.SubmitResult{Jobs: []db.Submitted{
		{JobID: 10, OrderID: 20},
		{Skipped: true, Duplicates: []int64{7}},
		{JobID: 11, OrderID: 21, Duplicates: []int64{10}},
	}}
	return b, res
}

func TestBatchTable(t *testing.T) {
	b, res := submitted()
	tbl, rows := b.Table(res, false)
	want := [][]string{{"10", "20", "p", "nn.py", "0.1", "a.json"}, {"11", "21", "p", "nn.py", "0.1", "c.json"}}
	if !reflect.DeepEqual(tbl.Rows, want) || len(tbl.Headers) != 6 || tbl.Headers[4] != "lr" {
		t.Errorf("Table = %v %q, want headers with lr and rows %q", tbl.Headers, tbl.Rows, want)
	}
	if q := rows.([]QueuedRow); len(q) != 2 || string(q[1].Values["lr"]) != "0.1" {
		t.Errorf("rows = %+v, want 2 with their values", q)
	}
	tbl, rows = b.Table(res, true)
	want = [][]string{{"1", "p", "nn.py", "0.1", "a.json"}, {"3", "p", "nn.py", "0.1", "c.json"}}
	if !reflect.DeepEqual(tbl.Rows, want) || rows.([]DryRunRow)[1].Index != 3 {
		t.Errorf("dry run Table = %q, rows %+v; want rows %q", tbl.Rows, rows, want)
	}
	if _, rows := (&Batch{}).Table(db.SubmitResult{}, false); rows.([]QueuedRow) == nil {
		t.Error("rows of an empty submit are nil, want [] for -o json")
	}
	if got := valueTexts([]json.RawMessage{json.RawMessage(`"x"`), json.RawMessage(`[1]`)}); !reflect.DeepEqual(got, []string{"x", "[1]"}) {
		t.Errorf("valueTexts = %q, want strings unquoted", got)
	}
}

func TestBatchDuplicates(t *testing.T) {
	b, res := submitted()
	want := []Duplicate{
		{Skipped: true, Job: "job 0", Of: "7", Project: "p"},
		{Job: "job 11", Of: "10", Project: "p"},
	}
	if got := b.Duplicates(res, false); !reflect.DeepEqual(got, want) {
		t.Errorf("Duplicates = %+v, want %+v", got, want)
	}
	want[0].Job, want[1].Job, want[1].Of = "this job", "this job", "#1 of this submit"
	if got := b.Duplicates(res, true); !reflect.DeepEqual(got, want) {
		t.Errorf("dry run Duplicates = %+v, want %+v", got, want)
	}
}

// TestWriteNotes: the duplicates and the count, and undeclared fields
// named up to maxListed, then counted.
func TestWriteNotes(t *testing.T) {
	b, res := submitted()
	for i := range maxListed + 2 {
		b.Warnings = append(b.Warnings, fieldcheck.Warning{Msg: fmt.Sprintf("field %d", i), First: "a.json", Jobs: 1})
	}
	var out strings.Builder
	b.WriteNotes(&out, res, false, 2)
	got := out.String()
	for _, want := range []string{
		"Warning: a.json: field 9\n",
		"Warning: and 2 more undeclared field(s)\n",
		"pass --strict to refuse such jobs\n",
		"Skipped a job identical to job 7 in project p\n",
		"Warning: job 11 is identical to job 10 in project p\n",
		"Queued 2 job(s).",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("notes lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "field 10") {
		t.Errorf("notes name more than %d fields:\n%s", maxListed, got)
	}
	out.Reset()
	b.WriteNotes(&out, res, true, 0)
	if !strings.HasSuffix(out.String(), "Dry run: would queue 0 job(s): every job is in the queue already; nothing was written.\n") {
		t.Errorf("dry run notes:\n%s", out.String())
	}
}
