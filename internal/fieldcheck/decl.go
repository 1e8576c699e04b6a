package fieldcheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mljob/mljob/internal/artifacts"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/mljob/mljob/internal/jobfields"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/suggest"
	"github.com/mljob/mljob/internal/sweep"
)

// Type is the JSON type a declared field takes.
type Type string

// The types a field may declare.
const (
	Number  Type = "number"  // a JSON number; true is not one
	Integer Type = "integer" // a number with no fractional part: 2.0 passes, as the scripts take it as 2
	String  Type = "string"
	Boolean Type = "boolean"
	List    Type = "list"
	Object  Type = "object"
)

// types are the declarable types, in the order messages list them.
var types = []Type{Number, Integer, String, Boolean, List, Object}

// fieldKeys are the keys of one field's declaration.
var fieldKeys = []string{"type", "min", "max", "exclusiveMin", "exclusiveMax", "choices", "default", "help", "free"}

// Standard are the job fields mljob itself reads or adds (the job contract,
// and the jobId and assignmentId it appends): they are fine in every job,
// declared or not.
var Standard = []string{pyexec.KeyScript, pyexec.KeyProject, pyexec.KeyData, pyexec.KeyTimeout, pyexec.KeyArtifacts, pyexec.KeyArtifactsCap, pyexec.KeyGPUs, "jobId", "assignmentId"}

// Bound is a declared min or max.
type Bound struct {
	Value     float64
	Text      string // as the file writes it, for messages
	Exclusive bool
}

// Field is one declared field.
type Field struct {
	Path      string // as declared; "*" stands for any list index: hiddenLayers.*.dropout
	Type      Type
	Min, Max  *Bound   // nil: unbounded
	Choices   []string // the strings allowed, compared ignoring case; nil: any string
	choices   [][]byte // Choices, for comparing in place
	Free      bool     // an object whose undeclared keys are fine
	Help      string
	Line      int             // of the declaration, in the file
	want      string          // what the field takes, as messages say it
	defaultN  *yaml.Node      // the declared default, checked once the tree is built
	exclusive map[string]bool // exclusiveMin, exclusiveMax as read
}

// Decl is a script's field declaration. Its methods are safe for
// concurrent use.
type Decl struct {
	Script string            // the script it declares: nn.py
	File   string            // the file it was read from, as messages name it
	Fields map[string]*Field // by declared path
	// Objective is the script's default objective, for jobs that name
	// none; the zero value when the file declares none.
	Objective objective.Objective
	// Artifacts are the globs of the files the script's runs bring home,
	// for jobs that name none (the artifacts key).
	Artifacts []string
	// Seeds are the fields that seed the script's randomness, as the
	// file's seeds key names them: mljob replicate gives each replicate
	// new values of them. Nil when the file names none.
	Seeds   []Seed
	root    node
	mu      sync.Mutex        // guards unknown
	unknown map[string]string // unknownMsg's answers, by path
}

// Seed is a declared seed field: its path and its declared default, when
// it has one that is a whole number.
type Seed struct {
	Path    string
	Default *int64
}

// node is a declared field in the tree Check walks: an object's members by
// key, a list's items.
type node struct {
	field *Field           // nil at the top
	keys  map[string]*node // an object's declared members
	item  *node            // a list's items, when declared
	names []string         // the keys (and Standard, at the top), for did-you-mean
}

// FileName is the name of script's declaration, beside it: nn.py's is
// nn.fields.yaml.
func FileName(script string) string {
	return strings.TrimSuffix(script, filepath.Ext(script)) + ".fields.yaml"
}

// Find reads the declaration of script in scriptsDir: nil and no error
// when the script has none. A declaration that cannot be read or is not
// one is an error naming the file and, where it can, the line.
func Find(scriptsDir, script string) (*Decl, error) {
	path := filepath.Join(scriptsDir, FileName(script))
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return Parse(path, script, data)
}

// yamlLine is the place yaml.v3 puts in its errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// Parse reads a declaration of script from data; file names it in errors
// ("nn.fields.yaml:12: ...").
func Parse(file, script string, data []byte) (*Decl, error) {
	d := &Decl{Script: script, File: file, Fields: map[string]*Field{}}
	if err := d.parse(data); err != nil {
		return nil, err
	}
	return d, nil
}

