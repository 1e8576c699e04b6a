package hosts

import (
	"bytes"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// yaml.v3's messages, as its decoder words them; typeError and syntaxError
// reword them.
var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.+) not found in type (\S+)$`)
	cannotRE       = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
	dupKeyRE       = regexp.MustCompile(`^line (\d+): mapping key "(.*)" already defined at line (\d+)$`)
	lineRE         = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
)

// syntaxError reports a YAML parse error at its line. yaml.v3's line needs
// care: for parser errors ("did not find expected ...") it is the 0-based
// line where the unclosed construct began, it is left out when that is the
// first line, and a tab error names the line of the scalar being read, not
// the tab's.
func (p *parser) syntaxError(data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if parserProblems[msg] {
			line++
		}
	}
	switch {
	case strings.Contains(msg, "tab character"):
		line = max(line, 1)
		for i, l := range strings.Split(string(data), "\n")[line-1:] {
			if indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]; strings.Contains(indent, "\t") {
				line += i
				break
			}
		}
	case strings.Contains(msg, "control characters"):
		if i := bytes.IndexFunc(data, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' }); i >= 0 {
			line = 1 + bytes.Count(data[:i], []byte("\n"))
		}
	}
	p.addf(max(line, 1), "yaml: %s", msg)
}

// parserProblems are the messages of yaml.v3's parser (not its scanner),
// whose line is off by one.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
}

// typeError rewords one message of a *yaml.TypeError, naming the part of the
// file and what was expected instead of Go type names.
func (p *parser) typeError(msg string) {
	if m := unknownFieldRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.badLines[line] = true
		var known []string
		in := "at the top level"
		switch {
		case strings.HasSuffix(m[3], "hostEntry"):
			known = yamlKeys(reflect.TypeFor[hostEntry]())
			in = "in " + p.where(line)
		case strings.HasSuffix(m[3], "settings"):
			known = yamlKeys(reflect.TypeFor[settings]())
			in = "in defaults"
		default:
			known = yamlKeys(reflect.TypeFor[fileDoc]())
		}
		p.addf(line, "unknown key %q %s (known: %s)", m[2], in, strings.Join(known, ", "))
		return
	}
	if m := cannotRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.badLines[line] = true
		subject, got := "", m[3]
		if strings.HasSuffix(m[4], "fileDoc") {
			subject = "the file: "
		} else if key, v := keyAt(p.root, line, m[2], m[3]); key != "" {
			subject = key + ": "
			if v.Kind == yaml.ScalarNode {
				got = v.Value // yaml.v3 shortens long values in its message
			}
		}
		if got == "" {
			got = "a " + map[string]string{"map": "mapping", "seq": "list"}[m[2]]
		} else {
			got = strconv.Quote(got)
		}
		p.addf(line, "%s%swant %s, got %s", prefix(p.where(line)), subject, want(m[4]), got)
		return
	}
	if m := dupKeyRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.badLines[line] = true
		p.addf(line, "%sduplicate key %q (also at line %s)", prefix(p.where(line)), m[2], m[3])
		return
	}
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.badLines[line] = true
		p.addf(line, "%s%s", prefix(p.where(line)), m[2])
		return
	}
	p.addf(0, "%s", msg)
}

func prefix(where string) string {
	if where == "" {
		return ""
	}
	return where + ": "
}

// want says, in YAML's words (a list, a mapping, a number…), what a key
// should hold, given the Go type yaml.v3 names in a type error.
func want(goType string) string {
	name := strings.TrimPrefix(goType, "*")
	if words, ok := wantWords[name]; ok {
		return words
	}
	if t, ok := rawTypes[name]; ok {
		return kindWords(t.Kind())
	}
	// A type outside the file's structs: guess from the shape of its name.
	for _, k := range []reflect.Kind{reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Bool, reflect.String} {
		if name == k.String() {
			return kindWords(k)
		}
	}
	switch {
	case strings.HasPrefix(name, "[]"):
		return kindWords(reflect.Slice)
	case strings.HasPrefix(name, "map["):
		return kindWords(reflect.Map)
	}
	return "another kind of value"
}

// wantWords are the types whose kind alone says too little.
var wantWords = map[string]string{
	"time.Duration":     "a duration such as 10s",
	"map[string]string": "a mapping of names to values",
	"hosts.settings":    "a mapping of settings",
	"hosts.hostEntry":   "a mapping of host settings",
	"[]hosts.hostEntry": "a list of host entries",
	"hosts.fileDoc":     "a mapping with defaults and hosts",
}

// rawTypes are the types the file's keys decode into, by the name yaml.v3
// gives them in its messages.
var rawTypes = func() map[string]reflect.Type {
	m := map[string]reflect.Type{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if _, ok := m[t.String()]; ok {
			return
		}
		m[t.String()] = t
		switch t.Kind() {
		case reflect.Slice, reflect.Array, reflect.Map:
			walk(t.Elem())
		case reflect.Struct:
			for f := range t.Fields() {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[fileDoc]())
	return m
}()

// kindWords names a kind of Go value as the YAML that decodes into it.
func kindWords(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return "another kind of value"
}

// keyAt finds the key whose value sits at line with the given tag (and, for
// a scalar, equals value), so a type error can name the key; it returns the
// key and its value node.
// The deepest match wins: "hosts:" and a first entry's "- name: [x]" can
// share a line.
func keyAt(n *yaml.Node, line int, tag, value string) (string, *yaml.Node) {
	if n == nil {
		return "", nil
	}
	for _, c := range n.Content {
		if k, v := keyAt(c, line, tag, value); k != "" {
			return k, v
		}
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			v := n.Content[i+1]
			if v.Line == line && v.ShortTag() == "!!"+tag && (v.Kind != yaml.ScalarNode || sameScalar(v.Value, value)) {
				return n.Content[i].Value, v
			}
		}
	}
	return "", nil
}

// sameScalar reports whether a value as yaml.v3 quotes it in a type error
// is full: a value longer than 10 bytes comes as its first 7 and "...".
func sameScalar(full, quoted string) bool {
	if len(full) > 10 {
		return len(quoted) == 10 && strings.HasSuffix(quoted, "...") && full[:7] == quoted[:7]
	}
	return full == quoted
}

// yamlKeys lists the yaml keys of a struct type, inlined structs included, sorted.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "inline" {
			keys = append(keys, yamlKeys(f.Type)...)
			continue
		}
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	sort.Strings(keys)
	return keys
}

// The keys of an entry and of defaults that hold an integer, found from the
// structs so that a key added later is covered too.
var (
	hostIntegerKeys     = integerKeys(reflect.TypeFor[hostEntry]())
	settingsIntegerKeys = integerKeys(reflect.TypeFor[settings]())
)

// integerKeys lists the yaml keys of a struct type, inlined structs included,
// whose value decodes into an integer (time.Duration aside: yaml.v3 wants a
// string with a unit there and refuses a bare number itself).
func integerKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" {
			keys = append(keys, integerKeys(f.Type)...)
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		// Every int and uint kind: those kindWords calls "an integer".
		if name != "" && name != "-" && ft != reflect.TypeFor[time.Duration]() && kindWords(ft.Kind()) == kindWords(reflect.Int) {
			keys = append(keys, name)
		}
	}
	return keys
}

// fractions reports a number with a fraction or an exponent (YAML's !!float)
// where the file wants an integer, in the words of the type error a string
// there gets. yaml.v3 decodes such a number into an int without a word,
// truncated: port: 1.5 was port 1, slots: 0.5 "slots must be at least 1,
// got 0". Values that already have a type error are left alone.
func (p *parser) fractions() {
	check := func(m *yaml.Node, keys []string) {
		for _, key := range keys {
			v := p.value(m, key)
			if v == nil || v.Kind != yaml.ScalarNode || v.ShortTag() != "!!float" || p.badLines[v.Line] {
				continue
			}
			p.badLines[v.Line] = true
			p.addf(v.Line, "%s%s: want %s, got %q", prefix(p.where(v.Line)), key, kindWords(reflect.Int), v.Value)
		}
	}
	check(p.defaults, settingsIntegerKeys)
	for _, e := range p.entries {
		check(e, hostIntegerKeys)
	}
}
