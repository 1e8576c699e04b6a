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
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/jobfields"
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
			Project: "wine", Spec: []byte(`{"projectName":"wine","lr":0.5}`),
		},
	}
}

// feed sends rows in batches of two, their non-finite loss and metric
// filled in, as the reader would.
func feed(rows []*db.OutcomeRow) <-chan []*db.OutcomeRow {
	for _, r := range rows {
		fillNonFinite(r)
	}
	ch := make(chan []*db.OutcomeRow, len(rows)+1)
	for b := range slices.Chunk(rows, 2) {
		ch <- b
	}
	close(ch)
	return ch
}

// wantJSON is what renderJSON writes for rows' outcomeJSON maps: the output
// before the hand-rolled encoder.
func wantJSON(tb testing.TB, rows []*db.OutcomeRow) string {
	tb.Helper()
	objs := make([]map[string]any, 0, len(rows))
	for _, r := range rows {
		state := "succeeded"
		if !r.Succeeded {
			state = "failed"
		}
		objs = append(objs, outcomeJSON(*r, state))
	}
	var buf bytes.Buffer
	if err := renderJSON(&buf, objs); err != nil {
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
			if err := writeOutcomesJSON(&got, feed(tt.rows)); err != nil {
				t.Fatal(err)
			}
			if want := wantJSON(t, tt.rows); got.String() != want {
				t.Errorf("writeOutcomesJSON differs from encoding/json:\n--- encoding/json\n%s--- got\n%s", want, got.String())
			}
		})
	}
}

// TestOutcomesGolden pins the table, JSON and CSV forms of tinyRows (run
// with -update to rewrite testdata/outcomes/, then review the diff).
func TestOutcomesGolden(t *testing.T) {
	for _, format := range outputFormats {
		t.Run(format, func(t *testing.T) {
			var out, errOut bytes.Buffer
			opts := &outcomesOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}}, output: format}
			var err error
			if format == formatJSON {
				err = writeOutcomesJSON(&out, feed(tinyRows()))
			} else {
				err = writeOutcomesTable(opts, feed(tinyRows()))
			}
			if err != nil {
				t.Fatal(err)
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", errOut.String())
			}
			checkGolden(t, filepath.Join("outcomes", "tiny."+format), out.Bytes())
		})
	}
}

func TestOutcomesTableEmpty(t *testing.T) {
	tests := []struct {
		format, out, errOut string
	}{
		{formatTable, "", "No outcomes yet. Run queued jobs with: mljob dispatch\n"},
		{formatCSV, "jobId,orderId,state,loss,metric,host,durationSeconds\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var out, errOut bytes.Buffer
			opts := &outcomesOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}}, output: tt.format}
			if err := writeOutcomesTable(opts, feed(nil)); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.out || errOut.String() != tt.errOut {
				t.Errorf("got %q, %q; want %q, %q", out.String(), errOut.String(), tt.out, tt.errOut)
			}
		})
	}
}

