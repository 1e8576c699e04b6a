package jobfields

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The scanner below reads JSON in place, for the callers that look into a
// job or an outcome once per row and must not decode it each time. It
// trusts its input: check it with json.Valid first.

// SkipSpace returns the index of the first non-space byte of b at or after
// i (len(b) if there is none).
func SkipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// ValueEnd returns the index just past the JSON value starting at b[i].
// b must be valid JSON.
func ValueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(b)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = ValueEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default:
		j := i
		for ; j < len(b); j++ {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return j
			}
		}
		return j
	}
}

// Member finds key in the object that starts at b[i]: value is the index
// of its value (of the last, for a repeated key, as JSON decoders keep), or
// -1; lastEnd is the index just past the object's last value, where a new
// member would follow, or -1 for an empty object. b must be valid JSON.
func Member(b []byte, i int, key string) (value, lastEnd int) {
	value, lastEnd = -1, -1
	j := SkipSpace(b, i+1)
	for b[j] != '}' {
		kEnd := ValueEnd(b, j)
		v := SkipSpace(b, SkipSpace(b, kEnd)+1) // past the ':'
		if keyIs(b[j:kEnd], key) {
			value = v
		}
		lastEnd = ValueEnd(b, v)
		j = SkipSpace(b, lastEnd)
		if b[j] == ',' {
			j = SkipSpace(b, j+1)
		}
	}
	return value, lastEnd
}

// Element finds element n (from 0) of the array that starts at b[i]:
// value is the index of its value, or -1 when the array has only count
// elements. b must be valid JSON.
func Element(b []byte, i, n int) (value, count int) {
	j := SkipSpace(b, i+1)
	for ; b[j] != ']'; count++ {
		if count == n {
			return j, count
		}
		j = SkipSpace(b, ValueEnd(b, j))
		if b[j] == ',' {
			j = SkipSpace(b, j+1)
		}
	}
	return -1, count
}

// keyIs reports whether the JSON string literal lit decodes to key.
func keyIs(lit []byte, key string) bool {
	if bytes.IndexByte(lit, '\\') < 0 {
		return string(lit[1:len(lit)-1]) == key
	}
	var s string
	return json.Unmarshal(lit, &s) == nil && s == key
}

// Lookup returns the value at path in js, which must be valid JSON:
// object keys (the last of duplicates, as json.Unmarshal keeps) and array
// indices. It reads the bytes in place, so a column costs no decoding per
// row.
func Lookup(js []byte, path []string) ([]byte, bool) {
	i := SkipSpace(js, 0)
	for _, seg := range path {
		found := -1
		switch {
		case i >= len(js):
		case js[i] == '{':
			found, _ = Member(js, i, seg)
		case js[i] == '[':
			if n, err := strconv.Atoi(seg); err == nil && n >= 0 {
				found, _ = Element(js, i, n)
			}
		}
		if found < 0 {
			return nil, false
		}
		i = found
	}
	return js[i:ValueEnd(js, i)], true
}
