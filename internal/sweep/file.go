package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mljob/mljob/internal/artifacts"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/prune"
	"gopkg.in/yaml.v3"
)

// File is a sweep file (sweep.yaml) once parsed:
//
//	name: wine-lr              # optional; default <project>-<time>
//	base: job.json             # the base job, a file beside the sweep file
//	job: {...}                 # or the base job inline (one of the two)
//	grid:                      # crossed in this order, the last fastest
//	  learningRate: [0.1, 0.01]
//	  hiddenLayers.0.dropout: [0.1, 0.3]
//	random: 20                 # points drawn from ranges, each crossed with the grid
//	ranges:
//	  l1: log:1e-4:1e-1
//	  optimizer: choice:adam,rmsprop
//	seed: 42                   # optional; else one is picked and printed
//	allowNew: false
//	objective: {name: cvMse, goal: minimize}
//	pruner: {rule: asha, minStep: 1, reduction: 3}   # or {rule: median, startupRuns: 5}
//
// or, for a model-based search (see Spec.Method):
//
//	method: tpe                # grid | random | tpe
//	trials: 100                # the budget: how many runs in all
//	parallel: 8                # at most this many in flight (default: every free slot)
//	constantLiar: false        # true: count trials in flight as the worst value
//	space:                     # the ranges syntax
//	  learningRate: log:1e-4:1e-1
type File struct {
	Name string
	// Base is the base job's file name as written (relative to the sweep
	// file); Job is the inline base job as JSON. At most one is set.
	Base string
	Job  []byte
	Spec Spec
	// HasSeed tells a seed of 0 from no seed.
	HasSeed bool
	// Objective is the objective key: what the sweep's runs are ranked
	// by; the zero value when the file has none.
	Objective objective.Objective
	// Pruner is the pruner key: the rule that stops the sweep's runs that
	// fall behind; the zero value (no pruning) when the file has none.
	Pruner prune.Rule
	// Artifacts is the artifacts key: the globs of the files the sweep's
	// runs bring home, for jobs that name none (artifacts.CheckGlob).
	Artifacts []string
}

// fileYAML is the shape of a sweep file; grid, ranges and job stay nodes
// to keep their key order.
type fileYAML struct {
	Name string    `yaml:"name"`
	Base string    `yaml:"base"`
	Job  yaml.Node `yaml:"job"`
	Grid yaml.Node `yaml:"grid"`
	// Random and Seed stay nodes: yaml.v3 decodes 2.5 into an int as 2,
	// and a sweep of 2 draws for a file that asked for 2.5 is a silent
	// change of the user's sweep.
	Random   yaml.Node `yaml:"random"`
	Ranges   yaml.Node `yaml:"ranges"`
	Seed     yaml.Node `yaml:"seed"`
	AllowNew bool      `yaml:"allowNew"`
	// Objective is {name: N, goal: minimize|maximize}, or "N:min|max".
	Objective yaml.Node `yaml:"objective"`
	// Pruner is {rule: asha|median, ...its settings}, or "asha" etc.
	Pruner yaml.Node `yaml:"pruner"`
	// Artifacts is a list of globs.
	Artifacts []string `yaml:"artifacts"`
	// Method, Trials, Parallel, ConstantLiar and Space are a model-based
	// search's (method: tpe); Trials and Parallel stay nodes as Random
	// does, and ConstantLiar so that its line is known when no tpe sweep
	// takes it.
	Method       string    `yaml:"method"`
	Trials       yaml.Node `yaml:"trials"`
	Parallel     yaml.Node `yaml:"parallel"`
	ConstantLiar yaml.Node `yaml:"constantLiar"`
	Space        yaml.Node `yaml:"space"`
}