// The flattener must give flattenJSON's leaves and varyingPaths' columns.
func TestSpecFlattenerMatchesFlattenJSON(t *testing.T) {
	tests := []struct {
		name  string
		specs []string
	}{
		{"sweep", []string{`{"lr":0.1,"b":"x"}`, `{"lr":0.2,"b":"x"}`, `{"lr":0.1,"b":"x","c":null}`}},
		{"one spec", []string{`{"lr":0.1}`}},
		{"nested", []string{`{"h":[{"d":0.1},{"d":0.2}],"o":{}}`, `{"h":[{"d":0.1}],"o":{"n":"adam"}}`, `{"h":[],"o":{}}`}},
		{"numbers as written", []string{`{"x":1.0}`, `{"x":1}`, `{"x":1e0}`, `{"x":true}`, `{"x":false}`}},
		{"escapes", []string{`{"k\u00e9":"a\nb","\ud83d\ude00":"\u2028"}`, "{\"k\u00e9\":\"a\\nb\",\"s\":\"\xff\"}"}},
		{"duplicate keys", []string{`{"a":{"b":1},"a":2}`, `{"a":{"b":1}}`, `{"a":1,"a":1}`}},
		{"not objects", []string{`[1,2]`, `nonsense`, `{"a":1} {"b":2}`, `{"a":1}`, `null`, ``}},
		{"empty key", []string{`{"":{"a":1}}`, `{"":{"a":2},"b":[]}`}},
		{"missing first", []string{`{}`, `{"a":1}`, `{"a":1}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f specFlattener
			var want []map[string]string
			for _, s := range tt.specs {
				got := map[string]string{}
				for _, p := range f.add([]byte(s)) {
					got[p.param.path] = p.value
				}
				w := flattenJSON([]byte(s))
				if fmt.Sprint(got) != fmt.Sprint(w) {
					t.Errorf("spec %s: leaves = %v, want %v", s, got, w)
				}
				want = append(want, w)
			}
			var got []string
			for _, p := range f.varying() {
				got = append(got, p.path)
			}
			if w := jobfields.Varying(want); !slices.Equal(got, w) {
				t.Errorf("varying = %q, want %q", got, w)
			}
		})
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	tests := []string{
		"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "\b\f\n\r\t\x00\x01\x1f\x7f",
		"\u2028 and \u2029", "żółć 本地 😀", "bad \xff byte", "cut \xe2\x80", "\xed\xa0\x80 surrogate", "/",
		strings.Repeat("é\u2028", 3),
	}
	for _, s := range tests {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(s); err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSuffix(buf.String(), "\n")
			if got := string(appendJSONString(nil, s)); got != want {
				t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
			}
		})
	}
}

func TestAppendJSONFloatMatchesEncodingJSON(t *testing.T) {
	tests := []float64{0, math.Copysign(0, -1), 0.1, -2.5, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 5e-324, 1e20, 1e21,
		123456789, 1 / 3.0, math.MaxFloat64, -math.SmallestNonzeroFloat64}
	for _, f := range tests {
		t.Run(fmt.Sprint(f), func(t *testing.T) {
			want, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendJSONFloat(nil, f)
			if err != nil || string(got) != string(want) {
				t.Errorf("appendJSONFloat(%v) = %s, %v; want %s", f, got, err, want)
			}
		})
	}
	for _, f := range []float64{math.NaN(), math.Inf(1)} {
		if _, err := appendJSONFloat(nil, f); err == nil {
			t.Errorf("appendJSONFloat(%v) gave no error", f)
		}
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
	n := outcomeBatch*2 + 3
	path := mustSeedOutcomes(t, n)
	ctx := context.Background()
	t.Run("json", func(t *testing.T) {
		var out, errOut bytes.Buffer
		opts := &outcomesOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}, dbPath: path}, output: formatJSON}
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
		opts := &outcomesOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}, dbPath: path}, output: formatCSV}
		if err := runOutcomes(ctx, opts); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != n+1 || lines[0] != "jobId,orderId,state,loss,metric,host,durationSeconds,lr" ||
			lines[n] != fmt.Sprintf("%d,%d,succeeded,%g,,h,0.000,%d", n, n, float64(n-1)/10, (n-1)%7) {
			t.Errorf("got %d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
		}
	})
	for _, format := range outputFormats {
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
	cols, err := parseOutcomeColumns(tinyColumns)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range outputFormats {
		t.Run(format, func(t *testing.T) {
			for _, c := range cols {
				c.found = false
			}
			var out, errOut bytes.Buffer
			opts := &outcomesOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}}, output: format}
			if err := writeOutcomeColumns(opts, cols, feed(tinyRows())); err != nil {
				t.Fatal(err)
			}
			if want := "No row shown has job.nope.\n"; errOut.String() != want {
				t.Errorf("stderr = %q, want %q", errOut.String(), want)
			}
			if format == formatJSON && !json.Valid(out.Bytes()) {
				t.Errorf("invalid JSON:\n%s", out.String())
			}
			checkGolden(t, filepath.Join("outcomes", "tiny-columns."+format), out.Bytes())
		})
	}
}

func TestParseOutcomeColumns(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    string // builtin/source:path per column
		wantErr string
	}{
		{"built-ins", []string{"job", "status", "duration"}, "job status duration", ""},
		{"prefixes", []string{"job.lr", "outcome.metric", "job.hiddenLayers.0.dropout"},
			"job:[lr] outcome:[metric] job:[hiddenLayers 0 dropout]", ""},
		{"bare paths", []string{"lr", "a\\.b.c"}, "either:[lr] either:[a.b c]", ""},
		{"built-in first", []string{"metric", "outcome.status"}, "metric outcome:[status]", ""},
		{"empty", []string{"job", ""}, "", "--columns: empty column name"},
		{"twice", []string{"lr", "lr"}, "", "--columns: lr named twice"},
		{"bad path", []string{"job.a..b"}, "", `--columns job.a..b: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cols, err := parseOutcomeColumns(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q…", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range cols {
				if c.builtin != "" {
					got = append(got, c.builtin)
					continue
				}
				src := map[columnSource]string{sourceJob: "job", sourceOutcome: "outcome", sourceEither: "either"}[c.source]
				got = append(got, fmt.Sprintf("%s:%v", src, c.path))
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("columns = %s, want %s", s, tt.want)
			}
		})
	}
}

