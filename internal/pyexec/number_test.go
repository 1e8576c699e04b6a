package pyexec

import (
	"encoding/json"
	"strconv"
	"testing"
)

// Number is the one rule for a loss or metric; outcomeview reads rows
// back by it.
func TestNumber(t *testing.T) {
	tests := []struct {
		raw  string
		want string // strconv 'g' of the value; "nil" for none
	}{
		{`0.25`, "0.25"},
		{`"0.5"`, "0.5"},
		{`"NaN"`, "NaN"},
		{`"NAN"`, "NaN"},
		{`" nan "`, "NaN"},
		{`"Infinity"`, "+Inf"},
		{`"-Infinity"`, "-Inf"},
		{`"infinity"`, "+Inf"},
		{`"-inf"`, "-Inf"},
		{`"+Inf"`, "+Inf"},
		{`null`, "nil"},
		{``, "nil"},
		{`"abc"`, "nil"},
		{`true`, "nil"},
		{`1e400`, "nil"},
		{`"1e400"`, "nil"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got := "nil"
			if f := Number(json.RawMessage(tt.raw)); f != nil {
				got = strconv.FormatFloat(*f, 'g', -1, 64)
			}
			if got != tt.want {
				t.Errorf("Number(%s) = %s, want %s", tt.raw, got, tt.want)
			}
		})
	}
}
