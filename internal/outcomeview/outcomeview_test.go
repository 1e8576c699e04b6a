package outcomeview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/db"
)

// ptrTo returns a pointer to v.
func ptrTo[T any](v T) *T { return &v }

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
			if got := string(AppendString(nil, s)); got != want {
				t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
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
			got, err := AppendFloat(nil, f)
			if err != nil || string(got) != string(want) {
				t.Errorf("AppendFloat(%v) = %s, %v; want %s", f, got, err, want)
			}
		})
	}
	for _, f := range []float64{math.NaN(), math.Inf(1)} {
		if _, err := AppendFloat(nil, f); err == nil {
			t.Errorf("AppendFloat(%v) gave no error", f)
		}
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
			cols, err := ParseColumns(tt.in)
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
			got, ok := LookupJSON(js, tt.path)
			if ok != (tt.want != "") || string(got) != tt.want {
				t.Errorf("LookupJSON = %q, %v; want %q", got, ok, tt.want)
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
		return FormatNumber(f, FormatTable)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &db.OutcomeRow{Outcome: db.Outcome{Loss: tt.loss, Metric: tt.metric, JSON: []byte(tt.js)}}
			Fill(r)
			if got := show(r.Loss) + " " + show(r.Metric); got != tt.want {
				t.Errorf("loss, metric = %s, want %s", got, tt.want)
			}
		})
	}
}
