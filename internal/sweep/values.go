package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// ErrSyntax is returned for a grid, range or path that cannot be parsed:
// a usage error, as opposed to one about the job.
var ErrSyntax = errors.New("bad sweep syntax")

// ErrNoPath is returned when a path names a field the base job does not
// have (and new fields are not allowed), or walks into a scalar or past the
// end of an array.
var ErrNoPath = errors.New("path not in the job")

// Axis is one list of the grid: every value is tried with every value of
// the other axes.
type Axis struct {
	Path   Path
	Values []json.RawMessage
}

// ParseGrid parses "PATH=V1,V2,...". Commas inside JSON brackets, braces or
// strings do not split, so "hidden=[64,32],[128,64]" has two values.
func ParseGrid(arg string) (Axis, error) {
	ps, vs, ok := strings.Cut(arg, "=")
	if !ok {
		return Axis{}, errf(ErrSyntax, "grid %q: want PATH=V1,V2,...", arg)
	}
	p, err := ParsePath(ps)
	if err != nil {
		return Axis{}, fmt.Errorf("grid %q: %w", arg, err)
	}
	vals, err := ParseValues(vs)
	if err != nil {
		return Axis{}, fmt.Errorf("grid %q: %w", arg, err)
	}
	return Axis{Path: p, Values: vals}, nil
}

// ParseValues splits a comma-separated list of values and parses each as
// JSON, or else takes it as a string. An empty list or an empty value is
// an error: write "" for the empty string.
func ParseValues(s string) ([]json.RawMessage, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errf(ErrSyntax, "no values")
	}
	parts := splitTop(s)
	vals := make([]json.RawMessage, 0, len(parts))
	for i, part := range parts {
		v, err := ParseValue(part)
		if err != nil {
			return nil, fmt.Errorf("value %d: %w", i+1, err)
		}
		vals = append(vals, v)
	}
	return vals, nil
}

// ParseValue parses one value: compact JSON if s is JSON, else the JSON
// string s. Surrounding spaces are dropped.
func ParseValue(s string) (json.RawMessage, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errf(ErrSyntax, "empty value (write \"\" for the empty string)")
	}
	if json.Valid([]byte(s)) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(s)); err != nil {
			return nil, errf(ErrSyntax, "%v", err)
		}
		return buf.Bytes(), nil
	}
	return json.RawMessage(quote(s)), nil
}

