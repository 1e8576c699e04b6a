package hosts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"gopkg.in/yaml.v3"
)

// settings are the keys allowed both in defaults and in a host entry.
// Pointers tell "not given" from a zero value: a host's own value wins even
// when it is empty (identity_file: "" turns off a default key).
type settings struct {
	User           *string           `yaml:"user"`
	IdentityFile   *string           `yaml:"identity_file"`
	KnownHosts     *stringList       `yaml:"known_hosts"`
	Python         *string           `yaml:"python"`
	Workdir        *string           `yaml:"workdir"`
	Env            map[string]string `yaml:"env"`
	MaxLoad        *float64          `yaml:"max_load"`
	ConnectTimeout *time.Duration    `yaml:"connect_timeout"`
	ProxyJump      *string           `yaml:"proxy_jump"`
	ProxyCommand   *string           `yaml:"proxy_command"`
	LockDir        *string           `yaml:"lock_dir"`
	Leases         *bool             `yaml:"leases"`
	GPUBusy        *string           `yaml:"gpu_busy"`
	// ArtifactsCap is a size (artifacts.ParseSize): the most bytes of
	// artifacts a run on the host brings home.
	ArtifactsCap *string `yaml:"artifacts_cap"`
}

// hostEntry is one item of hosts: as written.
type hostEntry struct {
	Name    string   `yaml:"name"`
	Kind    string   `yaml:"kind"`
	Address string   `yaml:"address"`
	Port    *int     `yaml:"port"`
	Slots   *int     `yaml:"slots"`
	GPUs    []string `yaml:"gpus"`
	// RunsPerGPU is how many runs share each GPU (GPU packing).
	RunsPerGPU *int     `yaml:"runs_per_gpu"`
	Local      bool     `yaml:"local"`
	Sbatch     []string `yaml:"sbatch"`
	settings   `yaml:",inline"`
}

// fileDoc is the whole file as written.
type fileDoc struct {
	Defaults *settings   `yaml:"defaults"`
	Hosts    []hostEntry `yaml:"hosts"`
}

// stringList accepts a single string or a list of strings, so known_hosts
// may name one file the simple way.
type stringList []string

// UnmarshalYAML decodes a scalar or a sequence of scalars.
func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = stringList{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(stringList, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				break
			}
			out = append(out, c.Value)
		}
		if len(out) == len(n.Content) {
			*l = out
			return nil
		}
	}
	// A *yaml.TypeError makes the decoder record it and go on, so the other
	// problems of the file are still reported.
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a path or a list of paths", n.Line)}}
}

// explicit records which connection values the hosts file set itself, so the
// ssh config does not override them.
type explicit struct {
	port, user, identityFile, knownHosts bool
	// route is set when the file gives proxy_jump or proxy_command (or
	// "none"): the ssh config's route is not used then. jump is the
	// proxy_jump value, hops not yet resolved.
	route bool
	jump  string
}

// parsedHost is a Host before alias resolution.
type parsedHost struct {
	Host
	explicit explicit
}

// parser collects the problems of one file.
type parser struct {
	path     string
	home     string
	problems []*Problem
	badLines map[int]bool // lines with a type error: no second message for them

	root     *yaml.Node // top-level mapping; nil if the file is not one
	defaults *yaml.Node // defaults mapping, or nil
	entries  []*yaml.Node
}

func (p *parser) addf(line int, format string, args ...any) {
	p.problems = append(p.problems, &Problem{Path: p.path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// err joins the problems sorted by line; the sort is stable so problems on
// one line keep the order they were found in.
func (p *parser) err() error {
	sort.SliceStable(p.problems, func(i, j int) bool { return p.problems[i].Line < p.problems[j].Line })
	errs := make([]error, len(p.problems))
	for i, pr := range p.problems {
		errs[i] = pr
	}
	return errors.Join(errs...)
}

// parse checks the whole file and returns its entries with the defaults
// merged in; the problems go to p.problems.
func (p *parser) parse(data []byte) []parsedHost {
	raw, ok := p.decode(data)
	if !ok {
		return nil
	}
	var defaults settings
	if raw.Defaults != nil {
		defaults = *raw.Defaults
		p.checkSettings(defaults, p.defaults, "defaults")
	}
	if len(raw.Hosts) == 0 {
		p.noHosts()
		return nil
	}
	return p.checkEntries(raw.Hosts, defaults)
}

// decode reads data twice: as nodes, which give messages their lines, and
// into fileDoc, whose type errors are reworded. ok is false when data is
// not YAML or is empty: there is nothing more to check.
func (p *parser) decode(data []byte) (raw fileDoc, ok bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.syntaxError(data, err)
		return raw, false
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.addf(1, "no hosts: the file is empty")
		return raw, false
	}
	p.index(doc.Content[0])

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	p.badLines = map[int]bool{}
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			p.syntaxError(data, err)
			return raw, false
		}
		for _, msg := range te.Errors {
			p.typeError(msg)
		}
	}
	p.fractions()
	return raw, true
}

