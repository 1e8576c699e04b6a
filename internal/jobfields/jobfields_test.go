package jobfields

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

func TestFlatten(t *testing.T) {
	tests := []struct {
		name       string
		spec       string
		want       map[string]any
		wantObject bool
	}{
		{"scalars", `{"lr":0.10,"n":"adam","b":true,"z":null}`,
			map[string]any{"lr": json.Number("0.10"), "n": "adam", "b": true, "z": nil}, true},
		{"nested", `{"h":[{"d":0.1},{"d":2}],"o":{"m":1}}`,
			map[string]any{"h.0.d": json.Number("0.1"), "h.1.d": json.Number("2"), "o.m": json.Number("1")}, true},
		{"empty containers", `{"l":[],"o":{}}`, map[string]any{"l": "[]", "o": "{}"}, true},
		{"empty object", `{}`, map[string]any{}, true},
		{"first value only", `{"a":1} {"b":2}`, map[string]any{"a": json.Number("1")}, true},
		{"top-level array", `[1,[]]`, map[string]any{".0": json.Number("1"), ".1": "[]"}, false},
		{"top-level scalar", `null`, map[string]any{"": nil}, false},
		{"dotted key and nested key", `{"a.b":1,"a":{"b":2},"c\\d":3}`,
			map[string]any{`a\.b`: json.Number("1"), "a.b": json.Number("2"), `c\\d`: json.Number("3")}, true},
		{"duplicate key replaces its subtree", `{"a":{"b":1},"a":{"c":2}}`, map[string]any{"a.c": json.Number("2")}, true},
		{"invalid", `nonsense`, map[string]any{}, false},
		{"empty", ``, map[string]any{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, object := Flatten([]byte(tt.spec))
			if !reflect.DeepEqual(got, tt.want) || object != tt.wantObject {
				t.Errorf("Flatten(%s) = %#v, %v; want %#v, %v", tt.spec, got, object, tt.want, tt.wantObject)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		leaf any
		want string
	}{
		{nil, "null"},
		{"x y", "x y"},
		{json.Number("1e0"), "1e0"},
		{true, "true"},
		{"{}", "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Text(tt.leaf); got != tt.want {
				t.Errorf("Text(%#v) = %q, want %q", tt.leaf, got, tt.want)
			}
		})
	}
}

func TestVarying(t *testing.T) {
	tests := []struct {
		name  string
		specs []string
		want  []string
	}{
		{"one spec varies nothing", []string{`{"a":1}`}, nil},
		{"same everywhere", []string{`{"a":1,"b":[1]}`, `{"a":1,"b":[1]}`}, nil},
		{"top-level first, then by name", []string{`{"z":1,"a":{"b":1},"c":1}`, `{"z":2,"a":{"b":2},"c":2}`},
			[]string{"c", "z", "a.b"}},
		{"absent counts", []string{`{"a":1}`, `{"a":1,"b":"x"}`}, []string{"b"}},
		{"absent first", []string{`{}`, `{"a":1}`, `{"a":1}`}, []string{"a"}},
		{"number and string differ", []string{`{"a":1}`, `{"a":"1"}`}, []string{"a"}},
		{"numbers as written", []string{`{"a":1}`, `{"a":1.0}`}, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs := make([]map[string]any, len(tt.specs))
			for i, s := range tt.specs {
				specs[i], _ = Flatten([]byte(s))
			}
			if got := Varying(specs); !slices.Equal(got, tt.want) {
				t.Errorf("Varying = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestComparePaths(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"a", "a", 0},
		{"b", "a.a", -1},
		{"a.b.c", "z", 1},
		{"a.b", "a.c", -1},
		{`a\.b`, "a.a", -1}, // an escaped dot is no deeper
	}
	for _, tt := range tests {
		t.Run(tt.a+" "+tt.b, func(t *testing.T) {
			got := ComparePaths(tt.a, tt.b)
			if (got < 0) != (tt.want < 0) || (got > 0) != (tt.want > 0) {
				t.Errorf("ComparePaths(%q, %q) = %d, want sign of %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestValueEnd(t *testing.T) {
	tests := []struct {
		name string
		js   string
		i    int
		want string // js[i:ValueEnd(js, i)]
	}{
		{"number", `1.5e3, 2`, 0, `1.5e3`},
		{"number last", `{"a":12}`, 5, `12`},
		{"literal", `[true ]`, 1, `true`},
		{"string with escapes", `"a\"}]\\" x`, 0, `"a\"}]\\"`},
		{"object", `{"a":[1,{"b":"}"}],"c":{}} x`, 0, `{"a":[1,{"b":"}"}],"c":{}}`},
		{"array in object", `{"a": [1, [2]] }`, 6, `[1, [2]]`},
		{"empty", `[] `, 0, `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.js[tt.i:ValueEnd([]byte(tt.js), tt.i)]; got != tt.want {
				t.Errorf("value = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSkipSpace(t *testing.T) {
	tests := []struct {
		js   string
		i    int
		want int
	}{
		{" \t\r\n1", 0, 4},
		{"1 ", 0, 0},
		{"1  ", 1, 3},
		{"", 0, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q@%d", tt.js, tt.i), func(t *testing.T) {
			if got := SkipSpace([]byte(tt.js), tt.i); got != tt.want {
				t.Errorf("SkipSpace = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestMember(t *testing.T) {
	tests := []struct {
		name      string
		js        string
		key       string
		want      string // the value found; "" for none
		wantAfter string // what follows the last member's value; "" for an empty object
	}{
		{"found", `{"a": 1, "b" : [2] }`, "b", `[2]`, ` }`},
		{"missing", `{"a":1,"b":{"c":2}}`, "c", ``, `}`},
		{"last of a repeated key", `{"a":1,"a":2,"z":3}`, "a", `2`, `}`},
		{"escaped key", `{"a\u002eb":1,"a\\b":2}`, "a.b", `1`, `}`},
		{"backslash in key", `{"a.b":1,"a\\b":2}`, `a\b`, `2`, `}`},
		{"empty", `{ }`, "a", ``, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.js)
			value, lastEnd := Member(b, 0, tt.key)
			got := ""
			if value >= 0 {
				got = tt.js[value:ValueEnd(b, value)]
			}
			after := ""
			if lastEnd >= 0 {
				after = tt.js[lastEnd:]
			}
			if got != tt.want || after != tt.wantAfter {
				t.Errorf("Member(%s, %q) = %q, then %q; want %q, then %q", tt.js, tt.key, got, after, tt.want, tt.wantAfter)
			}
		})
	}
}

func TestElement(t *testing.T) {
	tests := []struct {
		name      string
		js        string
		n         int
		want      string // the element found; "" for none
		wantCount int
	}{
		{"first", `[ {"a":[1]} , 2]`, 0, `{"a":[1]}`, 0},
		{"last", `[1, "x,]", 3]`, 2, `3`, 2},
		{"past the end", `[1, 2]`, 2, ``, 2},
		{"empty", `[ ]`, 0, ``, 0},
		{"negative", `[1]`, -1, ``, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.js)
			value, count := Element(b, 0, tt.n)
			got := ""
			if value >= 0 {
				got = tt.js[value:ValueEnd(b, value)]
			}
			if got != tt.want || count != tt.wantCount {
				t.Errorf("Element(%s, %d) = %q, %d; want %q, %d", tt.js, tt.n, got, count, tt.want, tt.wantCount)
			}
		})
	}
}
