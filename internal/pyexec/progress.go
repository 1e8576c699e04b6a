package pyexec

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strings"

	"github.com/mljob/mljob/internal/run"
)

// The progress contract's bounds.
const (
	// MaxProgressLine bounds a progress line: a longer one is not taken
	// (SkipTooLong). Engines deliver such a line cut to its first
	// MaxProgressLine+1 bytes (see run.Progress).
	MaxProgressLine = run.MaxProgressLine
	// MaxProgressMetrics bounds the metrics of one progress line: a line
	// with more is not taken (SkipTooManyMetrics).
	MaxProgressMetrics = 100
	// MaxProgressName bounds a series or metric name, in bytes.
	MaxProgressName = 200
)

// Why a progress line, or one value of it, is not taken. They are stored
// as they are (db.ProgressSkip counts them per attempt) and shown by
// mljob show: change one and older counts read under the old words.
const (
	// Lines not taken.
	SkipTooLong        = "line too long"
	SkipBadStep        = "step not a number"
	SkipBackwards      = "step went backwards"
	SkipTooManyMetrics = "too many metrics"
	SkipBadSeries      = "bad series"
	// Values dropped from a line that is taken.
	SkipNotFinite     = "value not finite"
	SkipLongName      = "name too long"
	SkipTooManyCurves = "too many curves"
)

// SkipsLines reports whether reason (a Skip constant) counts lines not
// taken, rather than values dropped from lines taken.
func SkipsLines(reason string) bool {
	switch reason {
	case SkipNotFinite, SkipLongName, SkipTooManyCurves:
		return false
	}
	return true
}

// Metric is one value of a progress line.
type Metric struct {
	Name  string
	Value float64
}

// ProgressLine is a progress report as ParseProgress reads it.
type ProgressLine struct {
	Step   float64
	Series string // "" for the run's one unnamed curve
	// Metrics are the line's finite numeric fields besides step, by name.
	Metrics []Metric
	// Dropped holds a reason (SkipNotFinite, SkipLongName) per value left
	// out of Metrics.
	Dropped []string
	// NotFinite are the values dropped as not finite (NaN, ±Inf), by name:
	// not stored, but a pruner judges them (a NaN prunes).
	NotFinite []Metric
}

// ParseProgress reads one stdout line (without its newline) under the
// progress contract:
//
//   - A JSON object with a "step" field is a progress report; any other
//     line is not (isProgress false, and it is not counted anywhere). The
//     Outcome is the last JSON object without one (see ParseOutcome).
//   - "step" must be a finite JSON number (SkipBadStep).
//   - "series", optional, names the curve: a string of at most
//     MaxProgressName bytes (SkipBadSeries); null or absent is "".
//   - Every other top-level field that is a JSON number is a metric at
//     that step. A number that is not finite (Python's bare NaN,
//     Infinity, -Infinity, those words as strings, or a number beyond a
//     float64) is dropped (SkipNotFinite), as is a field whose name is
//     over MaxProgressName bytes (SkipLongName); the rest of the line is
//     taken. Strings, booleans, null, arrays and objects are not metrics.
//   - A line over MaxProgressLine bytes (SkipTooLong) or with over
//     MaxProgressMetrics metrics (SkipTooManyMetrics) is not taken.
//
// skip is "" for a line taken, else why it is not. Whether steps go
// backwards within a series is for the caller, who knows the lines before
// (SkipBackwards).
func ParseProgress(line []byte) (p ProgressLine, isProgress bool, skip string) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' || !bytes.Contains(line, []byte(`"step"`)) {
		return p, false, ""
	}
	if len(line) > MaxProgressLine {
		if topLevelKey(line, "step") {
			return p, true, SkipTooLong
		}
		return p, false, ""
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(StrictJSON(line), &obj) != nil || obj == nil {
		return p, false, ""
	}
	rawStep, ok := obj["step"]
	if !ok {
		return p, false, ""
	}
	step, ok := finite(rawStep)
	if !ok {
		return p, true, SkipBadStep
	}
	p.Step = step
	if raw, ok := obj["series"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &p.Series) != nil || len(p.Series) > MaxProgressName {
			return ProgressLine{}, true, SkipBadSeries
		}
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		if k != "step" && k != "series" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		raw := obj[k]
		if !isNumber(raw) {
			continue
		}
		if len(p.Metrics)+len(p.Dropped) == MaxProgressMetrics {
			return ProgressLine{}, true, SkipTooManyMetrics
		}
		v, ok := finite(raw)
		switch {
		case !ok:
			p.Dropped = append(p.Dropped, SkipNotFinite)
			if len(k) <= MaxProgressName {
				p.NotFinite = append(p.NotFinite, Metric{Name: k, Value: notFinite(raw)})
			}
		case len(k) > MaxProgressName:
			p.Dropped = append(p.Dropped, SkipLongName)
		default:
			p.Metrics = append(p.Metrics, Metric{Name: k, Value: v})
		}
	}
	return p, true, ""
}

// isNumber reports whether raw (after StrictJSON) is a JSON number or one
// of the words StrictJSON makes of Python's non-finite floats.
func isNumber(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	if c := raw[0]; c == '-' || c >= '0' && c <= '9' {
		return true
	}
	switch string(raw) {
	case `"NaN"`, `"Infinity"`, `"-Infinity"`:
		return true
	}
	return false
}

// notFinite is the value of raw, a number finite refused: NaN, or ±Inf
// for the words and for a number beyond a float64.
func notFinite(raw json.RawMessage) float64 {
	switch s := string(raw); {
	case s == `"Infinity"`:
		return math.Inf(1)
	case s == `"-Infinity"`:
		return math.Inf(-1)
	case s == `"NaN"`:
		return math.NaN()
	case strings.HasPrefix(s, "-"):
		return math.Inf(-1)
	}
	return math.Inf(1)
}

// finite reads raw as a finite JSON number.
func finite(raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, false
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// topLevelKey reports whether key is a member of the JSON object that
// line begins with, reading only as far as the line is valid: line may be
// cut short.
func topLevelKey(line []byte, key string) bool {
	dec := json.NewDecoder(bytes.NewReader(StrictJSON(line)))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		if k, ok := t.(string); ok && k == key {
			return true
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}
