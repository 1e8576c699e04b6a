// Package jobfields flattens a job's JSON into dotted paths
// ("hiddenLayers.0.dropout") and finds the paths a set of jobs varies in:
// the parameter columns of mljob outcomes and mljob report. It owns the one
// dotted-path syntax (ParsePath, AppendKey) and the scanner that reads JSON
// in place.
package jobfields

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

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
	da, db := depth(a), depth(b)
	if da != db {
		return da - db
	}
	return strings.Compare(a, b)
}
