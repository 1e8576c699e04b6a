package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/jobfields"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/outcomeview"
	"github.com/mljob/mljob/internal/render"
	"github.com/mljob/mljob/internal/testutil"
)

// ptrTo returns a pointer to v.
func ptrTo[T any](v T) *T { return &v }

// tinyRows are outcome rows that cover what the JSON and CSV forms have to
// get right: NaN and missing numbers, a failure with an error, a script
// whose fields clash with mljob's, nested values, invalid JSON, and specs
// whose fields vary.
func tinyRows() []*db.OutcomeRow {
	at := time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.UTC)
	return []*db.OutcomeRow{
		{
			Outcome: db.Outcome{ID: 1, OrderID: 1, JobID: 1, Attempt: 1, Host: "gpu1", Succeeded: true,
				Status: ptrTo(0), Loss: ptrTo(0.125), Metric: ptrTo(0.9), ExitCode: ptrTo(0), DurationSeconds: 12.3456,
				JSON: []byte(`{"status": 0, "loss": 0.125, "hist": [1, 2.50, {"a": []}], "note": "<b>&amp;\u2028"}`), CreatedAt: at},
			Project: "wine", Spec: []byte(`{"projectName":"wine","lr":0.1,"layers":[64,32],"opt":{"name":"adam"}}`),
			ObjectiveValue: ptrTo(0.125),
		},
		{
			Outcome: db.Outcome{ID: 2, OrderID: 2, JobID: 2, Attempt: 2, Host: "żółć", Succeeded: false,
				Loss: ptrTo(math.NaN()), Metric: nil, DurationSeconds: 75.5, Error: "exit status 1:\n\tZeroDivisionError",
				JSON: []byte(`{"jobId": 99, "error": "theirs", "zeta": null, "alpha": {}}`), CreatedAt: at.Add(time.Minute)},
			Project: "wine", Spec: []byte(`{"projectName":"wine","lr":0.01,"layers":[64],"opt":{"name":"adam"},"seed":7}`),
		},
		{
			Outcome: db.Outcome{ID: 3, OrderID: 3, JobID: 3, Attempt: 1, Host: "h", Succeeded: true,
				Loss: ptrTo(math.Inf(-1)), Metric: ptrTo(1e-7), ExitCode: nil, DurationSeconds: 3600,
				JSON: []byte(`not json`), CreatedAt: at.Add(time.Hour)},
			Project: "wine", Spec: []byte(`{"projectName":"wine","lr":1e-3,"layers":[],"opt":{"name":"sgd, \"fast\""}}`),
		},
		{
			// As the database gives a NaN loss (NULL: SQLite has no NaN) and
			// an infinite metric the script wrote as Python does.
			Outcome: db.Outcome{ID: 4, OrderID: 4, JobID: 4, Attempt: 1, Host: "h", Succeeded: true,
				Status: ptrTo(200), DurationSeconds: 1,
				JSON: []byte(`{"status": 200, "loss": "NaN", "metric": "Infinity"}`), CreatedAt: at.Add(2 * time.Hour)},
			// A job field named like a built-in, beside the outcome's.
			Project: "wine", Spec: []byte(`{"projectName":"wine","lr":0.5,"loss":"huber","a.b":{"c":[]}}`),
			Objective: objective.Default,
		},
		{
			// Stopped by its pruner: no Outcome line, the verdict as its
			// error, its state pruned (from its attempt).
			Outcome: db.Outcome{ID: 5, OrderID: 5, JobID: 5, Attempt: 1, Host: "h", DurationSeconds: 9,
				Error:     "pruned at step 9 (rung 2): loss 0.53 ranked 5 of 7, the cutoff was 0.41 (asha:minStep=1,reduction=3,minEarlyStoppingRate=0)",
				CreatedAt: at.Add(3 * time.Hour)},
			Project: "wine", Spec: []byte(`{"projectName":"wine","lr":0.2,"layers":[64,32],"opt":{"name":"adam"}}`),
			Objective: objective.Default, Pruned: true,
		},
	}
}

