package outcomeview

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/pyexec"
)

// Fill gives a row the NaN or infinite loss and metric its script
// reported: the one rule, applied when a row is read. SQLite stores a NaN
// as NULL, so the column alone cannot tell NaN from "not reported"; the
// Outcome JSON still holds the value, read as the dispatcher read it when
// it recorded the outcome (pyexec.Number: "NaN", "NAN", " nan ", "-inf",
// "Infinity", ...). A finite value there is left alone: the dispatcher
// would have stored it.
func Fill(r *db.OutcomeRow) {
	if r.Loss != nil && r.Metric != nil || len(r.JSON) == 0 || !json.Valid(r.JSON) {
		return
	}
	if r.Loss == nil {
		r.Loss = nonFiniteField(r.JSON, "loss")
	}
	if r.Metric == nil {
		r.Metric = nonFiniteField(r.JSON, "metric")
	}
}

// nonFiniteField returns the top-level field key of the valid JSON object
// js when it reads as NaN or an infinity, else nil.
func nonFiniteField(js []byte, key string) *float64 {
	raw, ok := LookupJSON(js, []string{key})
	if !ok {
		return nil
	}
	return nonFinite(raw)
}

// nonFinite reads raw by pyexec's rule and keeps only NaN and the
// infinities.
func nonFinite(raw []byte) *float64 {
	if f := pyexec.Number(raw); f != nil && !isFinite(*f) {
		return f
	}
	return nil
}

func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// FormatNumber shows a loss or metric: "" when nil; in CSV in full, the
// infinities as inf and -inf (what pandas.read_csv reads); in the table
// with six significant digits, NaN, +Inf and -Inf as they are.
func FormatNumber(f *float64, format string) string {
	if f == nil {
		return ""
	}
	if format == FormatCSV {
		switch {
		case math.IsInf(*f, 1):
			return "inf"
		case math.IsInf(*f, -1):
			return "-inf"
		}
		return strconv.FormatFloat(*f, 'g', -1, 64)
	}
	return strconv.FormatFloat(*f, 'g', 6, 64)
}

// AppendNumber appends a loss or metric as JSON: null when nil, NaN and
// the infinities as the strings "NaN", "+Inf" and "-Inf", as JSON has no
// such numbers.
func AppendNumber(dst []byte, f *float64) ([]byte, error) {
	switch {
	case f == nil:
		return append(dst, "null"...), nil
	case !isFinite(*f):
		return AppendString(dst, strconv.FormatFloat(*f, 'g', -1, 64)), nil
	}
	return AppendFloat(dst, *f)
}

// FormatDuration shows seconds as the table does: "12.35s" under a
// minute, else rounded to the second ("1m16s").
func FormatDuration(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	if d < time.Minute {
		return strconv.FormatFloat(sec, 'f', 2, 64) + "s"
	}
	return d.Round(time.Second).String()
}

// OneLine puts s on one line; in the table it is clipped to 80 columns.
func OneLine(s, format string) string {
	s = strings.Join(strings.Fields(s), " ")
	if format == FormatTable && len(s) > 80 {
		s = s[:79] + "…"
	}
	return s
}