// parse reads the file's keys, fields, objective and artifacts, then builds the
// tree of declared fields.
func (d *Decl) parse(data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			return fmt.Errorf("%s:%s: %s", d.File, m[1], strings.TrimPrefix(err.Error(), m[0]))
		}
		return fmt.Errorf("%s: %s", d.File, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("%s: want a map with the key fields (a map of the script's fields)", d.File)
	}
	if a := sweep.FindAlias(&doc); a != nil {
		return d.errorf(a, "YAML aliases (*%s) are not supported: write the value out", a.Value)
	}
	top := doc.Content[0]
	var fields, seeds *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "fields":
			fields = v
		case "objective":
			o, err := sweep.ReadObjective(v)
			if err != nil {
				return fmt.Errorf("%s: %v", d.File, err) // its message starts "line N:"
			}
			d.Objective = o
		case "artifacts":
			if err := v.Decode(&d.Artifacts); err != nil {
				return d.errorf(v, "artifacts must be a list of globs, e.g. [\"*.pt\"]")
			}
			if err := artifacts.CheckGlobs(d.Artifacts); err != nil {
				return d.errorf(v, "%v", err)
			}
		case "seeds":
			seeds = v
		default:
			return d.errorf(k, "unknown key %q (want fields, objective, artifacts and seeds)%s", k.Value,
				didYouMean(k.Value, []string{"fields", "objective", "artifacts", "seeds"}))
		}
	}
	if fields == nil {
		return fmt.Errorf("%s: no fields key: declare the script's fields under it", d.File)
	}
	if fields.Kind != yaml.MappingNode {
		return d.errorf(fields, "fields must be a map of field path: {type: ...}")
	}
	for i := 0; i+1 < len(fields.Content); i += 2 {
		if err := d.readField(fields.Content[i], fields.Content[i+1]); err != nil {
			return err
		}
	}
	if err := d.build(); err != nil {
		return err
	}
	if seeds != nil {
		return d.readSeeds(seeds)
	}
	return nil
}

// readSeeds reads the seeds key: a list of declared fields of type
// integer, each named once.
func (d *Decl) readSeeds(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return d.errorf(n, "seeds must be a list of the script's seed fields: seeds: [seed]")
	}
	for _, item := range n.Content {
		f := d.Fields[item.Value]
		switch {
		case item.Kind != yaml.ScalarNode:
			return d.errorf(item, "seeds: want a field's path, not %s", describeNode(item))
		case f == nil:
			return d.errorf(item, "seeds: %q is not a declared field%s", item.Value, didYouMean(item.Value, slices.Sorted(maps.Keys(d.Fields))))
		case f.Type != Integer:
			return d.errorf(item, "seeds: %q is declared as %s; a seed field is an integer", item.Value, f.Type)
		case slices.ContainsFunc(d.Seeds, func(s Seed) bool { return s.Path == item.Value }):
			return d.errorf(item, "seeds: %q is named twice", item.Value)
		}
		seed := Seed{Path: item.Value}
		if f.defaultN != nil {
			if v, err := strconv.ParseInt(f.defaultN.Value, 10, 64); err == nil {
				seed.Default = &v
			}
		}
		d.Seeds = append(d.Seeds, seed)
	}
	return nil
}

// errorf is an error at n's line of the file.
func (d *Decl) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", d.File, n.Line, fmt.Sprintf(format, args...))
}

// didYouMean is `; did you mean "x"?` for the candidate nearest s, or "".
func didYouMean(s string, candidates []string) string {
	if near := suggest.Nearest(s, candidates); near != "" {
		return fmt.Sprintf("; did you mean %q?", near)
	}
	return ""
}