// splitTop splits s at commas outside JSON strings, brackets and braces.
func splitTop(s string) []string {
	var parts []string
	depth, start := 0, 0
	inStr := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		case c == ',' && depth <= 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// RangeKind is how a Range draws its values.
type RangeKind string

// The kinds of range.
const (
	Lin    RangeKind = "lin"    // uniform in [lo, hi]
	Log    RangeKind = "log"    // uniform in log space between lo and hi, lo > 0
	Int    RangeKind = "int"    // a uniform integer in [lo, hi], both included
	Choice RangeKind = "choice" // one of the listed values, each as likely
)

// Range is where one random path draws its values.
type Range struct {
	Path    Path
	Kind    RangeKind
	Lo, Hi  float64 // Lin, Log
	ILo     int64   // Int
	IHi     int64   // Int
	Choices []json.RawMessage
	text    string
}

// String returns the range as written after PATH=.
func (r Range) String() string { return r.text }

// ParseRange parses "PATH=lin:LO:HI", "PATH=log:LO:HI", "PATH=int:LO:HI"
// or "PATH=choice:A,B,C".
func ParseRange(arg string) (Range, error) {
	ps, spec, ok := strings.Cut(arg, "=")
	if !ok {
		return Range{}, errf(ErrSyntax, "range %q: want PATH=lin:LO:HI, log:LO:HI, int:LO:HI or choice:A,B,...", arg)
	}
	p, err := ParsePath(ps)
	if err != nil {
		return Range{}, fmt.Errorf("range %q: %w", arg, err)
	}
	r, err := parseRangeSpec(spec)
	if err != nil {
		return Range{}, fmt.Errorf("range %q: %w", arg, err)
	}
	r.Path = p
	return r, nil
}

// parseRangeSpec parses what follows PATH= in a range.
func parseRangeSpec(spec string) (Range, error) {
	k, rest, ok := strings.Cut(spec, ":")
	r := Range{Kind: RangeKind(k), text: spec}
	if !ok {
		return Range{}, errf(ErrSyntax, "want lin:LO:HI, log:LO:HI, int:LO:HI or choice:A,B,...")
	}
	if r.Kind == Choice {
		vals, err := ParseValues(rest)
		if err != nil {
			return Range{}, err
		}
		r.Choices = vals
		return r, nil
	}
	los, his, ok := strings.Cut(rest, ":")
	if !ok || strings.Contains(his, ":") {
		return Range{}, errf(ErrSyntax, "want %s:LO:HI", k)
	}
	switch r.Kind {
	case Int:
		lo, err1 := strconv.ParseInt(strings.TrimSpace(los), 10, 64)
		hi, err2 := strconv.ParseInt(strings.TrimSpace(his), 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return Range{}, errf(ErrSyntax, "int bounds must be integers: %q, %q", los, his)
		}
		if lo > hi {
			return Range{}, errf(ErrSyntax, "LO %d is above HI %d", lo, hi)
		}
		if hi-lo < 0 || hi-lo == math.MaxInt64 { // the span and span+1 must fit
			return Range{}, errf(ErrSyntax, "int range %d..%d is too wide", lo, hi)
		}
		r.ILo, r.IHi = lo, hi
	case Lin, Log:
		lo, err1 := strconv.ParseFloat(strings.TrimSpace(los), 64)
		hi, err2 := strconv.ParseFloat(strings.TrimSpace(his), 64)
		if err := errors.Join(err1, err2); err != nil {
			return Range{}, errf(ErrSyntax, "bounds must be numbers: %q, %q", los, his)
		}
		if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
			return Range{}, errf(ErrSyntax, "bounds must be finite")
		}
		if lo > hi {
			return Range{}, errf(ErrSyntax, "LO %g is above HI %g", lo, hi)
		}
		if r.Kind == Log && lo <= 0 {
			return Range{}, errf(ErrSyntax, "log needs 0 < LO, got %g", lo)
		}
		r.Lo, r.Hi = lo, hi
	default:
		return Range{}, errf(ErrSyntax, "unknown range kind %q (want lin, log, int or choice)", k)
	}
	return r, nil
}

// sigDigits is how many significant digits a drawn float keeps: enough
// for any hyperparameter, few enough to read in a table, and it hides the
// last-bit differences a platform's math.Exp may have.
const sigDigits = 6

// draw returns one value of r from rng.
func (r Range) draw(rng *rand.Rand) json.RawMessage {
	switch r.Kind {
	case Int:
		return strconv.AppendInt(nil, r.ILo+rng.Int64N(r.IHi-r.ILo+1), 10)
	case Choice:
		return r.Choices[rng.IntN(len(r.Choices))]
	case Log:
		llo, lhi := math.Log(r.Lo), math.Log(r.Hi)
		// The explicit float64 conversion stops the compiler fusing the
		// multiply-add (it does on arm64), which would change the last bit.
		return formatFloat(math.Exp(float64(rng.Float64()*(lhi-llo)) + llo))
	default:
		return formatFloat(float64(rng.Float64()*(r.Hi-r.Lo)) + r.Lo)
	}
}

// formatFloat renders f with sigDigits significant digits as JSON.
func formatFloat(f float64) json.RawMessage {
	return strconv.AppendFloat(nil, f, 'g', sigDigits, 64)
}

// sweepError is an error of one of the package's kinds (ErrSyntax,
// ErrNoPath, ErrTooBig) whose message says only what is wrong, so that
// wrapped messages do not repeat the kind.
type sweepError struct {
	kind error
	msg  string
}

func (e *sweepError) Error() string        { return e.msg }
func (e *sweepError) Is(target error) bool { return target == e.kind }

// errf returns a sweepError of kind.
func errf(kind error, format string, args ...any) error {
	return &sweepError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