// feed sends rows in batches of two, their non-finite loss and metric
// filled in, as the reader would.
func feed(rows []*db.OutcomeRow) <-chan []*db.OutcomeRow {
	for _, r := range rows {
		outcomeview.Fill(r)
	}
	ch := make(chan []*db.OutcomeRow, len(rows)+1)
	for b := range slices.Chunk(rows, 2) {
		ch <- b
	}
	close(ch)
	return ch
}

// outcomeJSON is the reference the encoder is held to: the script's
// Outcome JSON (verbatim) merged with mljob's own fields, which win on a
// clash, as a map for encoding/json.
func outcomeJSON(r db.OutcomeRow, state string) map[string]any {
	outcomeview.Fill(&r)
	m := map[string]any{}
	if len(r.JSON) > 0 {
		var script map[string]json.RawMessage
		if json.Unmarshal(r.JSON, &script) == nil {
			for k, v := range script {
				m[k] = v
			}
		}
	}
	for path, v := range flattenJob(r.Spec) {
		m["job."+path] = v
	}
	obj := outcomeview.ObjectiveOf(&r)
	m["objective"] = obj.Name
	m["goal"] = obj.Goal
	m["objectiveValue"] = jsonNumber(outcomeview.ObjectiveValue(&r))
	m["jobId"] = r.JobID
	m["orderId"] = r.OrderID
	m["attempt"] = r.Attempt
	m["projectName"] = r.Project
	m["state"] = state
	m["status"] = r.Status
	if r.Status == nil {
		// The seed's convention for a run that said nothing: 500.
		s := 500
		if r.Succeeded {
			s = 200
		}
		m["status"] = s
	}
	m["loss"] = jsonNumber(r.Loss)
	m["metric"] = jsonNumber(r.Metric)
	m["host"] = r.Host
	m["exitCode"] = r.ExitCode
	m["durationSeconds"] = math.Round(r.DurationSeconds*1000) / 1000
	m["finishedAt"] = r.CreatedAt.UTC().Format(time.RFC3339)
	delete(m, "error")
	delete(m, "superseded")
	delete(m, "outcomeWarning")
	if r.Error != "" {
		m["error"] = r.Error
	}
	if r.Superseded != "" {
		m["superseded"] = r.Superseded
	}
	if r.Warning != "" {
		m["outcomeWarning"] = r.Warning
	}
	return m
}

// flattenJob is the reference the job fields are held to: spec decoded by
// encoding/json, each leaf under its dotted path (a key's dots escaped),
// an empty array or object below the top as itself.
func flattenJob(spec []byte) map[string]any {
	out := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return out
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		join := func(k string) string {
			if prefix == "" {
				return k
			}
			return prefix + "." + k
		}
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 && prefix != "" {
				out[prefix] = json.RawMessage("{}")
			}
			for k, e := range x {
				walk(join(string(jobfields.AppendKey(nil, k))), e)
			}
		case []any:
			if len(x) == 0 {
				out[prefix] = json.RawMessage("[]")
			}
			for i, e := range x {
				walk(join(strconv.Itoa(i)), e)
			}
		default:
			out[prefix] = x
		}
	}
	walk("", v)
	return out
}

// jsonNumber writes non-finite floats as strings, as JSON has no NaN.
func jsonNumber(f *float64) any {
	if f == nil {
		return nil
	}
	if math.IsNaN(*f) || math.IsInf(*f, 0) {
		return strconv.FormatFloat(*f, 'g', -1, 64)
	}
	return *f
}

// wantJSON is what renderJSON writes for rows' outcomeJSON maps: the output
// before the hand-rolled encoder.
func wantJSON(tb testing.TB, rows []*db.OutcomeRow) string {
	tb.Helper()
	objs := make([]map[string]any, 0, len(rows))
	for _, r := range rows {
		state := "succeeded"
		switch {
		case r.Pruned:
			state = "pruned"
		case !r.Succeeded:
			state = "failed"
		}
		objs = append(objs, outcomeJSON(*r, state))
	}
	var buf bytes.Buffer
	if err := render.JSON(&buf, objs); err != nil {
		tb.Fatal(err)
	}
	return buf.String()
}