// readField reads one field's declaration: its path (k) and {type, ...} (v).
func (d *Decl) readField(k, v *yaml.Node) error {
	if k.Kind != yaml.ScalarNode {
		return d.errorf(k, "a field's path must be a string")
	}
	parts, err := jobfields.ParsePath(k.Value)
	if err != nil {
		return d.errorf(k, "%v", err)
	}
	for _, p := range parts {
		if p != "*" && strings.Contains(p, "*") {
			return d.errorf(k, "%s: * stands for every item of a list, and must be a part of its own (hiddenLayers.*.dropout)", k.Value)
		}
	}
	if prev, ok := d.Fields[k.Value]; ok {
		return d.errorf(k, "%s is declared twice (first on line %d)", k.Value, prev.Line)
	}
	if v.Kind != yaml.MappingNode {
		return d.errorf(v, "%s: want {type: ...}, not %s", k.Value, describeNode(v))
	}
	f := &Field{Path: k.Value, Line: k.Line}
	for i := 0; i+1 < len(v.Content); i += 2 {
		if err := d.readKey(f, v.Content[i], v.Content[i+1]); err != nil {
			return err
		}
	}
	if err := d.checkField(f, v); err != nil {
		return err
	}
	f.want = describe(f)
	d.Fields[f.Path] = f
	return nil
}

// describeNode names what a YAML node holds, for errors.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a map"
	}
	return strconv.Quote(n.Value)
}

// readKey reads one key of a field's declaration into f.
func (d *Decl) readKey(f *Field, k, v *yaml.Node) error {
	bad := func(want string) error {
		return d.errorf(v, "%s: %s must be %s, not %s", f.Path, k.Value, want, describeNode(v))
	}
	switch k.Value {
	case "type":
		if v.Kind != yaml.ScalarNode || !slices.Contains(types, Type(v.Value)) {
			return bad("one of number, integer, string, boolean, list, object")
		}
		f.Type = Type(v.Value)
	case "min", "max":
		var x float64
		if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") || v.Decode(&x) != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return bad("a finite number")
		}
		b := &Bound{Value: x, Text: v.Value}
		if k.Value == "min" {
			f.Min = b
		} else {
			f.Max = b
		}
	case "exclusiveMin", "exclusiveMax":
		var on bool
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&on) != nil {
			return bad("true or false")
		}
		if f.exclusive == nil {
			f.exclusive = map[string]bool{}
		}
		f.exclusive[k.Value] = on // applied to its bound by checkField: the bound may come later
	case "choices":
		if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
			return bad("a list of strings")
		}
		for _, c := range v.Content {
			if c.Kind != yaml.ScalarNode || c.Tag != "!!str" {
				return d.errorf(c, "%s: choices must be strings: quote %s", f.Path, describeNode(c))
			}
			f.Choices = append(f.Choices, c.Value)
			f.choices = append(f.choices, []byte(c.Value))
		}
	case "default":
		f.defaultN = v
	case "help":
		if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
			return bad("a string")
		}
		f.Help = v.Value
	case "free":
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&f.Free) != nil {
			return bad("true or false")
		}
	default:
		return d.errorf(k, "%s: unknown key %q (want %s)%s", f.Path, k.Value, strings.Join(fieldKeys, ", "), didYouMean(k.Value, fieldKeys))
	}
	return nil
}

// checkField refuses a declaration whose keys do not go together.
func (d *Decl) checkField(f *Field, v *yaml.Node) error {
	if f.Type == "" {
		return d.errorf(v, "%s: no type (want one of number, integer, string, boolean, list, object)", f.Path)
	}
	numeric := f.Type == Number || f.Type == Integer
	for _, b := range []struct {
		name, flag string
		b          *Bound
	}{{"min", "exclusiveMin", f.Min}, {"max", "exclusiveMax", f.Max}} {
		on, flagged := f.exclusive[b.flag]
		switch {
		case b.b == nil && flagged:
			return d.errorf(v, "%s: %s without %s", f.Path, b.flag, b.name)
		case b.b == nil:
		case !numeric:
			return d.errorf(v, "%s: %s is for a number or integer, not a %s", f.Path, b.name, f.Type)
		default:
			b.b.Exclusive = on
		}
	}
	if f.Min != nil && f.Max != nil && (f.Min.Value > f.Max.Value || f.Min.Value == f.Max.Value && (f.Min.Exclusive || f.Max.Exclusive)) {
		return d.errorf(v, "%s: min %s and max %s leave no value", f.Path, f.Min.Text, f.Max.Text)
	}
	if f.Choices != nil && f.Type != String {
		return d.errorf(v, "%s: choices are for a string, not a %s", f.Path, f.Type)
	}
	if f.Free && f.Type != Object {
		return d.errorf(v, "%s: free is for an object, not a %s", f.Path, f.Type)
	}
	return nil
}