// ParseFile parses a sweep file. Unknown keys are errors, so a typo does
// not silently drop part of a sweep.
func ParseFile(data []byte) (*File, error) {
	if err := refuseAliases(data); err != nil {
		return nil, err
	}
	var y fileYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&y); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// "line 3: field grd not found in type sweep.fileYAML" names
			// our type, not the user's mistake.
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				m = strings.TrimSuffix(m, " in type sweep.fileYAML")
				if line, key, ok := strings.Cut(m, ": field "); ok && strings.HasSuffix(key, " not found") {
					m = line + ": unknown key " + strings.TrimSuffix(key, " not found")
				}
				msgs[i] = m
			}
			return nil, errf(ErrSyntax, "%s", strings.Join(msgs, "; "))
		}
		return nil, errf(ErrSyntax, "%v", err)
	}
	f := &File{Name: y.Name, Base: y.Base, Artifacts: y.Artifacts}
	if err := artifacts.CheckGlobs(y.Artifacts); err != nil {
		return nil, errf(ErrSyntax, "artifacts: %v", err)
	}
	if y.Objective.Kind != 0 {
		o, err := fileObjective(&y.Objective)
		if err != nil {
			return nil, err
		}
		f.Objective = o
	}
	if y.Pruner.Kind != 0 {
		r, err := filePruner(&y.Pruner)
		if err != nil {
			return nil, err
		}
		f.Pruner = r
	}
	f.Spec.AllowNew = y.AllowNew
	if err := fileMethod(&y, f); err != nil {
		return nil, err
	}
	if y.Random.Kind != 0 {
		n, err := wholeNumber(&y.Random, "random", 63)
		if err != nil {
			return nil, err
		}
		f.Spec.Random = int(n)
	}
	if y.Seed.Kind != 0 {
		n, err := wholeNumber(&y.Seed, "seed", 64)
		if err != nil {
			return nil, err
		}
		f.Spec.Seed, f.HasSeed = n, true
	}
	if y.Job.Kind != 0 {
		if y.Base != "" {
			return nil, errf(ErrSyntax, "give base or job, not both")
		}
		if y.Job.Kind != yaml.MappingNode {
			return nil, errf(ErrSyntax, "line %d: job must be a mapping (the base job)", y.Job.Line)
		}
		var err error
		if f.Job, err = yamlJSON(&y.Job); err != nil {
			return nil, err
		}
	}
	err := eachPair(&y.Grid, "grid", func(path string, v *yaml.Node) error {
		p, err := ParsePath(path)
		if err != nil {
			return err
		}
		a := Axis{Path: p}
		if v.Kind != yaml.SequenceNode {
			return errf(ErrSyntax, "line %d: grid %s: want a list of values", v.Line, path)
		}
		if len(v.Content) == 0 {
			return errf(ErrSyntax, "line %d: grid %s: no values", v.Line, path)
		}
		for _, item := range v.Content {
			j, err := yamlJSON(item)
			if err != nil {
				return err
			}
			a.Values = append(a.Values, j)
		}
		f.Spec.Grid = append(f.Spec.Grid, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	ranges, what := &y.Ranges, "ranges"
	if y.Space.Kind != 0 {
		ranges, what = &y.Space, "space"
	}
	err = eachPair(ranges, what, func(path string, v *yaml.Node) error {
		if v.Kind != yaml.ScalarNode {
			return errf(ErrSyntax, "line %d: range %s: want lin:LO:HI, log:LO:HI, int:LO:HI or choice:A,B,...", v.Line, path)
		}
		r, err := ParseRange(path + "=" + v.Value)
		if err != nil {
			return fmt.Errorf("line %d: %w", v.Line, err)
		}
		f.Spec.Ranges = append(f.Spec.Ranges, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// fileMethod reads method, trials, parallel, constantLiar and which of
// ranges and space the file may use: space is a tpe sweep's, ranges a
// random one's.
func fileMethod(y *fileYAML, f *File) error {
	switch Method(y.Method) {
	case "", MethodGrid, MethodRandom, MethodTPE:
		f.Spec.Method = Method(y.Method)
	default:
		return errf(ErrSyntax, "method: unknown method %q; want grid, random or tpe", y.Method)
	}
	tpe := f.Spec.Method == MethodTPE
	switch {
	case tpe && y.Ranges.Kind != 0:
		return errf(ErrSyntax, "line %d: method tpe searches space:, not ranges: (rename the key to space)", y.Ranges.Line)
	case !tpe && y.Space.Kind != 0:
		return errf(ErrSyntax, "line %d: space: is what method: tpe searches; add method: tpe and trials: N, or use ranges: with random: N", y.Space.Line)
	case !tpe && y.Trials.Kind != 0:
		return errf(ErrSyntax, "line %d: trials: is the budget of method: tpe; add method: tpe, or use random: N for random draws", y.Trials.Line)
	case !tpe && y.Parallel.Kind != 0:
		return errf(ErrSyntax, "line %d: parallel: applies to method: tpe only; add method: tpe, or drop it", y.Parallel.Line)
	case !tpe && y.ConstantLiar.Kind != 0:
		return errf(ErrSyntax, "line %d: constantLiar: applies to method: tpe only; add method: tpe, or drop it", y.ConstantLiar.Line)
	}
	if y.Trials.Kind != 0 {
		n, err := wholeNumber(&y.Trials, "trials", 63)
		if err != nil {
			return err
		}
		f.Spec.Trials = int(min(n, MaxJobs+1)) // Size refuses more than MaxJobs
	}
	if y.Parallel.Kind != 0 {
		n, err := wholeNumber(&y.Parallel, "parallel", 31)
		if err != nil {
			return err
		}
		if n == 0 {
			return errf(ErrSyntax, "line %d: parallel: want at least 1 (leave it out for every free slot)", y.Parallel.Line)
		}
		f.Spec.Parallel = int(n)
	}
	if n := &y.ConstantLiar; n.Kind != 0 {
		// Only YAML's true and false: "yes" or 1 would be a guess at
		// what the user meant.
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&f.Spec.ConstantLiar) != nil {
			return errf(ErrSyntax, "line %d: constantLiar: want true or false, not %q", n.Line, n.Value)
		}
	}
	return nil
}

// ErrAlias is returned by ParseFile for a sweep file that uses a YAML
// alias (*name).
var ErrAlias = errors.New("YAML alias in a sweep file")

// refuseAliases refuses a file that uses a YAML alias, before anything
// decodes it: an alias may refer to itself (an endless expansion) or nest
// (a few hundred bytes that expand to gigabytes), and a sweep file is short
// enough to write out in full. The node tree keeps each alias as one node,
// so walking it expands nothing.
func refuseAliases(data []byte) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil // ParseFile's own decode reports it
	}
	if a := FindAlias(&root); a != nil {
		return &sweepError{kind: ErrAlias, msg: fmt.Sprintf("line %d: YAML aliases (*%s) are not supported in a sweep file", a.Line, a.Value)}
	}
	return nil
}

// FindAlias returns the first alias node under n, or nil. Walking the node
// tree expands nothing, so a YAML file that mljob reads (a sweep file, a
// script's fields file) can be refused before a decode could expand one.
func FindAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return n
	}
	for _, c := range n.Content {
		if a := FindAlias(c); a != nil {
			return a
		}
	}
	return nil
}

// eachPair calls fn for each key and value of the mapping n, in order; a
// missing n is an empty mapping.
func eachPair(n *yaml.Node, what string, fn func(key string, v *yaml.Node) error) error {
	if n.Kind == 0 {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return errf(ErrSyntax, "line %d: %s must be a mapping of path: values", n.Line, what)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if err := fn(n.Content[i].Value, n.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// yamlJSON converts a YAML node to JSON, keeping the key order of mappings
// and the text of numbers as written.
func yamlJSON(n *yaml.Node) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return writeJSON(buf, n.Content[0])
		}
		buf.WriteString("null")
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteString(", ")
			}
			buf.WriteString(quote(n.Content[i].Value))
			buf.WriteString(": ")
			if err := writeJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				buf.WriteString(", ")
			}
			if err := writeJSON(buf, item); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!timestamp": // a date is kept as written
			buf.WriteString(quote(n.Value))
		case "!!null":
			buf.WriteString("null")
		case "!!int", "!!float", "!!bool":
			if json.Valid([]byte(n.Value)) {
				buf.WriteString(n.Value) // 1e-3 stays 1e-3
				return nil
			}
			var v any
			if err := n.Decode(&v); err != nil {
				return errf(ErrSyntax, "line %d: %v", n.Line, err)
			}
			b, err := json.Marshal(v)
			if err != nil {
				return errf(ErrSyntax, "line %d: %s is not a JSON value", n.Line, strconv.Quote(n.Value))
			}
			buf.Write(b)
		default:
			return errf(ErrSyntax, "line %d: unsupported YAML value %s %q", n.Line, n.ShortTag(), n.Value)
		}
	default:
		return errors.New("unsupported YAML node")
	}
	return nil
}

