package jobfields

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Flatten maps each leaf of the first JSON value in spec to its dotted
// path (see ParsePath: a key's own dots are escaped). A leaf is what
// encoding/json decodes with UseNumber (json.Number, string, bool or nil,
// so numbers stay as written), or the string "[]" or "{}" for an empty
// array or for an empty object below the top. Elements of a top-level array
// are ".0", ".1", ...; a top-level scalar is at "". Of a repeated key the
// last counts, as decoders keep it. object reports whether the value is a
// JSON object, the only shape a job has; invalid JSON gives no fields.
func Flatten(spec []byte) (fields map[string]any, object bool) {
	var w walker
	object = w.flatten(spec)
	fields = make(map[string]any, len(w.staged))
	for _, l := range w.staged {
		if !l.dropped {
			fields[string(w.arena[l.start:l.end])] = l.value.decoded()
		}
	}
	return fields, object
}

// leafKind is the JSON type of a leaf, so that 1 and "1" are not the same
// value.
type leafKind uint8

const (
	kindNumber leafKind = iota + 1
	kindString
	kindLiteral // true, false, null
	kindEmpty   // [] or {}
)

// leafValue is a leaf as a table shows it (Text's form), with its kind.
type leafValue struct {
	text string
	kind leafKind
}

// decoded is the leaf as Flatten gives it.
func (v leafValue) decoded() any {
	switch v.kind {
	case kindNumber:
		return json.Number(v.text)
	case kindLiteral:
		switch v.text {
		case "true":
			return true
		case "false":
			return false
		}
		return nil
	}
	return v.text
}

// stagedLeaf is a leaf found by walk: its path is arena[start:end].
// dropped marks the leaves of a key that a later one of the same name
// replaced.
type stagedLeaf struct {
	start, end int
	value      leafValue
	dropped    bool
}

// memberKeys is a key of an object being walked and the first of its
// leaves, so a repeated key can drop them.
type memberKey struct {
	name       string
	start, end int
}

// walker flattens a JSON value in place, without decoding it: the one
// flattener behind Flatten and Flattener. Its scratch space is kept from
// spec to spec.
type walker struct {
	path   []byte // the path being built
	keys   []memberKey
	staged []stagedLeaf
	arena  []byte
}

// flatten walks the first JSON value of spec into w.staged and reports
// whether it is an object.
func (w *walker) flatten(spec []byte) (object bool) {
	w.path, w.keys, w.staged, w.arena = w.path[:0], w.keys[:0], w.staged[:0], w.arena[:0]
	if !json.Valid(spec) {
		// Past the first value, or broken: the first value if it decodes.
		var raw json.RawMessage
		if json.NewDecoder(bytes.NewReader(spec)).Decode(&raw) != nil {
			return false
		}
		spec = raw
	}
	i := SkipSpace(spec, 0)
	w.walk(spec, i)
	return spec[i] == '{'
}

// walk flattens the value at spec[i] under the path in w.path and returns
// the end of the value.
func (w *walker) walk(spec []byte, i int) int {
	switch spec[i] {
	case '{':
		return w.object(spec, i)
	case '[':
		prefix := len(w.path)
		i = SkipSpace(spec, i+1)
		if spec[i] == ']' {
			w.stage(leafValue{"[]", kindEmpty})
			return i + 1
		}
		for n := 0; ; n++ {
			w.path = strconv.AppendInt(append(w.path[:prefix], '.'), int64(n), 10)
			var last bool
			if i, last = w.member(spec, i, prefix, ']'); last {
				return i
			}
		}
	case '"':
		end := ValueEnd(spec, i)
		w.stage(leafValue{Unquote(spec[i:end]), kindString})
		return end
	default:
		end := ValueEnd(spec, i)
		kind := kindLiteral
		if spec[i] == '-' || spec[i] >= '0' && spec[i] <= '9' {
			kind = kindNumber // as written, as UseNumber keeps it
		}
		w.stage(leafValue{string(spec[i:end]), kind})
		return end
	}
}

