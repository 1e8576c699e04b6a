package suggest

import (
	"slices"
	"testing"
)

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"wine", "wine", 0},
		{"wine_dta", "wine_data", 1}, {"kitten", "sitting", 3}, {"héllo", "hello", 1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if got := EditDistance(tt.a, tt.b); got != tt.want {
				t.Errorf("EditDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestNearest(t *testing.T) {
	tests := []struct {
		name       string
		s          string
		candidates []string
		want       string
	}{
		{name: "a typo", s: "wine_dta", candidates: []string{"mnist", "wine_data"}, want: "wine_data"},
		{name: "another case wins over a closer typo", s: "MNIST", candidates: []string{"mnist_", "mnist"}, want: "mnist"},
		{name: "the closest", s: "abcd", candidates: []string{"abxy", "abcx"}, want: "abcx"},
		{name: "the first on a tie", s: "abcd", candidates: []string{"abcx", "abcy"}, want: "abcx"},
		{name: "two edits is near", s: "abcd", candidates: []string{"abxy"}, want: "abxy"},
		{name: "three edits is far", s: "abcd", candidates: []string{"axyz"}, want: ""},
		{name: "no candidates", s: "x", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Nearest(tt.s, tt.candidates); got != tt.want {
				t.Errorf("Nearest(%q, %q) = %q, want %q", tt.s, tt.candidates, got, tt.want)
			}
		})
	}
}

func TestUniqueSorted(t *testing.T) {
	got := UniqueSorted([]string{"wine_data", "mnist", "wine_data", ""})
	if want := []string{"mnist", "wine_data"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := UniqueSorted(nil); got == nil || len(got) != 0 {
		t.Errorf("UniqueSorted(nil) = %#v, want an empty slice", got)
	}
}
