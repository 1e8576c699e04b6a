// Package jobfields flattens a job's JSON into dotted paths
// ("hiddenLayers.0.dropout") and finds the paths a set of jobs varies in:
// the parameter columns of mljob outcomes and mljob report.
package jobfields

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Flatten maps each leaf of the first JSON value in spec to its dotted
// path. A leaf is what encoding/json decodes with UseNumber (json.Number,
// string, bool or nil, so numbers stay as written), or the string "[]" or
// "{}" for an empty array or for an empty object below the top. Elements of
// a top-level array are ".0", ".1", ...; a top-level scalar is at "". object
// reports whether the value is a JSON object, the only shape a job has;
// invalid JSON gives no fields.
func Flatten(spec []byte) (fields map[string]any, object bool) {
	fields = map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return fields, false
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 && prefix != "" {
				fields[prefix] = "{}"
			}
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, e)
			}
		case []any:
			if len(x) == 0 {
				fields[prefix] = "[]"
			}
			for i, e := range x {
				walk(prefix+"."+strconv.Itoa(i), e)
			}
		default:
			fields[prefix] = x
		}
	}
	walk("", v)
	_, object = v.(map[string]any)
	return fields, object
}

// Text is a leaf of Flatten as a table shows it: a string as itself, a
// number as written, null as "null".
func Text(leaf any) string {
	switch x := leaf.(type) {
	case nil:
		return "null"
	case string:
		return x
	case json.Number:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

// Varying returns the paths whose value is not the same in every spec
// (absent counts as a value), in ComparePaths order. One spec varies in
// nothing. V is whatever the caller keeps of a leaf: equal values are the
// same value.
func Varying[V comparable](specs []map[string]V) []string {
	if len(specs) < 2 {
		return nil
	}
	all := map[string]bool{}
	for _, s := range specs {
		for k := range s {
			all[k] = true
		}
	}
	var out []string
	for p := range all {
		first, firstOK := specs[0][p]
		for _, s := range specs[1:] {
			v, ok := s[p]
			if ok != firstOK || v != first {
				out = append(out, p)
				break
			}
		}
	}
	slices.SortFunc(out, ComparePaths)
	return out
}

// ComparePaths orders paths as parameter columns: shallower first (a
// sweep's knobs are usually top-level, and nested paths are long), then by
// name.
func ComparePaths(a, b string) int {
	da, db := strings.Count(a, "."), strings.Count(b, ".")
	if da != db {
		return da - db
	}
	return strings.Compare(a, b)
}
