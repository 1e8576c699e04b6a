package jobfields

import (
	"errors"
	"fmt"
	"strings"
)

// The one dotted-path syntax of mljob: sweeps (--grid, --random, sweep
// files), outcomes --columns, the outcomes table's headers and the
// report's columns all read and write paths so. Parts are joined by dots;
// a backslash escapes the next character, so a key holding a dot or a
// backslash is named "a\.b" or "a\\b", and "a.b" is the key b inside the
// object a.

// ErrPath is the cause of ParsePath's errors, for errors.Is.
var ErrPath = errors.New("bad path")

// ParsePath splits a dotted path into its keys and indices, escapes
// undone: "a\.b.0" is ["a.b", "0"].
func ParsePath(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty path", ErrPath)
	}
	var parts []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("%w: path %q ends in a backslash", ErrPath, s)
			}
			i++
			b.WriteByte(s[i])
		case '.':
			parts = append(parts, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	parts = append(parts, b.String())
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("%w: path %q has an empty part", ErrPath, s)
		}
	}
	return parts, nil
}

// AppendKey appends key to dst as one part of a dotted path: a backslash
// before each dot and backslash, so that ParsePath gives key back.
func AppendKey(dst []byte, key string) []byte {
	if !strings.ContainsAny(key, `.\`) {
		return append(dst, key...)
	}
	for i := 0; i < len(key); i++ {
		if key[i] == '.' || key[i] == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, key[i])
	}
	return dst
}

// JoinPath writes parts as one dotted path, the inverse of ParsePath.
func JoinPath(parts ...string) string {
	var b []byte
	for i, p := range parts {
		if i > 0 {
			b = append(b, '.')
		}
		b = AppendKey(b, p)
	}
	return string(b)
}

// depth counts the separating dots of a path, not the escaped ones.
func depth(p string) int {
	n := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '.':
			n++
		}
	}
	return n
}
