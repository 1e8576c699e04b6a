package sweep

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/jobfields"
)

// Path is a parsed dotted path into a job: object keys and array indices.
type Path struct {
	text string
	segs []string
}

// ParsePath parses a dotted path, in jobfields' one syntax: a backslash
// escapes the next character, so that a key holding a dot can be named
// ("a\.b").
func ParsePath(s string) (Path, error) {
	segs, err := jobfields.ParsePath(s)
	if err != nil {
		return Path{}, errf(ErrSyntax, "%s", strings.TrimPrefix(err.Error(), jobfields.ErrPath.Error()+": "))
	}
	return Path{text: s, segs: segs}, nil
}

// String returns the path as written.
func (p Path) String() string { return p.text }

// Parts returns the keys and indices of the path, escapes undone: "a\.b.0"
// is ["a.b", "0"].
func (p Path) Parts() []string { return slices.Clone(p.segs) }

// target is where one path's value goes in a base job: the bytes
// [start, end) are replaced by prefix + value + suffix. For a path that
// exists, prefix and suffix are empty; a new path (allowed by AllowNew) is
// an insertion (start == end) whose prefix names the missing keys.
type target struct {
	start, end     int
	prefix, suffix string
	slot           int    // index of the path in the plan
	newKey         string // first key created, for a new path
}

// locate finds where p's value is in the JSON text b, which must be valid.
// A missing key is ErrNoPath unless allowNew, when the target inserts it
// (and any keys below it) as the last member of the deepest object that
// exists. Duplicate keys resolve to the last one, as JSON decoders do.
func locate(b []byte, p Path, allowNew bool) (target, error) {
	i := jobfields.SkipSpace(b, 0)
	for si, seg := range p.segs {
		where := strings.Join(p.segs[:si], ".")
		if where == "" {
			where = "the job"
		}
		switch b[i] {
		case '{':
			found, lastEnd := jobfields.Member(b, i, seg)
			if found >= 0 {
				i = found
				continue
			}
			if !allowNew {
				return target{}, errf(ErrNoPath, "%s has no key %q", where, seg)
			}
			t := target{start: i + 1, newKey: seg}
			if lastEnd >= 0 {
				t.start = lastEnd
				t.prefix = ", "
			}
			for k, s := range p.segs[si:] {
				if k > 0 {
					t.prefix += "{"
					t.suffix += "}"
				}
				t.prefix += quote(s) + ": "
			}
			t.end = t.start
			return t, nil
		case '[':
			idx, err := strconv.Atoi(seg)
			if err != nil || idx < 0 {
				return target{}, errf(ErrNoPath, "%s is an array; %q is not an index", where, seg)
			}
			found, n := jobfields.Element(b, i, idx)
			if found < 0 {
				// Even with --allow-new: appending to an array would shift
				// what index means between base jobs.
				return target{}, errf(ErrNoPath, "%s has %d element(s); index %d is out of range", where, n, idx)
			}
			i = found
		default:
			return target{}, errf(ErrNoPath, "%s is a %s, not an object or array", where, kind(b[i]))
		}
	}
	return target{start: i, end: jobfields.ValueEnd(b, i)}, nil
}

// kind names the JSON type starting with c.
func kind(c byte) string {
	switch c {
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// quote renders s as a JSON string without HTML escaping.
func quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(buf.String(), "\n")
}
