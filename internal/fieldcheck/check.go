package fieldcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/mljob/mljob/internal/jobfields"
	"github.com/mljob/mljob/internal/suggest"
)

// maxShown is the most bytes of a value a message shows.
const maxShown = 60

// Problem is what is wrong with one field of a job.
type Problem struct {
	Path string // the field's path in the job, indices included: hiddenLayers.0.activation
	// Unknown marks a field the declaration does not name: the script
	// ignores it, so it is a warning, unless the submit is strict. Every
	// other problem is a value the script would refuse.
	Unknown bool
	// Msg says what is wrong and what is allowed:
	// `hiddenLayers.0.activation: "swish" is not one of relu, tanh, …`,
	// `field "learningrate" is not a field of nn.py; did you mean "learningRate"?`.
	Msg string
}

// Check checks job, a JSON object, against d: each field the declaration
// names must hold a value it allows (null is left to the script, which
// reads it as absent or refuses it), and each field it does not name is an
// Unknown problem, unless it is one of Standard or below a free object, a
// list without declared items or an object without declared keys. job must
// be valid JSON (pyexec.ReadJob has read it): Check reads it in place. It
// returns nil when nothing is wrong.
func (d *Decl) Check(job []byte) []Problem {
	w := walk{d: d, js: job}
	if i := jobfields.SkipSpace(job, 0); i < len(job) && job[i] == '{' {
		w.object(&d.root, i)
	}
	return w.problems
}

// walk is one Check: the JSON, where in it the walk is, what it found.
type walk struct {
	d        *Decl
	js       []byte
	path     []seg // from the top to the value being checked
	problems []Problem
}

// seg is one part of the path being walked: an object's key, or a list's
// index (key nil).
type seg struct {
	key []byte
	idx int
}

// object checks the members of the object at js[i], declared by n, and
// returns the index just past it: each byte of a job is scanned once.
func (w *walk) object(n *node, i int) int {
	js := w.js
	j := jobfields.SkipSpace(js, i+1)
	for js[j] != '}' {
		kEnd := jobfields.ValueEnd(js, j)
		key := js[j+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var s string
			_ = json.Unmarshal(js[j:kEnd], &s) // valid JSON: a key is a string
			key = []byte(s)
		}
		v := jobfields.SkipSpace(js, jobfields.SkipSpace(js, kEnd)+1) // past the ':'
		w.path = append(w.path, seg{key: key})
		end := w.member(n, key, v)
		w.path = w.path[:len(w.path)-1]
		j = jobfields.SkipSpace(js, end)
		if js[j] == ',' {
			j = jobfields.SkipSpace(js, j+1)
		}
	}
	return j + 1
}

// member checks the member key (value at js[v]) of an object declared by
// n, and returns the index just past the value.
func (w *walk) member(n *node, key []byte, v int) int {
	if child := n.keys[string(key)]; child != nil {
		return w.value(child, v)
	}
	switch {
	case n == &w.d.root && isStandard(key):
	case n.field != nil && (n.field.Free || len(n.keys) == 0):
		// A free object, or one whose keys are not declared: nothing to
		// check them against.
	default:
		w.unknown(n, string(key))
	}
	return jobfields.ValueEnd(w.js, v)
}

// isStandard reports whether key is one of Standard.
func isStandard(key []byte) bool {
	for _, s := range Standard {
		if string(key) == s {
			return true
		}
	}
	return false
}

// value checks the value at js[v] against n's field, then what it holds,
// and returns the index just past it.
func (w *walk) value(n *node, v int) int {
	js, f := w.js, n.field
	switch c := js[v]; {
	case c == 'n':
		return v + len("null") // the script says: absent to some fields, refused by others
	case c == '{' && f.Type == Object:
		return w.object(n, v)
	case c == '[' && f.Type == List:
		if n.item != nil {
			return w.list(n.item, v)
		}
	}
	end := jobfields.ValueEnd(js, v)
	if !f.allows(js[v:end]) {
		w.refuse(js[v:end], f)
	}
	return end
}