func TestOutcomesJSONMatchesEncodingJSON(t *testing.T) {
	base := tinyRows()[0]
	with := func(js string) []*db.OutcomeRow {
		r := *base
		r.JSON = []byte(js)
		return []*db.OutcomeRow{&r}
	}
	tests := []struct {
		name string
		rows []*db.OutcomeRow
	}{
		{"none", nil},
		{"tiny rows", tinyRows()},
		{"no script JSON", with(``)},
		{"null", with(`null`)},
		{"array", with(`[1, 2]`)},
		{"string", with(`"x"`)},
		{"trailing garbage", with(`{"a": 1} x`)},
		{"duplicate keys", with(`{"b": 1, "a": 2, "b": {"c": 3}}`)},
		{"escaped keys", with(`{"\u0061": 1, "a": 2, "tab\tkey": 3, "\u00e9": 4, "\ud83d\ude00": 5}`)},
		{"invalid UTF-8 key", with("{\"k\xff\": 1, \"\xe2\x80\xa8\": 2}")},
		{"keys around ours", with(`{"": 0, "Z": 1, "attemptz": 2, "host": "theirs", "zz": [[], {}, [{"x": [1]}]]}`)},
		{"whitespace", with(" \n\t{ \"a\" :\n [ 1 , 2 ] , \"b\" : { } }\r\n")},
		{"raw strings kept", with(`{"s": "<&>\u2028 \/ é", "n": 1.0E+2}`)},
		{"deep", with(`{"a": {"b": {"c": {"d": [true, false, null, -0.0]}}}}`)},
		{"superseded", func() []*db.OutcomeRow {
			rows := tinyRows()[:2]
			rows[0].Superseded = "attempt 2's outcome counts"
			rows[0].JSON = []byte(`{"superseded": "theirs", "tail": 1}`)
			return rows
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			if _, err := outcomeview.WriteJSON(&got, feed(tt.rows)); err != nil {
				t.Fatal(err)
			}
			if want := wantJSON(t, tt.rows); got.String() != want {
				t.Errorf("outcomeview.WriteJSON differs from encoding/json:\n--- encoding/json\n%s--- got\n%s", want, got.String())
			}
		})
	}
}

// TestOutcomesGolden pins the table, JSON and CSV forms of tinyRows (run
// with -update to rewrite testdata/outcomes/, then review the diff).
func TestOutcomesGolden(t *testing.T) {
	for _, format := range render.Formats {
		t.Run(format, func(t *testing.T) {
			var out, errOut bytes.Buffer
			opts := &outcomesOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}}, output: format,
				filter: db.OutcomeFilter{Sort: defaultSort}}
			if err := opts.listing(nil).Write(feed(tinyRows())); err != nil {
				t.Fatal(err)
			}
			// One objective: the table says which, the data formats say nothing.
			wantErr := ""
			if format == render.FormatTable {
				wantErr = "Ranked by loss, lower is better.\n"
			}
			if errOut.String() != wantErr {
				t.Errorf("stderr = %q, want %q", errOut.String(), wantErr)
			}
			checkGolden(t, filepath.Join("outcomes", "tiny."+format), out.Bytes())
		})
	}
}

func TestOutcomesTableEmpty(t *testing.T) {
	tests := []struct {
		format, out, errOut string
	}{
		{render.FormatTable, "", "No outcomes yet. Run queued jobs with: mljob dispatch\n"},
		{render.FormatCSV, "jobId,orderId,state,objective,goal,objectiveValue,loss,metric,host,durationSeconds\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var out, errOut bytes.Buffer
			opts := &outcomesOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}}, output: tt.format}
			if err := opts.listing(nil).Write(feed(nil)); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.out || errOut.String() != tt.errOut {
				t.Errorf("got %q, %q; want %q, %q", out.String(), errOut.String(), tt.out, tt.errOut)
			}
		})
	}
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// mustSeedOutcomes makes a database file holding n succeeded outcomes and
// returns its path.
func mustSeedOutcomes(tb testing.TB, n int) string {
	tb.Helper()
	ctx := context.Background()
	store := testutil.MustOpenDB(tb)
	path := store.Path()
	defer store.Close()
	jobs := make([]db.NewJob, n)
	for i := range jobs {
		jobs[i] = db.NewJob{Project: "p", Script: "s.py", Spec: fmt.Appendf(nil, `{"projectName":"p","lr":%d}`, i%7)}
	}
	if _, err := store.SubmitJobs(ctx, jobs); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		c, err := store.ClaimOrder(ctx, "h", "0", "test")
		if err != nil || c == nil {
			tb.Fatalf("claim %d: %v, %v", i, c, err)
		}
		if _, err := store.RecordOutcome(ctx, db.Outcome{OrderID: c.Order.ID, Attempt: c.Order.Attempt,
			Succeeded: true, Loss: ptrTo(float64(i) / 10), JSON: []byte(`{"i":1}`)}); err != nil {
			tb.Fatal(err)
		}
	}
	return path
}