func TestLookupJSON(t *testing.T) {
	js := []byte(` {"a": {"b": [10, {"c": "x"}, []]}, "d": 1, "d": 2, "k\u00e9": true, "e": null, "dot.key": 3}`)
	tests := []struct {
		path []string
		want string // "" = not found
	}{
		{[]string{"a", "b", "0"}, "10"},
		{[]string{"a", "b", "1", "c"}, `"x"`},
		{[]string{"a", "b", "2"}, "[]"},
		{[]string{"a", "b", "3"}, ""},
		{[]string{"a", "b", "-1"}, ""},
		{[]string{"a", "b", "x"}, ""},
		{[]string{"d"}, "2"}, // the last of duplicates, as json.Unmarshal
		{[]string{"ké"}, "true"},
		{[]string{"e"}, "null"},
		{[]string{"dot.key"}, "3"},
		{[]string{"d", "x"}, ""},
		{[]string{"nope"}, ""},
		{[]string{"a"}, `{"b": [10, {"c": "x"}, []]}`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.path, "."), func(t *testing.T) {
			got, ok := lookupJSON(js, tt.path)
			if ok != (tt.want != "") || string(got) != tt.want {
				t.Errorf("lookupJSON = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestFillNonFinite(t *testing.T) {
	tests := []struct {
		name         string
		loss, metric *float64
		js           string
		want         string // loss, metric as %v
	}{
		{"python NaN and infinities", nil, nil, `{"loss": "NaN", "metric": "-Infinity"}`, "NaN -Inf"},
		{"columns win", ptrTo(0.5), nil, `{"loss": "NaN", "metric": "Infinity"}`, "0.5 +Inf"},
		{"not reported", nil, nil, `{"status": 200}`, "<nil> <nil>"},
		{"a real string stays unreported", nil, nil, `{"loss": "high", "metric": 0.3}`, "<nil> <nil>"},
		{"invalid JSON", nil, nil, `{"loss": "NaN"`, "<nil> <nil>"},
		{"no JSON", nil, nil, ``, "<nil> <nil>"},
	}
	show := func(f *float64) string {
		if f == nil {
			return "<nil>"
		}
		return formatNumber(f, formatTable)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &db.OutcomeRow{Outcome: db.Outcome{Loss: tt.loss, Metric: tt.metric, JSON: []byte(tt.js)}}
			fillNonFinite(r)
			if got := show(r.Loss) + " " + show(r.Metric); got != tt.want {
				t.Errorf("loss, metric = %s, want %s", got, tt.want)
			}
		})
	}
}
