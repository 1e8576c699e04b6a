package tpe

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestProposeSmoke(t *testing.T) {
	space := []Dim{{Name: "x", Kind: Float, Low: -5, High: 10}, {Name: "n", Kind: Int, Low: 1, High: 64, Log: true}, {Name: "c", Kind: Categorical, Choices: 3}}
	s, err := New(space, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var trials []Trial
	for i := 0; i < 40; i++ {
		p := s.Propose(i, trials)
		if !s.fits(p) {
			t.Fatalf("trial %d: %v outside the space", i, p)
		}
		trials = append(trials, Trial{Number: i, Params: p, Value: math.Abs(p[0]-2) + p[2]})
	}
	again := s.Propose(40, trials)
	slices.Reverse(trials)
	if got := s.Propose(40, trials); !slices.Equal(got, again) {
		t.Fatalf("order of trials changed the proposal: %v vs %v", got, again)
	}
	if _, err := New([]Dim{{Name: "x", Low: 1, High: 1}}, DefaultOptions()); !errors.Is(err, ErrBadSpace) {
		t.Fatalf("empty range accepted: %v", err)
	}
}