// object walks the object at spec[i].
func (w *walker) object(spec []byte, i int) int {
	prefix := len(w.path)
	keys0 := len(w.keys)
	defer func() { w.keys = w.keys[:keys0] }()
	i = SkipSpace(spec, i+1)
	if spec[i] == '}' {
		if prefix > 0 {
			w.stage(leafValue{"{}", kindEmpty})
		}
		return i + 1
	}
	for {
		end := ValueEnd(spec, i)
		k := Unquote(spec[i:end])
		for _, mk := range w.keys[keys0:] {
			if mk.name == k { // a later duplicate replaces a whole subtree
				for j := mk.start; j < mk.end; j++ {
					w.staged[j].dropped = true
				}
			}
		}
		w.path = w.path[:prefix]
		if prefix > 0 {
			w.path = append(w.path, '.')
		}
		w.path = AppendKey(w.path, k)
		i = SkipSpace(spec, SkipSpace(spec, end)+1) // past the colon
		w.keys = append(w.keys, memberKey{name: k, start: len(w.staged)})
		mk := len(w.keys) - 1
		var last bool
		i, last = w.member(spec, i, prefix, '}')
		w.keys[mk].end = len(w.staged)
		if last {
			return i
		}
	}
}

// member walks the value at spec[i], a member of the object or array that
// closes with end, under w.path, then cuts w.path back to prefix. It
// returns where the next member starts, or just past end when this was the
// last one (last).
func (w *walker) member(spec []byte, i, prefix int, end byte) (next int, last bool) {
	i = w.walk(spec, i)
	w.path = w.path[:prefix]
	i = SkipSpace(spec, i)
	if spec[i] == end {
		return i + 1, true
	}
	return SkipSpace(spec, i+1), false
}

// stage keeps v as the value of the path in w.path.
func (w *walker) stage(v leafValue) {
	start := len(w.arena)
	w.arena = append(w.arena, w.path...)
	w.staged = append(w.staged, stagedLeaf{start: start, end: len(w.arena), value: v})
}

// Unquote decodes a JSON string literal (valid JSON) as json.Unmarshal
// decodes it.
func Unquote(lit []byte) string {
	body := lit[1 : len(lit)-1]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body)
	}
	var s string
	_ = json.Unmarshal(lit, &s) // lit is valid JSON
	return s
}

// Param is one dotted path seen by a Flattener, with what Varying needs
// to know of it.
type Param struct {
	Path string
	// ID numbers the paths in the order first seen, from 0, for a
	// caller's slices indexed by path.
	ID      int
	first   leafValue // its value in the first spec
	inFirst bool      // whether the first spec has it
	count   int       // how many specs have it
	differs bool      // whether a later spec has another value
	row     int       // the last spec that had it, so a path counts once per spec
}

// Pair is one leaf of a flattened spec: its path and its value as Text
// shows it.
type Pair struct {
	Param *Param
	Value string
	kind  leafKind
}

// IsString reports whether the leaf is a JSON string, so that a caller
// writing it back as JSON quotes Value; every other leaf (a number as
// written, true, false, null, [] or {}) is JSON as it stands.
func (p Pair) IsString() bool { return p.kind == kindString }

// Flattener flattens specs one at a time, as Flatten does, and keeps track
// of the paths that vary as the specs come, so that a table of many rows
// needs neither a map per row nor a second pass over the specs.
type Flattener struct {
	w      walker
	params map[string]*Param
	rows   int
	pairs  []Pair
}

// Add flattens spec, the next row's, and returns its leaves.
func (f *Flattener) Add(spec []byte) []Pair {
	if f.params == nil {
		f.params = map[string]*Param{}
	}
	f.pairs = f.pairs[:0]
	f.w.flatten(spec)
	for _, l := range f.w.staged {
		if !l.dropped {
			f.leaf(f.w.arena[l.start:l.end], l.value)
		}
	}
	f.rows++
	return slices.Clone(f.pairs)
}

// leaf records v as the value of path in the current row.
func (f *Flattener) leaf(path []byte, v leafValue) {
	p, ok := f.params[string(path)]
	if !ok {
		p = &Param{Path: string(path), ID: len(f.params), row: -1}
		f.params[p.Path] = p
	}
	if p.row == f.rows {
		return // the same path twice in one spec (an empty key: {"": {"a": 1}, "a": 2})
	}
	p.row = f.rows
	p.count++
	if f.rows == 0 {
		p.first, p.inFirst = v, true
	} else if !p.inFirst || v != p.first {
		p.differs = true
	}
	f.pairs = append(f.pairs, Pair{Param: p, Value: v.text, kind: v.kind})
}

// Params is how many paths the specs so far have had: one more than the
// highest Param.ID.
func (f *Flattener) Params() int { return len(f.params) }

// Varying returns the paths whose value is not the same in every spec
// added (missing counts as a value), in ComparePaths order, as Varying
// finds them in Flatten's maps.
func (f *Flattener) Varying() []*Param {
	if f.rows < 2 {
		return nil
	}
	var out []*Param
	for _, p := range f.params {
		if p.differs || !p.inFirst || p.count != f.rows {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *Param) int { return ComparePaths(a.Path, b.Path) })
	return out
}
