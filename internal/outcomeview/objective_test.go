package outcomeview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/objective"
)

var (
	cvMse = objective.Objective{Name: "cvMse", Goal: objective.Minimize}
	acc   = objective.Objective{Name: "val.acc", Goal: objective.Maximize}
)

func TestObjectiveValue(t *testing.T) {
	tests := []struct {
		name   string
		obj    objective.Objective
		stored *float64
		loss   *float64
		js     string
		want   string // FormatNumber of the value, "<nil>" for none
	}{
		{"stored", cvMse, ptrTo(8.5), nil, `{"cvMse": 8.5}`, "8.5"},
		{"stored infinity", cvMse, ptrTo(math.Inf(1)), nil, `{"cvMse": "inf"}`, "+Inf"},
		{"NaN in the line", cvMse, nil, nil, `{"cvMse": "nan"}`, "NaN"},
		{"dotted path", acc, nil, nil, `{"val": {"acc": "NaN"}}`, "NaN"},
		{"not reported", cvMse, nil, nil, `{"loss": 1}`, "<nil>"},
		{"not a number", cvMse, nil, nil, `{"cvMse": "high"}`, "<nil>"},
		{"invalid line", cvMse, nil, nil, `{"cvMse": "nan"`, "<nil>"},
		{"no line", cvMse, nil, nil, ``, "<nil>"},
		{"loss's NaN, filled", objective.Default, nil, ptrTo(math.NaN()), `{"loss": "NaN"}`, "NaN"},
		{"no objective is loss:min", objective.Objective{}, nil, ptrTo(math.Inf(-1)), `{"loss": "-inf"}`, "-Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &db.OutcomeRow{Outcome: db.Outcome{Loss: tt.loss, JSON: []byte(tt.js)}, Objective: tt.obj,
				ObjectiveValue: tt.stored}
			got := "<nil>"
			if v := ObjectiveValue(r); v != nil {
				got = FormatNumber(v, FormatTable)
			}
			if got != tt.want {
				t.Errorf("ObjectiveValue = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRankingNote(t *testing.T) {
	one := ObjectiveCounts{{cvMse, 8}}
	two := ObjectiveCounts{{cvMse, 8}, {objective.Default, 1}}
	maxOne := ObjectiveCounts{{acc, 3}}
	tests := []struct {
		name, sort, format string
		objs               ObjectiveCounts
		want               string
	}{
		{"none", "objective", FormatTable, nil, ""},
		{"one", "objective", FormatTable, one, "Ranked by cvMse, lower is better."},
		{"one, maximized", "objective", FormatTable, maxOne, "Ranked by val.acc, higher is better."},
		{"one, worst first", "-objective", FormatTable, maxOne, "Ranked by val.acc, worst first (higher is better)."},
		{"one, by loss", "-loss", FormatTable, one, "Sorted by -loss; the objective is cvMse, lower is better."},
		{"one, unsorted", "", FormatTable, one, "The objective is cvMse, lower is better."},
		{"one in CSV: nothing", "objective", FormatCSV, one, ""},
		{"one in JSON: nothing", "objective", FormatJSON, one, ""},
		{"two", "objective", FormatTable, two,
			"2 objectives among these rows (cvMse:min 8 runs, loss:min 1 run): ranked within each, never across."},
		{"two in CSV too", "-objective", FormatCSV, two,
			"2 objectives among these rows (cvMse:min 8 runs, loss:min 1 run): ranked within each, never across."},
		{"two by metric", "metric", FormatJSON, two,
			"2 objectives among these rows (cvMse:min 8 runs, loss:min 1 run): compare runs within one objective, never across."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RankingNote(tt.objs, tt.sort, tt.format); got != tt.want {
				t.Errorf("RankingNote = %q, want %q", got, tt.want)
			}
		})
	}
}

// objectiveRows are two sweeps of two objectives as the database orders
// them by "objective": a job field named loss, beside the outcome's.
func objectiveRows() []*db.OutcomeRow {
	row := func(job int64, sweep int64, obj objective.Objective, value float64, spec string) *db.OutcomeRow {
		return &db.OutcomeRow{
			Outcome: db.Outcome{ID: job, OrderID: job, JobID: job, Attempt: 1, Host: "h", Succeeded: true,
				Loss: ptrTo(value), Metric: ptrTo(value), DurationSeconds: 1, JSON: []byte(`{"status": 200}`)},
			Project: "p", SweepID: sweep, Spec: []byte(spec), Objective: obj, ObjectiveValue: ptrTo(value),
		}
	}
	return []*db.OutcomeRow{
		row(2, 1, cvMse, 0.5, `{"projectName":"p","lr":0.1,"loss":"huber"}`),
		row(1, 1, cvMse, 2, `{"projectName":"p","lr":0.2,"loss":"huber"}`),
		row(4, 2, acc, 0.9, `{"projectName":"p","lr":0.1,"loss":"mse","opt":{"name":"adam"}}`),
		row(3, 2, acc, 0.7, `{"projectName":"p","lr":0.3,"loss":"mse","opt":{"name":"sgd"}}`),
	}
}

func feedRows(rows []*db.OutcomeRow) <-chan []*db.OutcomeRow {
	ch := make(chan []*db.OutcomeRow, 1)
	ch <- rows
	close(ch)
	return ch
}

func TestOutcomesTableObjectives(t *testing.T) {
	tests := []struct {
		name   string
		rows   []*db.OutcomeRow
		format string
		want   string
	}{
		{"one objective", objectiveRows()[:2], FormatTable, `
 JOB  ORDER  STATUS     cvMse:min  LOSS  METRIC  HOST  DURATION  lr  
   2      2  succeeded        0.5   0.5     0.5  h        1.00s  0.1 
   1      1  succeeded          2     2       2  h        1.00s  0.2 
`},
		{"two objectives: a table each", objectiveRows(), FormatTable, `
 JOB  ORDER  STATUS     cvMse:min  LOSS  METRIC  HOST  DURATION  job.loss  lr   opt.name 
   2      2  succeeded        0.5   0.5     0.5  h        1.00s  huber     0.1  -        
   1      1  succeeded          2     2       2  h        1.00s  huber     0.2  -        

 JOB  ORDER  STATUS     val.acc:max  LOSS  METRIC  HOST  DURATION  job.loss  lr   opt.name 
   4      4  succeeded          0.9   0.9     0.9  h        1.00s  mse       0.1  adam     
   3      3  succeeded          0.7   0.7     0.7  h        1.00s  mse       0.3  sgd      
`},
		{"CSV: every job field, each name once", objectiveRows(), FormatCSV, `
jobId,orderId,state,objective,goal,objectiveValue,loss,metric,host,durationSeconds,job.loss,job.lr,job.projectName,job.opt.name
2,2,succeeded,cvMse,minimize,0.5,0.5,0.5,h,1.000,huber,0.1,p,
1,1,succeeded,cvMse,minimize,2,2,2,h,1.000,huber,0.2,p,
4,4,succeeded,val.acc,maximize,0.9,0.9,0.9,h,1.000,mse,0.1,p,adam
3,3,succeeded,val.acc,maximize,0.7,0.7,0.7,h,1.000,mse,0.3,p,sgd
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := BuildTable(feedRows(tt.rows), tt.format)
			var out bytes.Buffer
			if err := tbl.Write(&out); err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimPrefix(tt.want, "\n"); out.String() != want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), want)
			}
			seen := map[string]bool{}
			for _, k := range tbl.Keys {
				if seen[k] {
					t.Errorf("column %q twice in %q", k, tbl.Keys)
				}
				seen[k] = true
			}
		})
	}
}

func TestWriteConfigs(t *testing.T) {
	rows := objectiveRows()
	rows = []*db.OutcomeRow{rows[0], rows[2]}
	rows[1].SweepID = 0
	tbl := BuildTable(feedRows(rows), FormatTable)
	var out bytes.Buffer
	if err := tbl.WriteConfigs(&out, map[int64]string{1: "grid"}); err != nil {
		t.Fatal(err)
	}
	want := `
Job 2: the best run of project p, sweep grid, by cvMse:min. Every field of its job:
 FIELD        VALUE 
 projectName  p     
 lr           0.1   
 loss         huber 

Job 4: the best run of project p outside any sweep, by val.acc:max. Every field of its job:
 FIELD        VALUE 
 projectName  p     
 lr           0.1   
 loss         mse   
 opt.name     adam  
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestEncoderWithJob: outcomes' objects (WithJob) carry the objective and
// the job's fields, which win over a script's keys of those names; show's
// carry only the value, and keep the script's own "objective".
func TestEncoderWithJob(t *testing.T) {
	r := objectiveRows()[2]
	r.JSON = []byte(`{"status": 200, "objective": "theirs", "job.lr": "theirs", "val": {"acc": 0.9}}`)
	tests := []struct {
		withJob bool
		want    map[string]string
	}{
		{true, map[string]string{"objective": `"val.acc"`, "goal": `"maximize"`, "objectiveValue": "0.9",
			"job.lr": "0.1", "job.loss": `"mse"`, "job.opt.name": `"adam"`}},
		{false, map[string]string{"objective": `"theirs"`, "goal": "", "objectiveValue": "0.9", "job.lr": `"theirs"`,
			"job.loss": "", "job.opt.name": ""}},
	}
	for _, tt := range tests {
		enc := Encoder{WithJob: tt.withJob}
		obj, err := enc.Object(r)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(obj, &got); err != nil {
			t.Fatalf("invalid JSON %s: %v", obj, err)
		}
		for k, want := range tt.want {
			if string(got[k]) != want {
				t.Errorf("WithJob %v: %s = %s, want %s", tt.withJob, k, got[k], want)
			}
		}
	}
}

// TestJobObjective: show names the job's objective and each outcome's
// value of it, or says it was not reported.
func TestJobObjective(t *testing.T) {
	h := &db.JobHistory{
		Job:    db.Job{ID: 7, Project: "p", Script: "s.py", Spec: []byte(`{}`), Objective: acc},
		Orders: []db.Order{{ID: 7, Attempt: 2}},
		Attempts: [][]db.Attempt{{{Attempt: 1, State: db.StateFailed, Host: "h"},
			{Attempt: 2, State: db.StateSucceeded, Host: "h"}}},
		Outcomes: []db.OutcomeRow{
			{Outcome: db.Outcome{OrderID: 7, Attempt: 1, JSON: []byte(`{"status": 500}`)}, Objective: acc},
			{Outcome: db.Outcome{OrderID: 7, Attempt: 2, Succeeded: true, JSON: []byte(`{"val": {"acc": 0.75}}`)},
				Objective: acc, ObjectiveValue: ptrTo(0.75)},
		},
	}
	j, err := NewJob(h)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := j.Write(&out, FormatTable); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"Objective: val.acc:max (higher is better)\n",
		"Outcome of order 7 attempt 1, val.acc not reported:\n", "Outcome of order 7 attempt 2, val.acc 0.75:\n"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("show lacks %q:\n%s", line, out.String())
		}
	}
	var js struct {
		Objective objective.Objective `json:"objective"`
		Outcomes  []map[string]any    `json:"outcomes"`
	}
	out.Reset()
	if err := j.Write(&out, FormatJSON); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	if js.Objective != acc || len(js.Outcomes) != 2 || js.Outcomes[0]["objectiveValue"] != nil ||
		js.Outcomes[1]["objectiveValue"] != 0.75 {
		t.Errorf("JSON objective %+v, outcomes %v", js.Objective, js.Outcomes)
	}
}

// TestBuildTableHidden: the table shows MaxParamColumns of the job fields
// that vary and counts the rest; the CSV has every job field.
func TestBuildTableHidden(t *testing.T) {
	var rows []*db.OutcomeRow
	for i := range 3 {
		spec := fmt.Sprintf(`{"same":1,"f0":%d,"f1":%d,"f2":%d,"f3":%d,"f4":%d,"f5":%d,"f6":%d,"f7":%d,"f8":%d,"f9":%d}`,
			i, i, i, i, i, i, i, i, i, i)
		rows = append(rows, &db.OutcomeRow{Outcome: db.Outcome{JobID: int64(i + 1), Succeeded: true}, Spec: []byte(spec)})
	}
	tbl := BuildTable(feedRows(rows), FormatTable)
	if tbl.Hidden != 2 || len(tbl.Headers) != tableBuiltins+MaxParamColumns {
		t.Errorf("table: %d hidden, headers %q; want 2 hidden and %d job fields", tbl.Hidden, tbl.Headers, MaxParamColumns)
	}
	csv := BuildTable(feedRows(rows), FormatCSV)
	if csv.Hidden != 0 || len(csv.Keys) != csvBuiltins+11 || !slices.Contains(csv.Keys, "job.same") {
		t.Errorf("CSV: %d hidden, keys %q; want every job field", csv.Hidden, csv.Keys)
	}
}
