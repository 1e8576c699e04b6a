package prune

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The rules' names, as Rule.Kind, the flag and the sweep file spell them.
const (
	KindASHA   = "asha"
	KindMedian = "median"
	// KindNone is what the flag and the file accept for "no pruning"; a
	// Rule without pruning has Kind "".
	KindNone = "none"
)

// Optuna's defaults (SuccessiveHalvingPruner, MedianPruner).
const (
	DefaultMinStep     = 1
	DefaultReduction   = 3
	DefaultStartupRuns = 5
)

// ErrBad is the cause of ParseFlag's and Validate's errors, for errors.Is.
var ErrBad = errors.New("bad pruner")

// Rule is a sweep's pruner, as a sweep file's `pruner:` key or `submit
// --pruner` gives it. Stored as JSON in the queue (jobs.pruner), so the
// json tags are part of the queue's format.
//
// MinStep and Reduction have no valid zero, so a zero there means Optuna's
// default (WithDefaults). StartupRuns, WarmupSteps and
// MinEarlyStoppingRate may be 0, so 0 is 0: the parsers fill
// DefaultStartupRuns when the key is absent (Default), never WithDefaults,
// which cannot tell an explicit 0 from one omitempty dropped.
type Rule struct {
	Kind                 string  `json:"rule"`                           // "asha" | "median" | "" (none)
	MinStep              float64 `json:"minStep,omitempty"`              // asha: Optuna's min_resource; default 1
	Reduction            int     `json:"reduction,omitempty"`            // asha: η; default 3; >= 2
	MinEarlyStoppingRate int     `json:"minEarlyStoppingRate,omitempty"` // asha; default 0
	StartupRuns          int     `json:"startupRuns,omitempty"`          // median: n_startup_trials; default 5 (see Default)
	WarmupSteps          float64 `json:"warmupSteps,omitempty"`          // median: n_warmup_steps; default 0
	Series               string  `json:"series,omitempty"`               // the series judged; "" = the first the run printed
	// Metric is the progress metric judged, by the objective's goal; ""
	// is the objective's own name. A script whose objective is only in
	// its last line (nn.py's cvMse) is pruned on a metric it prints at
	// each step (its valLoss), as an Optuna user reports one value and
	// is ranked by another.
	Metric string `json:"metric,omitempty"`
}

// Default is the rule of kind with Optuna's defaults: what `--pruner
// asha` or `{rule: median}` means. Kind "" or "none" is no pruning.
func Default(kind string) (Rule, error) {
	switch kind {
	case KindASHA:
		return Rule{Kind: KindASHA, MinStep: DefaultMinStep, Reduction: DefaultReduction}, nil
	case KindMedian:
		return Rule{Kind: KindMedian, StartupRuns: DefaultStartupRuns}, nil
	case "", KindNone:
		return Rule{}, nil
	}
	return Rule{}, fmt.Errorf("%w: unknown rule %q; want asha, median or none", ErrBad, kind)
}

// IsZero reports whether r prunes nothing: no rule, or "none" (which
// the parsers never leave in a Rule, but a hand-written one may hold).
func (r Rule) IsZero() bool { return r.Kind == "" || r.Kind == KindNone }

// Judged is the name of the metric r judges when the objective is named
// objectiveName: r.Metric, else the objective's own.
func (r Rule) Judged(objectiveName string) string {
	if r.Metric != "" {
		return r.Metric
	}
	return objectiveName
}

// WithDefaults is r with a zero MinStep and Reduction of an ASHA rule set
// to Optuna's defaults (1 and 3); the other fields are kept (see Rule).
func (r Rule) WithDefaults() Rule {
	if r.Kind == KindASHA {
		if r.MinStep == 0 {
			r.MinStep = DefaultMinStep
		}
		if r.Reduction == 0 {
			r.Reduction = DefaultReduction
		}
	}
	return r
}

// Validate says what is wrong with r (after WithDefaults) and what is
// allowed, or nil.
func (r Rule) Validate() error {
	r = r.WithDefaults()
	switch r.Kind {
	case "", KindNone:
		if r != (Rule{Kind: r.Kind}) {
			return fmt.Errorf("%w: settings without a rule; name rule asha or median", ErrBad)
		}
		return nil
	case KindASHA:
		return r.validateASHA()
	case KindMedian:
		return r.validateMedian()
	}
	return fmt.Errorf("%w: unknown rule %q; want asha, median or none", ErrBad, r.Kind)
}

func (r Rule) validateASHA() error {
	switch {
	case !(r.MinStep > 0) || math.IsInf(r.MinStep, 0):
		return fmt.Errorf("%w: asha: minStep %v must be a number above 0 (the first rung's step)", ErrBad, r.MinStep)
	case r.Reduction < 2:
		return fmt.Errorf("%w: asha: reduction %d must be 2 or more (a rung keeps 1/reduction of the runs)", ErrBad, r.Reduction)
	case r.MinEarlyStoppingRate < 0:
		return fmt.Errorf("%w: asha: minEarlyStoppingRate %d must be 0 or more", ErrBad, r.MinEarlyStoppingRate)
	case r.StartupRuns != 0 || r.WarmupSteps != 0:
		return fmt.Errorf("%w: asha takes minStep, reduction, minEarlyStoppingRate, series and metric; startupRuns and warmupSteps are median's", ErrBad)
	}
	return nil
}

func (r Rule) validateMedian() error {
	switch {
	case r.StartupRuns < 0:
		return fmt.Errorf("%w: median: startupRuns %d must be 0 or more", ErrBad, r.StartupRuns)
	case !(r.WarmupSteps >= 0) || math.IsInf(r.WarmupSteps, 0):
		return fmt.Errorf("%w: median: warmupSteps %v must be a number, 0 or more", ErrBad, r.WarmupSteps)
	case r.MinStep != 0 || r.Reduction != 0 || r.MinEarlyStoppingRate != 0:
		return fmt.Errorf("%w: median takes startupRuns, warmupSteps, series and metric; minStep, reduction and minEarlyStoppingRate are asha's", ErrBad)
	}
	return nil
}