// runOutcomes reads through its second goroutine: every row arrives, in
// order, and a writer that fails stops the reader instead of hanging.
func TestRunOutcomesPipeline(t *testing.T) {
	n := outcomeview.BatchSize*2 + 3
	path := mustSeedOutcomes(t, n)
	ctx := context.Background()
	t.Run("json", func(t *testing.T) {
		var out, errOut bytes.Buffer
		opts := &outcomesOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}, dbPath: path}, output: render.FormatJSON}
		if err := runOutcomes(ctx, opts); err != nil {
			t.Fatal(err)
		}
		var rows []struct{ JobID int64 }
		if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != n || rows[0].JobID != 1 || rows[n-1].JobID != int64(n) {
			t.Errorf("got %d rows (%v … %v), want %d in job order", len(rows), rows[0], rows[len(rows)-1], n)
		}
	})
	t.Run("csv", func(t *testing.T) {
		var out, errOut bytes.Buffer
		opts := &outcomesOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}, dbPath: path}, output: render.FormatCSV}
		if err := runOutcomes(ctx, opts); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		// The seed's lines ({"i":1}) lack the loss the objective names: no
		// objectiveValue; the loss column is what RecordOutcome was given.
		want := "jobId,orderId,state,objective,goal,objectiveValue,loss,metric,host,durationSeconds,job.lr,job.projectName"
		if len(lines) != n+1 || lines[0] != want ||
			lines[n] != fmt.Sprintf("%d,%d,succeeded,loss,minimize,,%g,,h,0.000,%d,p", n, n, float64(n-1)/10, (n-1)%7) {
			t.Errorf("got %d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
		}
	})
	for _, format := range render.Formats {
		t.Run("failing writer "+format, func(t *testing.T) {
			var errOut bytes.Buffer
			opts := &outcomesOptions{app: &app{io: ioStreams{Out: errWriter{}, ErrOut: &errOut}, dbPath: path}, output: format}
			if err := runOutcomes(ctx, opts); err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Errorf("runOutcomes = %v, want the write error", err)
			}
		})
	}
}

// tinyColumns are the --columns of the tiny-columns goldens: built-ins, a
// bare job field, a nested path with an index, outcome fields (one holding
// "Infinity"), and a field no row has.
var tinyColumns = []string{"job", "status", "lr", "job.layers.1", "opt.name", "loss", "metric", "outcome.metric",
	"outcome.hist.2", "exit", "duration", "error", "job.nope"}

// TestOutcomeColumnsGolden pins the --columns forms of tinyRows (run with
// -update to rewrite testdata/outcomes/, then review the diff).
func TestOutcomeColumnsGolden(t *testing.T) {
	cols, err := outcomeview.ParseColumns(tinyColumns)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range render.Formats {
		t.Run(format, func(t *testing.T) {
			var out, errOut bytes.Buffer
			opts := &outcomesOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}}, output: format}
			if err := opts.listing(cols).Write(feed(tinyRows())); err != nil {
				t.Fatal(err)
			}
			want := "No row shown has job.nope.\n"
			if format == render.FormatTable {
				want += "The objective is loss, lower is better.\n"
			}
			if errOut.String() != want {
				t.Errorf("stderr = %q, want %q", errOut.String(), want)
			}
			if format == render.FormatJSON && !json.Valid(out.Bytes()) {
				t.Errorf("invalid JSON:\n%s", out.String())
			}
			checkGolden(t, filepath.Join("outcomes", "tiny-columns."+format), out.Bytes())
		})
	}
}
