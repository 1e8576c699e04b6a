package jobfields

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
)

// decodeFlatten is the reference the walker is held to: the spec decoded
// by encoding/json (UseNumber), then walked, keys escaped as AppendKey
// does.
func decodeFlatten(spec []byte) map[string]string {
	out := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return out
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 && prefix != "" {
				out[prefix] = "{}"
			}
			for k, e := range x {
				p := string(AppendKey(nil, k))
				if prefix != "" {
					p = prefix + "." + p
				}
				walk(p, e)
			}
		case []any:
			if len(x) == 0 {
				out[prefix] = "[]"
			}
			for i, e := range x {
				walk(prefix+"."+strconv.Itoa(i), e)
			}
		default:
			out[prefix] = Text(x)
		}
	}
	walk("", v)
	return out
}

// The Flattener must give the decoded leaves, and Varying's columns.
func TestFlattenerMatchesDecoding(t *testing.T) {
	tests := []struct {
		name  string
		specs []string
	}{
		{"sweep", []string{`{"lr":0.1,"b":"x"}`, `{"lr":0.2,"b":"x"}`, `{"lr":0.1,"b":"x","c":null}`}},
		{"one spec", []string{`{"lr":0.1}`}},
		{"nested", []string{`{"h":[{"d":0.1},{"d":0.2}],"o":{}}`, `{"h":[{"d":0.1}],"o":{"n":"adam"}}`, `{"h":[],"o":{}}`}},
		{"numbers as written", []string{`{"x":1.0}`, `{"x":1}`, `{"x":1e0}`, `{"x":true}`, `{"x":false}`}},
		{"escapes", []string{`{"k\u00e9":"a\nb","\ud83d\ude00":"\u2028"}`, "{\"k\u00e9\":\"a\\nb\",\"s\":\"\xff\"}"}},
		{"duplicate keys", []string{`{"a":{"b":1},"a":2}`, `{"a":{"b":1}}`, `{"a":1,"a":1}`, `{"a":{"b":1,"c":2},"x":0,"a":{"c":3}}`}},
		{"not objects", []string{`[1,2]`, `nonsense`, `{"a":1} {"b":2}`, `{"a":1}`, `null`, ``}},
		{"missing first", []string{`{}`, `{"a":1}`, `{"a":1}`}},
		{"dotted keys", []string{`{"a.b":1,"a":{"b":2},"c\\d":3}`, `{"a.b":1,"a":{"b":3},"c\\d":4}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Flattener
			var want []map[string]string
			for _, s := range tt.specs {
				got := map[string]string{}
				for _, p := range f.Add([]byte(s)) {
					got[p.Param.Path] = p.Value
				}
				w := decodeFlatten([]byte(s))
				if fmt.Sprint(got) != fmt.Sprint(w) {
					t.Errorf("spec %s: leaves = %v, want %v", s, got, w)
				}
				flat, _ := Flatten([]byte(s))
				if len(flat) != len(w) {
					t.Errorf("spec %s: Flatten has %d leaves, want %d", s, len(flat), len(w))
				}
				for p, v := range flat {
					if Text(v) != w[p] {
						t.Errorf("spec %s: Flatten[%q] = %v, want %q", s, p, v, w[p])
					}
				}
				want = append(want, w)
			}
			var got []string
			for _, p := range f.Varying() {
				got = append(got, p.Path)
			}
			if w := Varying(want); !slices.Equal(got, w) {
				t.Errorf("varying = %q, want %q", got, w)
			}
		})
	}
}

// A number and a string that read the same are different values.
func TestFlattenerNumberIsNotString(t *testing.T) {
	var f Flattener
	f.Add([]byte(`{"a":1,"b":"x"}`))
	f.Add([]byte(`{"a":"1","b":"x"}`))
	var got []string
	for _, p := range f.Varying() {
		got = append(got, p.Path)
	}
	if !slices.Equal(got, []string{"a"}) {
		t.Errorf("varying = %q, want [a]", got)
	}
}

// IsString tells the leaves a JSON writer must quote from those it
// writes as they stand.
func TestPairIsString(t *testing.T) {
	var f Flattener
	got := map[string]bool{}
	for _, p := range f.Add([]byte(`{"n":1,"s":"1","t":true,"z":null,"e":[],"o":{"k":{}},"q":"[]"}`)) {
		got[p.Param.Path] = p.IsString()
	}
	want := map[string]bool{"n": false, "s": true, "t": false, "z": false, "e": false, "o.k": false, "q": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("IsString = %v, want %v", got, want)
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"a", []string{"a"}, ""},
		{"a.b.0", []string{"a", "b", "0"}, ""},
		{`a\.b.c`, []string{"a.b", "c"}, ""},
		{`a\\b`, []string{`a\b`}, ""},
		{"", nil, "bad path: empty path"},
		{`a\`, nil, `bad path: path "a\\" ends in a backslash`},
		{"a..b", nil, `bad path: path "a..b" has an empty part`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePath(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrPath) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("ParsePath = %q, %v; want %q", got, err, tt.want)
			}
			if back := JoinPath(got...); back != tt.in {
				t.Errorf("JoinPath = %q, want %q", back, tt.in)
			}
		})
	}
}