// list checks each item of the list at js[i] against item, and returns
// the index just past it.
func (w *walk) list(item *node, i int) int {
	js := w.js
	j := jobfields.SkipSpace(js, i+1)
	for idx := 0; js[j] != ']'; idx++ {
		w.path = append(w.path, seg{idx: idx})
		end := w.value(item, j)
		w.path = w.path[:len(w.path)-1]
		j = jobfields.SkipSpace(js, end)
		if js[j] == ',' {
			j = jobfields.SkipSpace(js, j+1)
		}
	}
	return j + 1
}

// allows reports whether raw, one JSON value that is not null, is a value
// of f.
func (f *Field) allows(raw []byte) bool {
	switch f.Type {
	case Number, Integer:
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return false
		}
		x, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsInf(x, 0) { // 1e400: the scripts refuse an infinite number
			return false
		}
		return (f.Type == Number || x == math.Trunc(x)) && f.inBounds(x)
	case String:
		if raw[0] != '"' {
			return false
		}
		return f.Choices == nil || f.isChoice(raw)
	case Boolean:
		return raw[0] == 't' || raw[0] == 'f'
	case List:
		return raw[0] == '['
	case Object:
		return raw[0] == '{'
	}
	return false
}

// inBounds reports whether x is within f's min and max.
func (f *Field) inBounds(x float64) bool {
	if b := f.Min; b != nil && (x < b.Value || b.Exclusive && x == b.Value) {
		return false
	}
	if b := f.Max; b != nil && (x > b.Value || b.Exclusive && x == b.Value) {
		return false
	}
	return true
}

// isChoice reports whether the JSON string lit is one of f's choices,
// ignoring case as the scripts do.
func (f *Field) isChoice(lit []byte) bool {
	s := lit[1 : len(lit)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		var u string
		_ = json.Unmarshal(lit, &u) // valid JSON
		s = []byte(u)
	}
	for _, c := range f.choices {
		if bytes.EqualFold(c, s) {
			return true
		}
	}
	return false
}

// pathString is path, in the one dotted-path syntax.
func pathString(path []seg) string {
	var b []byte
	for i, s := range path {
		if i > 0 {
			b = append(b, '.')
		}
		if s.key == nil {
			b = strconv.AppendInt(b, int64(s.idx), 10)
		} else {
			b = jobfields.AppendKey(b, string(s.key))
		}
	}
	return string(b)
}

// refuse records a value f does not allow.
func (w *walk) refuse(raw []byte, f *Field) {
	p := pathString(w.path)
	msg := fmt.Sprintf("%s is not %s", shown(raw), f.want)
	if p != "" {
		msg = p + ": " + msg
	}
	w.problems = append(w.problems, Problem{Path: p, Msg: msg})
}

// unknown records key, which n does not declare, with the declared name
// nearest to it.
func (w *walk) unknown(n *node, key string) {
	p := pathString(w.path)
	w.problems = append(w.problems, Problem{Path: p, Unknown: true, Msg: w.d.unknownMsg(n, key, p, w.path)})
}

// unknownMsg is the message of an undeclared field at p (path, as parts),
// key of an object declared by n. It is remembered by p: a sweep repeats
// the same typo in every job, and finding the nearest name is the dear
// part of a check.
func (d *Decl) unknownMsg(n *node, key, p string, path []seg) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if msg, ok := d.unknown[p]; ok {
		return msg
	}
	msg := fmt.Sprintf("field %q is not a field of %s", p, d.Script)
	if near := suggest.Nearest(key, n.names); near != "" {
		above := path[:len(path)-1]
		msg += fmt.Sprintf("; did you mean %q?", pathString(append(above[:len(above):len(above)], seg{key: []byte(near)})))
	}
	if d.unknown == nil {
		d.unknown = map[string]string{}
	}
	d.unknown[p] = msg
	return msg
}

// shown is a value as a message shows it: its JSON text, cut to maxShown
// bytes.
func shown(raw []byte) string {
	if len(raw) <= maxShown {
		return string(raw)
	}
	cut := maxShown - 3
	for cut > 0 && !utf8.RuneStart(raw[cut]) {
		cut--
	}
	return string(raw[:cut]) + "…"
}
