package hosts

import (
	"reflect"
	"strings"
	"testing"
)

// TestWantSaysYAMLKinds checks that a type error names what the file should
// hold in YAML's words, for every type a key of the file decodes into: no Go
// type name (hosts.stringList, []string, *int, map[…]) reaches a message.
func TestWantSaysYAMLKinds(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		if seen[ty] {
			return
		}
		seen[ty] = true
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			walk(ty.Elem())
		case reflect.Struct:
			for f := range ty.Fields() {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[fileDoc]())
	for ty := range seen {
		// yaml.v3 names the target as reflect does, with or without the
		// pointer.
		names := []string{ty.String()}
		if ty.Kind() != reflect.Pointer {
			names = append(names, "*"+ty.String())
		}
		for _, name := range names {
			got := want(name)
			if strings.ContainsAny(got, "[]*.") || strings.Contains(got, "hosts.") || got == "" {
				t.Errorf("want(%q) = %q: a message would show a Go type", name, got)
			}
		}
	}
	for name, words := range map[string]string{
		"int": "an integer", "*float64": "a number", "bool": "true or false", "string": "a string",
		"time.Duration": "a duration such as 10s", "[]string": "a list", "hosts.stringList": "a list",
		"map[string]string": "a mapping of names to values", "[]hosts.hostEntry": "a list of host entries",
		"hosts.fileDoc": "a mapping with defaults and hosts", "[]uint8": "a list", "map[string]int": "a mapping",
		"uint16": "an integer", "somepkg.Thing": "another kind of value",
	} {
		if got := want(name); got != words {
			t.Errorf("want(%q) = %q, want %q", name, got, words)
		}
	}
}

// TestIntegerKeys checks that the keys fractions looks at are found from the
// structs: port, slots and runs_per_gpu in an entry, none in defaults (connect_timeout is a
// duration, max_load a number).
func TestIntegerKeys(t *testing.T) {
	if got, want := hostIntegerKeys, []string{"port", "slots", "runs_per_gpu"}; !reflect.DeepEqual(got, want) {
		t.Errorf("hostIntegerKeys = %q, want %q", got, want)
	}
	if got := settingsIntegerKeys; len(got) != 0 {
		t.Errorf("settingsIntegerKeys = %q, want none", got)
	}
}
