package jobinput

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mljob/mljob/internal/db"
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