// ReadObjective reads an objective key's YAML node as a sweep file's
// objective key is read, for other files that name one (a script's
// field declaration); its errors name the line.
func ReadObjective(n *yaml.Node) (objective.Objective, error) { return fileObjective(n) }

// fileObjective reads the objective key: a mapping {name, goal} (goal as
// objective.ParseGoal reads it), or the NAME:min|max of --objective.
func fileObjective(n *yaml.Node) (objective.Objective, error) {
	var o objective.Objective
	var err error
	switch n.Kind {
	case yaml.ScalarNode:
		o, err = objective.Parse(n.Value)
	case yaml.MappingNode:
		var m struct {
			Name string `yaml:"name"`
			Goal string `yaml:"goal"`
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; k != "name" && k != "goal" {
				return o, errf(ErrSyntax, "line %d: objective: unknown key %s (want name and goal)", n.Content[i].Line, k)
			}
		}
		if err = n.Decode(&m); err != nil {
			break
		}
		if m.Goal == "" {
			return o, errf(ErrSyntax, "line %d: objective: no goal; add goal: minimize or goal: maximize", n.Line)
		}
		if o.Goal, err = objective.ParseGoal(m.Goal); err == nil {
			o.Name = m.Name
			err = o.Check()
		}
	default:
		return o, errf(ErrSyntax, "line %d: objective: want {name: NAME, goal: minimize|maximize} or NAME:min|max", n.Line)
	}
	if err != nil {
		return o, errf(ErrSyntax, "line %d: objective: %v", n.Line, err)
	}
	return o, nil
}

// wholeNumber reads a key's value as a whole number of at most bits bits
// (63: one that fits an int), and refuses anything else (2.5, "x", -1)
// with the line and key.
func wholeNumber(n *yaml.Node, key string, bits int) (uint64, error) {
	if n.Kind == yaml.ScalarNode {
		if v, err := strconv.ParseUint(n.Value, 10, bits); err == nil {
			return v, nil
		}
	}
	return 0, errf(ErrSyntax, "line %d: %s: want a whole number, not %q", n.Line, key, n.Value)
}
