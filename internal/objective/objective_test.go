package objective

import (
	"errors"
	"math"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Objective
		bad  bool
	}{
		{in: "loss:min", want: Objective{"loss", Minimize}},
		{in: "cvMse:minimize", want: Objective{"cvMse", Minimize}},
		{in: "accuracy:MAX", want: Objective{"accuracy", Maximize}},
		{in: "scores.val:maximise", want: Objective{"scores.val", Maximize}},
		{in: `a\:b:max`, want: Objective{`a\:b`, Maximize}},
		{in: "loss", bad: true},
		{in: ":min", bad: true},
		{in: "loss:up", bad: true},
		{in: "a..b:min", bad: true},
	} {
		got, err := Parse(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBad) {
				t.Errorf("Parse(%q) = %v, %v; want ErrBad", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back, err := Parse(got.String()); err != nil || back != got {
			t.Errorf("Parse(%q.String()) = %v, %v", tc.in, back, err)
		}
	}
}

func TestValue(t *testing.T) {
	for _, tc := range []struct {
		name, js string
		want     float64 // NaN: nil
	}{
		{"loss", `{"loss": 1.5}`, 1.5},
		{"loss", `{"loss": "2.5"}`, 2.5},
		{"loss", `{"loss": "NaN"}`, math.NaN()},
		{"loss", `{"loss": "inf"}`, math.Inf(1)},
		{"loss", `{"metric": 1}`, math.NaN()},
		{"loss", `{"loss": "x"}`, math.NaN()},
		{"loss", `not json`, math.NaN()},
		{"loss", ``, math.NaN()},
		{"folds.1", `{"folds": [1, 2, 3]}`, 2},
		{"val.mse", `{"val": {"mse": 7}}`, 7},
		{`a\.b`, `{"a.b": 3, "a": {"b": 4}}`, 3},
	} {
		got := Objective{Name: tc.name, Goal: Minimize}.Value([]byte(tc.js))
		switch {
		case math.IsNaN(tc.want) && got != nil:
			t.Errorf("%s in %s = %v, want none", tc.name, tc.js, *got)
		case !math.IsNaN(tc.want) && (got == nil || *got != tc.want):
			t.Errorf("%s in %s = %v, want %v", tc.name, tc.js, got, tc.want)
		}
	}
}

func TestBeats(t *testing.T) {
	if !Default.Beats(1, 2) || Default.Beats(2, 1) || Default.Beats(1, 1) {
		t.Error("minimize: lower must beat higher, ties must not")
	}
	max := Objective{Name: "acc", Goal: Maximize}
	if !max.Beats(2, 1) || max.Beats(1, 2) {
		t.Error("maximize: higher must beat lower")
	}
	if Default.Better() != "lower is better" || max.Better() != "higher is better" {
		t.Error("Better words")
	}
}
