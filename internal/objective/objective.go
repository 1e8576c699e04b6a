// Package objective is what a job's runs are ranked by: a name (a key of
// the Outcome line, or a dotted path into it) and a goal (minimize or
// maximize). A job stores its objective when it is submitted (the default
// is loss:min, the seed's meaning of "loss"); every listing, the report and
// the live view rank by it, and never across two different objectives.
package objective

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/mljob/mljob/internal/jobfields"
	"github.com/mljob/mljob/internal/pyexec"
)

// Goal says which way an objective is better.
type Goal string

// The two goals, as stored and as JSON prints them.
const (
	Minimize Goal = "minimize"
	Maximize Goal = "maximize"
)

// Objective is a name in the Outcome line and the way it is better.
type Objective struct {
	Name string `json:"name"`
	Goal Goal   `json:"goal"`
}

// Default is the objective of a job submitted without one: the seed's
// "loss", lower is better.
var Default = Objective{Name: "loss", Goal: Minimize}

// ErrBad is the cause of Parse's and Check's errors, for errors.Is.
var ErrBad = errors.New("bad objective")

// goalWords maps what a user may write for a goal to the goal.
var goalWords = map[string]Goal{
	"min": Minimize, "minimize": Minimize, "minimise": Minimize,
	"max": Maximize, "maximize": Maximize, "maximise": Maximize,
}

// ParseGoal reads a goal: min, minimize (minimise), max, maximize
// (maximise), in any case.
func ParseGoal(s string) (Goal, error) {
	if g, ok := goalWords[strings.ToLower(strings.TrimSpace(s))]; ok {
		return g, nil
	}
	return "", fmt.Errorf("%w: goal %q is neither min nor max (minimize or maximize)", ErrBad, s)
}

// Parse reads NAME:min or NAME:max (or :minimize, :maximize), as
// `mljob submit --objective` takes it. The goal is required: a maximized
// accuracy ranked as a loss would put the worst run first.
func Parse(s string) (Objective, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return Objective{}, fmt.Errorf("%w: %q names no goal; write %s:min or %s:max", ErrBad, s, s, s)
	}
	g, err := ParseGoal(s[i+1:])
	if err != nil {
		return Objective{}, err
	}
	o := Objective{Name: s[:i], Goal: g}
	return o, o.Check()
}

// Check reports whether o is complete: a name that is a dotted path and a
// known goal.
func (o Objective) Check() error {
	if o.Name == "" {
		return fmt.Errorf("%w: no name; name a key of the Outcome line, such as loss", ErrBad)
	}
	if _, err := jobfields.ParsePath(o.Name); err != nil {
		return fmt.Errorf("%w: name %q: %v", ErrBad, o.Name, err)
	}
	if o.Goal != Minimize && o.Goal != Maximize {
		return fmt.Errorf("%w: goal %q is neither minimize nor maximize", ErrBad, o.Goal)
	}
	return nil
}

// String is o as Parse reads it: "loss:min", "accuracy:max".
func (o Objective) String() string {
	if o.Goal == Maximize {
		return o.Name + ":max"
	}
	return o.Name + ":min"
}

// Better says which way is better, as charts and tables state it: "lower
// is better" or "higher is better".
func (o Objective) Better() string {
	if o.Goal == Maximize {
		return "higher is better"
	}
	return "lower is better"
}

// Value reads o's value from an Outcome line by the rule loss and metric
// are read by (pyexec.Number: a number, or a numeric string). It is nil
// when the line lacks the name, the value is not a number, or it is NaN;
// an infinite value is kept (it ranks last or first as the goal says).
func (o Objective) Value(outcomeJSON []byte) *float64 {
	if len(outcomeJSON) == 0 || !json.Valid(outcomeJSON) {
		return nil
	}
	path, err := jobfields.ParsePath(o.Name)
	if err != nil {
		return nil
	}
	raw, ok := jobfields.Lookup(outcomeJSON, path)
	if !ok {
		return nil
	}
	v := pyexec.Number(raw)
	if v == nil || math.IsNaN(*v) {
		return nil
	}
	return v
}

// Beats reports whether a is better than b under o: lower for a minimized
// objective, higher for a maximized one. Ties are not better.
func (o Objective) Beats(a, b float64) bool {
	if o.Goal == Maximize {
		return a > b
	}
	return a < b
}
