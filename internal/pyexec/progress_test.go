package pyexec

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseProgress(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"step":1`)
		for i := range n {
			fmt.Fprintf(&b, `,"m%03d":%d`, i, i)
		}
		return b.String() + "}"
	}
	long := `{"step":1,"note":"` + strings.Repeat("x", MaxProgressLine) + `"}`
	tests := []struct {
		name       string
		line       string
		isProgress bool
		skip       string
		want       ProgressLine
	}{
		{name: "metrics sorted by name", line: `{"step":3,"valLoss":0.61,"loss":0.52,"lr":0.01}`, isProgress: true,
			want: ProgressLine{Step: 3, Metrics: []Metric{{"loss", 0.52}, {"lr", 0.01}, {"valLoss", 0.61}}}},
		{name: "series", line: `{"step":2,"series":"fold2","loss":1}`, isProgress: true,
			want: ProgressLine{Step: 2, Series: "fold2", Metrics: []Metric{{"loss", 1}}}},
		{name: "fractional step, null series, leading space", line: ` {"step":0.5,"series":null,"loss":-1e-3}`, isProgress: true,
			want: ProgressLine{Step: 0.5, Metrics: []Metric{{"loss", -1e-3}}}},
		{name: "non-numeric fields carry no metric", line: `{"step":1,"phase":"train","ok":true,"n":null,"a":[1],"o":{"x":1},"loss":2}`, isProgress: true,
			want: ProgressLine{Step: 1, Metrics: []Metric{{"loss", 2}}}},
		{name: "a step and no metric", line: `{"step":7}`, isProgress: true, want: ProgressLine{Step: 7}},
		{name: "Infinity dropped, kept aside, the rest taken", line: `{"step":1,"b":-Infinity,"c":"Infinity","d":1e400,"e":4}`, isProgress: true,
			want: ProgressLine{Step: 1, Metrics: []Metric{{"e", 4}}, Dropped: []string{SkipNotFinite, SkipNotFinite, SkipNotFinite},
				NotFinite: []Metric{{"b", math.Inf(-1)}, {"c", math.Inf(1)}, {"d", math.Inf(1)}}}},
		{name: "a long name dropped", line: `{"step":1,"` + strings.Repeat("n", MaxProgressName+1) + `":1,"x":2}`, isProgress: true,
			want: ProgressLine{Step: 1, Metrics: []Metric{{"x", 2}}, Dropped: []string{SkipLongName}}},
		{name: "step a string", line: `{"step":"3","loss":1}`, isProgress: true, skip: SkipBadStep},
		{name: "step NaN", line: `{"step":NaN,"loss":1}`, isProgress: true, skip: SkipBadStep},
		{name: "step null", line: `{"step":null}`, isProgress: true, skip: SkipBadStep},
		{name: "step beyond float64", line: `{"step":1e999}`, isProgress: true, skip: SkipBadStep},
		{name: "series a number", line: `{"step":1,"series":3,"loss":1}`, isProgress: true, skip: SkipBadSeries},
		{name: "series too long", line: `{"step":1,"series":"` + strings.Repeat("s", MaxProgressName+1) + `"}`, isProgress: true, skip: SkipBadSeries},
		{name: "as many metrics as allowed", line: many(MaxProgressMetrics), isProgress: true},
		{name: "too many metrics", line: many(MaxProgressMetrics + 1), isProgress: true, skip: SkipTooManyMetrics},
		{name: "over the cap", line: long, isProgress: true, skip: SkipTooLong},
		{name: "over the cap, cut as engines deliver it", line: long[:MaxProgressLine+1], isProgress: true, skip: SkipTooLong},
		{name: "over the cap, step only nested", line: `{"cfg":{"step":1},"s":"` + strings.Repeat("x", MaxProgressLine) + `"}`},
		{name: "the outcome", line: `{"status":200,"loss":1}`},
		{name: "step only nested", line: `{"status":200,"cfg":{"step":1}}`},
		{name: "not JSON", line: `{step: 1}`},
		{name: "an array", line: `[{"step":1}]`},
		{name: "plain text", line: `epoch step 3 loss 0.5`},
		{name: "empty", line: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, isProgress, skip := ParseProgress([]byte(tt.line))
			if isProgress != tt.isProgress || skip != tt.skip {
				t.Fatalf("progress %v skip %q, want %v %q", isProgress, skip, tt.isProgress, tt.skip)
			}
			if tt.name == "as many metrics as allowed" {
				if len(p.Metrics) != MaxProgressMetrics {
					t.Fatalf("%d metrics, want %d", len(p.Metrics), MaxProgressMetrics)
				}
				return
			}
			if !reflect.DeepEqual(p, tt.want) {
				t.Errorf("got %+v, want %+v", p, tt.want)
			}
		})
	}
}

func TestSkipsLines(t *testing.T) {
	for _, r := range []string{SkipTooLong, SkipBadStep, SkipBackwards, SkipTooManyMetrics, SkipBadSeries} {
		if !SkipsLines(r) {
			t.Errorf("%q: want a line skip", r)
		}
	}
	for _, r := range []string{SkipNotFinite, SkipLongName, SkipTooManyCurves} {
		if SkipsLines(r) {
			t.Errorf("%q: want a value skip", r)
		}
	}
}

// TestParseProgressNaN: a NaN is dropped from the metrics and kept aside
// for a pruner, as bare NaN and as the string.
func TestParseProgressNaN(t *testing.T) {
	for _, line := range []string{`{"step":1,"a":NaN,"e":4}`, `{"step":1,"a":"NaN","e":4}`} {
		p, isProgress, skip := ParseProgress([]byte(line))
		if !isProgress || skip != "" || len(p.Metrics) != 1 || len(p.NotFinite) != 1 || p.NotFinite[0].Name != "a" ||
			!math.IsNaN(p.NotFinite[0].Value) || !slices.Equal(p.Dropped, []string{SkipNotFinite}) {
			t.Errorf("%s: %+v, %v, %q", line, p, isProgress, skip)
		}
	}
}