// noHosts reports a file without host entries, unless a problem already
// reported is why the list came out empty.
func (p *parser) noHosts() {
	if len(p.problems) > 0 {
		return
	}
	if n := p.value(p.root, "hosts"); n == nil {
		p.addf(1, "no hosts: add a hosts: list with at least one entry")
	} else if !p.badLines[n.Line] {
		p.addf(n.Line, "no hosts: the hosts list is empty")
	}
}

// checkEntries checks each decoded entry, and that no two share a name.
func (p *parser) checkEntries(entries []hostEntry, defaults settings) []parsedHost {
	nodes := p.decodedEntries()
	if len(nodes) != len(entries) {
		// The decoder dropped entries in a way not foreseen; the type errors
		// already say why, and lines could not be trusted.
		return nil
	}
	seen := map[string]int{}
	hosts := make([]parsedHost, 0, len(entries))
	for i, e := range entries {
		node := nodes[i]
		line := lineOf(node)
		if e.Name != "" {
			if first, dup := seen[e.Name]; dup {
				p.addf(line, "duplicate host name %q (also at line %d)", e.Name, first)
			} else {
				seen[e.Name] = line
			}
		}
		hosts = append(hosts, p.checkHost(e, node, p.where(line), defaults))
	}
	return hosts
}

// decodedEntries returns the entry nodes the typed decode kept. yaml.v3
// drops a sequence item it cannot decode (not a mapping, or a duplicate key)
// from the slice, so the decoded hosts line up with these, not with all
// entries; those dropped already have a type error.
func (p *parser) decodedEntries() []*yaml.Node {
	var kept []*yaml.Node
	for _, e := range p.entries {
		if e.Kind == yaml.ScalarNode && e.Tag == "!!null" {
			kept = append(kept, e)
			continue
		}
		if e.Kind != yaml.MappingNode || hasDuplicateKey(e) {
			continue
		}
		kept = append(kept, e)
	}
	return kept
}

func hasDuplicateKey(m *yaml.Node) bool {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i].Value
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	return false
}

// index finds the nodes that give lines to messages.
func (p *parser) index(top *yaml.Node) {
	if top.Kind != yaml.MappingNode {
		return // the typed decode reports the mismatch
	}
	p.root = top
	if d := p.value(top, "defaults"); d != nil && d.Kind == yaml.MappingNode {
		p.defaults = d
	}
	if h := p.value(top, "hosts"); h != nil && h.Kind == yaml.SequenceNode {
		p.entries = h.Content
	}
}

// value returns the value node of key in mapping m, or nil.
func (p *parser) value(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// valid reports whether key is absent from m or decoded without a type
// error, so a bad value is not reported twice.
func (p *parser) valid(m *yaml.Node, key string) bool {
	v := p.value(m, key)
	return v == nil || !p.badLines[v.Line]
}

// line returns the line of key's value in m, or fallback when absent.
func (p *parser) line(m *yaml.Node, key string, fallback int) int {
	if v := p.value(m, key); v != nil {
		return v.Line
	}
	return fallback
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// lastLine is the last line a node's subtree covers.
func lastLine(n *yaml.Node) int {
	last := n.Line
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	return last
}

// where names the part of the file a line falls in: a host entry, the
// defaults, or "" for the top level.
func (p *parser) where(line int) string {
	for i, e := range p.entries {
		if line >= e.Line && line <= lastLine(e) {
			if n := p.value(e, "name"); n != nil && n.Kind == yaml.ScalarNode && n.Value != "" {
				return fmt.Sprintf("host %q", n.Value)
			}
			return fmt.Sprintf("host entry %d", i+1)
		}
	}
	if p.defaults != nil && line >= p.defaults.Line && line <= lastLine(p.defaults) {
		return "defaults"
	}
	return ""
}
