// Package prune holds a sweep's pruner rules: which runs to stop early,
// judged on their progress lines.
package prune

import "math"

// Rule is a sweep's pruner. This file holds the types only, until the
// rules themselves land in rule.go.
type Rule struct {
	Kind                 string  `json:"rule"`
	MinStep              float64 `json:"minStep,omitempty"`
	Reduction            int     `json:"reduction,omitempty"`
	MinEarlyStoppingRate int     `json:"minEarlyStoppingRate,omitempty"`
	StartupRuns          int     `json:"startupRuns,omitempty"`
	WarmupSteps          float64 `json:"warmupSteps,omitempty"`
	Series               string  `json:"series,omitempty"`
}

// IsZero reports whether r prunes nothing.
func (r Rule) IsZero() bool { return r.Kind == "" || r.Kind == "none" }

// RungStep is the step at which a run reaches rung k.
func (r Rule) RungStep(k int) float64 {
	return r.MinStep * math.Pow(float64(r.Reduction), float64(r.MinEarlyStoppingRate+k))
}

// RungValue is a value a run recorded at a rung.
type RungValue struct {
	Rung  int
	Value float64
}

// Decision is the verdict on one reported point.
type Decision struct {
	Prune   bool
	Rung    int
	Step    float64
	Value   float64
	Cutoff  float64
	Rank    int
	Of      int
	Records []RungValue
}

// Point is one reported point of a curve.
type Point struct{ Step, Value float64 }