// Keys is what each rule may be given, in the order String writes them.
var Keys = map[string][]string{
	KindASHA:   {"minStep", "reduction", "minEarlyStoppingRate", "series", "metric"},
	KindMedian: {"startupRuns", "warmupSteps", "series", "metric"},
}

// ParseFlag reads `submit --pruner`: a rule alone ("asha", "median",
// "none") or with settings after a colon, comma-separated KEY=VALUE
// ("asha:minStep=1,reduction=3", "median:startupRuns=5,warmupSteps=2").
// Settings not given take Optuna's defaults (Default). The rule is
// validated.
func ParseFlag(s string) (Rule, error) {
	kind, settings, hasSettings := strings.Cut(strings.TrimSpace(s), ":")
	if kind == "" {
		return Rule{}, fmt.Errorf("%w: %q names no rule; want asha, median or none, e.g. asha:reduction=3", ErrBad, s)
	}
	r, err := Default(kind)
	if err != nil {
		return Rule{}, err
	}
	if !hasSettings {
		return r, r.Validate()
	}
	if r.IsZero() {
		return Rule{}, fmt.Errorf("%w: none takes no settings", ErrBad)
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(settings, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return Rule{}, fmt.Errorf("%w: %s: %q is not KEY=VALUE; keys: %s", ErrBad, kind, kv, strings.Join(Keys[kind], ", "))
		}
		if seen[k] {
			return Rule{}, fmt.Errorf("%w: %s: %s given twice", ErrBad, kind, k)
		}
		seen[k] = true
		if err := r.Set(k, v); err != nil {
			return Rule{}, err
		}
	}
	return r, r.Validate()
}

// Set sets r's setting key (as Keys names it for r's rule) from its text,
// as the flag and the sweep file give it. It does not validate the value's
// range; Validate does.
func (r *Rule) Set(key, value string) error {
	if !r.knows(key) {
		return fmt.Errorf("%w: %s has no setting %q; want %s", ErrBad, r.Kind, key, strings.Join(Keys[r.Kind], ", "))
	}
	var err error
	switch key {
	case "series":
		if value == "" {
			return fmt.Errorf("%w: %s: series is empty; name a series the script prints, or leave series out for its first", ErrBad, r.Kind)
		}
		r.Series = value
	case "metric":
		if value == "" {
			return fmt.Errorf("%w: %s: metric is empty; name a metric the script prints at each step, or leave metric out for the objective", ErrBad, r.Kind)
		}
		r.Metric = value
	case "minStep":
		r.MinStep, err = parseNumber(value)
	case "warmupSteps":
		r.WarmupSteps, err = parseNumber(value)
	case "reduction":
		r.Reduction, err = strconv.Atoi(value)
	case "minEarlyStoppingRate":
		r.MinEarlyStoppingRate, err = strconv.Atoi(value)
	case "startupRuns":
		r.StartupRuns, err = strconv.Atoi(value)
	}
	if err != nil {
		want := "a number"
		if key != "minStep" && key != "warmupSteps" {
			want = "a whole number"
		}
		return fmt.Errorf("%w: %s: %s=%q is not %s", ErrBad, r.Kind, key, value, want)
	}
	return nil
}

func (r Rule) knows(key string) bool {
	for _, k := range Keys[r.Kind] {
		if k == key {
			return true
		}
	}
	return false
}

// parseNumber reads a finite decimal number (ParseFloat would also take
// "NaN", "Inf" and hex).
func parseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(s, "xXpP_") {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	return f, nil
}

// String is r in the flag's form with every setting, which ParseFlag reads
// back to r (after WithDefaults): "asha:minStep=1,reduction=3,
// minEarlyStoppingRate=0", "median:startupRuns=5,warmupSteps=0", "none".
func (r Rule) String() string {
	r = r.WithDefaults()
	if r.IsZero() {
		return KindNone
	}
	vals := map[string]string{
		"minStep":              strconv.FormatFloat(r.MinStep, 'g', -1, 64),
		"reduction":            strconv.Itoa(r.Reduction),
		"minEarlyStoppingRate": strconv.Itoa(r.MinEarlyStoppingRate),
		"startupRuns":          strconv.Itoa(r.StartupRuns),
		"warmupSteps":          strconv.FormatFloat(r.WarmupSteps, 'g', -1, 64),
	}
	var kv []string
	for _, k := range Keys[r.Kind] {
		if k == "series" || k == "metric" {
			if v := map[string]string{"series": r.Series, "metric": r.Metric}[k]; v != "" {
				kv = append(kv, k+"="+v)
			}
			continue
		}
		kv = append(kv, k+"="+vals[k])
	}
	if len(kv) == 0 {
		return r.Kind
	}
	return r.Kind + ":" + strings.Join(kv, ",")
}

// RungStep is the step at which a run reaches rung k:
// MinStep·Reduction^(MinEarlyStoppingRate+k), as Optuna computes it (the
// power is exact while it is below 2^53).
func (r Rule) RungStep(k int) float64 {
	r = r.WithDefaults()
	p := 1.0
	for i := 0; i < r.MinEarlyStoppingRate+k; i++ {
		p *= float64(r.Reduction)
	}
	return r.MinStep * p
}

// sortedCopy is vals sorted ascending, vals untouched.
func sortedCopy(vals []float64) []float64 {
	s := append([]float64(nil), vals...)
	sort.Float64s(s)
	return s
}