// describe says what f takes, as messages say it: "a number > 0 and < 1",
// "one of relu, tanh".
func describe(f *Field) string {
	var s string
	switch f.Type {
	case Number:
		s = "a number"
	case Integer:
		s = "a whole number"
	case String:
		if len(f.Choices) == 0 {
			return "a string"
		}
		shown := make([]string, len(f.Choices))
		for i, c := range f.Choices {
			shown[i] = c
			if c == "" || strings.ContainsAny(c, ", \"") {
				shown[i] = strconv.Quote(c)
			}
		}
		return "one of " + strings.Join(shown, ", ")
	case Boolean:
		return "true or false"
	case List:
		return "a list"
	case Object:
		return "an object"
	}
	var bounds []string
	if b := f.Min; b != nil {
		bounds = append(bounds, map[bool]string{false: ">= ", true: "> "}[b.Exclusive]+b.Text)
	}
	if b := f.Max; b != nil {
		bounds = append(bounds, map[bool]string{false: "<= ", true: "< "}[b.Exclusive]+b.Text)
	}
	if len(bounds) > 0 {
		s += " " + strings.Join(bounds, " and ")
	}
	return s
}

// build links the declared fields into the tree Check walks, parents
// before children, refusing a dotted path whose container is not declared
// as one, and checks each default against its field.
func (d *Decl) build() error {
	paths := make([]string, 0, len(d.Fields))
	parts := map[string][]string{}
	for p := range d.Fields {
		paths = append(paths, p)
		parts[p], _ = jobfields.ParsePath(p) // readField parsed it already
	}
	slices.SortFunc(paths, func(a, b string) int {
		return cmpInts(len(parts[a]), len(parts[b]), d.Fields[a].Line, d.Fields[b].Line)
	})
	nodes := map[string]*node{}
	for _, p := range paths {
		f, ps := d.Fields[p], parts[p]
		n := &node{field: f}
		nodes[p] = n
		parent, last := &d.root, ps[len(ps)-1]
		if len(ps) > 1 {
			above := jobfields.JoinPath(ps[:len(ps)-1]...)
			parent = nodes[above]
			want := map[bool]Type{true: List, false: Object}[last == "*"]
			if parent == nil {
				return fmt.Errorf("%s:%d: %s: declare %s above it, as a %s", d.File, f.Line, p, above, want)
			}
			if parent.field.Type != want {
				return fmt.Errorf("%s:%d: %s: %s is declared a %s (line %d); its %s are declared as %s",
					d.File, f.Line, p, above, parent.field.Type, parent.field.Line, itemsOrKeys(parent.field.Type), above+map[bool]string{true: ".*", false: ".KEY"}[parent.field.Type == List])
			}
		} else if last == "*" {
			return fmt.Errorf("%s:%d: %s: a job is an object; * is for the items of a declared list", d.File, f.Line, p)
		}
		if last == "*" {
			parent.item = n
			continue
		}
		if parent.keys == nil {
			parent.keys = map[string]*node{}
		}
		parent.keys[last] = n
		parent.names = append(parent.names, last)
	}
	d.root.names = append(d.root.names, Standard...)
	return d.checkDefaults(paths, nodes)
}

// itemsOrKeys names what is declared below a container of type t.
func itemsOrKeys(t Type) string {
	if t == List {
		return "items"
	}
	return "keys"
}

// cmpInts compares a with b, then c with d.
func cmpInts(a, b, c, d int) int {
	if a != b {
		return a - b
	}
	return c - d
}

// checkDefaults refuses a default its own field would refuse: a file whose
// defaults disagree with its rules misleads whoever reads it.
func (d *Decl) checkDefaults(paths []string, nodes map[string]*node) error {
	for _, p := range paths {
		f := nodes[p].field
		if f.defaultN == nil {
			continue
		}
		var v any
		if err := f.defaultN.Decode(&v); err != nil {
			return d.errorf(f.defaultN, "%s: default: %v", p, err)
		}
		js, err := json.Marshal(v)
		if err != nil {
			return d.errorf(f.defaultN, "%s: default: %v", p, err)
		}
		w := walk{d: d, js: js}
		w.value(nodes[p], 0)
		for _, pr := range w.problems {
			return d.errorf(f.defaultN, "%s: default %s", p, pr.Msg)
		}
	}
	return nil
}
