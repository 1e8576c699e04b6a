package hosts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mljob/mljob/internal/slurm/sbatchopt"
)

// Kind names the engine that runs a host's jobs.
type Kind string

const (
	// KindSSH is a machine reached over SSH that runs jobs itself; the kind
	// of a hosts file entry that names none.
	KindSSH Kind = "ssh"
	// KindSlurm is a Slurm login node: mljob hands its runs to Slurm as an
	// array job (sbatch --array), over SSH or, with Host.Local, on this machine.
	KindSlurm Kind = "slurm"
	// KindLocal is the local machine, used when no hosts file is given; made by LocalHost, never read from a file.
	KindLocal Kind = "local"
)

// fileKinds are the kinds a hosts file may name, in the order messages list them.
var fileKinds = []Kind{KindSSH, KindSlurm}

// Defaults applied when neither the host entry nor the file's defaults nor the
// ssh config say otherwise.
const (
	// DefaultPort is the SSH port used when nothing names one.
	DefaultPort = 22
	// DefaultPython is the interpreter run on a host.
	DefaultPython = "python3"
	// DefaultWorkdir is the directory on the remote host holding runs and the
	// upload cache; it keeps its ~ because the remote shell expands it.
	DefaultWorkdir = "~/.mljob"
	// DefaultConnectTimeout bounds the SSH dial and handshake.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultKnownHosts is the known_hosts file checked when nothing names one.
	DefaultKnownHosts = "~/.ssh/known_hosts"
	// DefaultSlurmSlots is how many array tasks of a slurm entry may be in
	// flight at once when the entry gives no slots: the array's throttle
	// (--array=...%N). A cluster has more room than one machine, but it is
	// shared.
	DefaultSlurmSlots = 100
)

// ErrInvalid matches (with errors.Is) every problem found in a hosts file, so
// callers can tell a file to fix from a file they could not read.
var ErrInvalid = errors.New("invalid hosts file")

// Problem is one thing wrong with a hosts file, at a line of it. Parse and
// Load return every Problem of a file joined with errors.Join, sorted by line.
type Problem struct {
	Path string
	Line int // 1-based; 0 when no line applies
	Msg  string
}

// Error formats the problem as "PATH:LINE: message", the form editors jump to.
func (p *Problem) Error() string {
	if p.Line <= 0 {
		return p.Path + ": " + p.Msg
	}
	return fmt.Sprintf("%s:%d: %s", p.Path, p.Line, p.Msg)
}

// Is reports whether target is ErrInvalid.
func (p *Problem) Is(target error) bool { return target == ErrInvalid }

// Host is one resolved host entry; every default applied.
type Host struct {
	Name    string
	Kind    Kind
	Address string // resolved host name or IP (an ssh config alias is replaced by its HostName)
	Port    int
	User    string
	// IdentityFile is the private key to offer, ~ expanded; "" = agent only.
	IdentityFile string
	// KnownHosts are the known_hosts files checked, ~ expanded; default [~/.ssh/known_hosts].
	// Host key verification is never off, and the files may not exist yet.
	KnownHosts []string
	Python     string // default "python3"
	// Workdir is the mljob directory on the host, default "~/.mljob"; kept with
	// the ~ because it is a path on the remote host, expanded there.
	Workdir string
	// Slots is how many runs may be in flight at once: default 1, len(GPUs)
	// when gpus given; for a slurm entry the array tasks in flight, default
	// DefaultSlurmSlots.
	Slots int
	GPUs  []string // e.g. ["0","1"]; nil = no GPU slots; always nil for a slurm entry
	// Env is set for every run, sorted by key; for a slurm entry also for
	// sbatch, squeue, sacct and scancel (SLURM_CONF names another cluster).
	Env []EnvVar
	// MaxLoad is the 1-minute load average at or above which the host is not
	// bored; 0 = no threshold.
	MaxLoad        float64
	ConnectTimeout time.Duration // default 10s
	// Local marks a slurm entry whose login node is this machine: commands
	// run here, not over SSH, and Address, Port, User, IdentityFile and
	// KnownHosts are empty.
	Local bool
	// Sbatch are extra sbatch options of a slurm entry, in order, one word
	// each (--partition=gpu); never one that mljob sets itself (--array,
	// --output, --chdir, ...).
	Sbatch []string
	Line   int // line of the entry in the file, for messages
}

// EnvVar is one environment variable set for every run on a host.
type EnvVar struct {
	Key, Value string
}

// SlotNames returns one name per slot: the GPU ids when GPUs are set, else "0".."Slots-1".
func (h Host) SlotNames() []string {
	if len(h.GPUs) > 0 {
		return slices.Clone(h.GPUs)
	}
	names := make([]string, h.Slots)
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return names
}

// File is a parsed, validated and resolved hosts file.
type File struct {
	Path  string
	Hosts []Host // in file order
}

// Find returns the host named name.
func (f *File) Find(name string) (Host, bool) {
	for _, h := range f.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

// LocalHost is the host used when no hosts file is given: the local machine,
// through the same run contract. A slots below 1 means 1; an empty python or
// workdir means the default.
func LocalHost(slots int, python, workdir string) Host {
	if python == "" {
		python = DefaultPython
	}
	if workdir == "" {
		workdir = DefaultWorkdir
	}
	return Host{
		Name:           "local",
		Kind:           KindLocal,
		Slots:          max(slots, 1),
		Python:         python,
		Workdir:        workdir,
		ConnectTimeout: DefaultConnectTimeout,
	}
}

// Load reads path and parses it with r.Parse.
func (r Resolver) Load(ctx context.Context, path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read hosts file: %w", err)
	}
	return r.Parse(ctx, path, data)
}

// Parse parses and validates data, applies the defaults and resolves each
// address through the ssh config (a local: true slurm entry has none). All problems come back together, joined
// and sorted by line; each is a *Problem.
func (r Resolver) Parse(ctx context.Context, path string, data []byte) (*File, error) {
	p := &parser{path: path, home: r.Home}
	hosts := p.parse(data)
	if len(p.problems) > 0 {
		return nil, p.err()
	}
	for i := range hosts {
		if hosts[i].Local {
			// Not reached over SSH: nothing to resolve, and ssh -G would
			// fill in an address, user and keys that mean nothing here.
			continue
		}
		if err := r.resolve(ctx, &hosts[i].Host, hosts[i].explicit); err != nil {
			if ctx.Err() != nil {
				// Cancelled, not a problem of the file.
				return nil, fmt.Errorf("resolve hosts: %w", ctx.Err())
			}
			p.addf(hosts[i].Line, "host %q: %v", hosts[i].Name, err)
		}
	}
	if len(p.problems) > 0 {
		return nil, p.err()
	}
	f := &File{Path: path, Hosts: make([]Host, len(hosts))}
	for i, h := range hosts {
		f.Hosts[i] = h.Host
	}
	return f, nil
}

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
}

// hostEntry is one item of hosts: as written.
type hostEntry struct {
	Name     string   `yaml:"name"`
	Kind     string   `yaml:"kind"`
	Address  string   `yaml:"address"`
	Port     *int     `yaml:"port"`
	Slots    *int     `yaml:"slots"`
	GPUs     []string `yaml:"gpus"`
	Local    bool     `yaml:"local"`
	Sbatch   []string `yaml:"sbatch"`
	settings `yaml:",inline"`
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
}

// parsedHost is a Host before alias resolution.
type parsedHost struct {
	Host
	explicit explicit
}

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	gpuRE    = regexp.MustCompile(`^[0-9A-Za-z-]+$`)
	envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.+) not found in type (\S+)$`)
	cannotRE       = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
	dupKeyRE       = regexp.MustCompile(`^line (\d+): mapping key "(.*)" already defined at line (\d+)$`)
	lineRE         = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
)

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

func (p *parser) parse(data []byte) []parsedHost {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.syntaxError(data, err)
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.addf(1, "no hosts: the file is empty")
		return nil
	}
	p.index(doc.Content[0])

	var raw fileDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	p.badLines = map[int]bool{}
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			p.syntaxError(data, err)
			return nil
		}
		for _, msg := range te.Errors {
			p.typeError(msg)
		}
	}

	var defaults settings
	if raw.Defaults != nil {
		defaults = *raw.Defaults
		p.checkSettings(defaults, p.defaults, "defaults")
	}
	if len(raw.Hosts) == 0 {
		if len(p.problems) > 0 {
			return nil // the hosts list is missing because of a problem already reported
		}
		if n := p.value(p.root, "hosts"); n == nil {
			p.addf(1, "no hosts: add a hosts: list with at least one entry")
		} else if !p.badLines[n.Line] {
			p.addf(n.Line, "no hosts: the hosts list is empty")
		}
		return nil
	}

	nodes := p.decodedEntries()
	if len(nodes) != len(raw.Hosts) {
		// The decoder dropped entries in a way not foreseen; the type errors
		// already say why, and lines could not be trusted.
		return nil
	}
	seen := map[string]int{}
	hosts := make([]parsedHost, 0, len(raw.Hosts))
	for i, e := range raw.Hosts {
		node := nodes[i]
		line := lineOf(node)
		where := p.where(line)
		if e.Name != "" {
			if first, dup := seen[e.Name]; dup {
				p.addf(line, "duplicate host name %q (also at line %d)", e.Name, first)
			} else {
				seen[e.Name] = line
			}
		}
		hosts = append(hosts, p.checkHost(e, node, where, defaults))
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

// checkSettings validates the keys shared by defaults and hosts; where names
// the part of the file for messages.
func (p *parser) checkSettings(s settings, node *yaml.Node, where string) {
	line := func(key string) int { return p.line(node, key, lineOf(node)) }
	ok := func(key string) bool { return p.valid(node, key) }
	if s.Python != nil && *s.Python == "" && ok("python") {
		p.addf(line("python"), "%s: python must not be empty", where)
	}
	if s.Workdir != nil && *s.Workdir == "" && ok("workdir") {
		p.addf(line("workdir"), "%s: workdir must not be empty", where)
	}
	if s.KnownHosts != nil && ok("known_hosts") {
		if len(*s.KnownHosts) == 0 {
			p.addf(line("known_hosts"), "%s: known_hosts must name at least one file (host key verification is never off)", where)
		}
		for _, f := range *s.KnownHosts {
			if f == "" {
				p.addf(line("known_hosts"), "%s: known_hosts has an empty path", where)
			} else if _, err := expandHome(f, p.home); err != nil {
				p.addf(line("known_hosts"), "%s: known_hosts: %v", where, err)
			}
		}
	}
	if s.IdentityFile != nil && *s.IdentityFile != "" && ok("identity_file") {
		if _, err := expandHome(*s.IdentityFile, p.home); err != nil {
			p.addf(line("identity_file"), "%s: identity_file: %v", where, err)
		}
	}
	if s.MaxLoad != nil && ok("max_load") {
		if v := *s.MaxLoad; v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			p.addf(line("max_load"), "%s: max_load must be a number >= 0, got %v", where, v)
		}
	}
	if s.ConnectTimeout != nil && *s.ConnectTimeout <= 0 && ok("connect_timeout") {
		p.addf(line("connect_timeout"), "%s: connect_timeout must be positive, got %v", where, *s.ConnectTimeout)
	}
	env := p.value(node, "env")
	for _, k := range sortedKeys(s.Env) {
		if !envKeyRE.MatchString(k) {
			l := lineOf(env)
			if env != nil {
				for i := 0; i+1 < len(env.Content); i += 2 {
					if env.Content[i].Value == k {
						l = env.Content[i].Line
					}
				}
			}
			p.addf(l, "%s: bad env key %q: use letters, digits and '_', not starting with a digit", where, k)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkHost validates one entry and merges the defaults into it.
func (p *parser) checkHost(e hostEntry, node *yaml.Node, where string, d settings) parsedHost {
	entryLine := lineOf(node)
	line := func(key string) int { return p.line(node, key, entryLine) }
	has := func(key string) bool { return p.value(node, key) != nil }
	ok := func(key string) bool { return p.valid(node, key) }

	switch {
	case e.Name == "" && ok("name"):
		p.addf(line("name"), "%s: missing name", where)
	case e.Name != "" && !nameRE.MatchString(e.Name):
		// The name becomes part of paths (run dirs, logs), so it is kept plain.
		p.addf(line("name"), "%s: bad name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", where, e.Name)
	}

	kind := KindSSH
	if e.Kind != "" {
		kind = Kind(e.Kind)
	}
	switch kind {
	case KindSSH, KindSlurm:
	case KindLocal:
		p.addf(line("kind"), "%s: kind %q cannot be used in a hosts file: the local machine is the host when no hosts file is given", where, e.Kind)
	default:
		if ok("kind") {
			kinds := make([]string, len(fileKinds))
			for i, k := range fileKinds {
				kinds[i] = string(k)
			}
			p.addf(line("kind"), "%s: unknown kind %q (supported: %s)", where, e.Kind, strings.Join(kinds, ", "))
		}
	}
	slurm := kind == KindSlurm
	local := slurm && e.Local

	if kind == KindSSH {
		// An unknown kind is reported above; these would only add noise.
		for _, key := range []string{"local", "sbatch"} {
			if has(key) && ok(key) {
				p.addf(line(key), "%s: %s applies only to kind: slurm entries: add kind: slurm or remove %s", where, key, key)
			}
		}
	}

	if local {
		// mljob runs sbatch and friends on this machine: connection keys
		// would be silently ignored, so they are refused.
		for _, key := range []string{"address", "port", "user", "identity_file", "known_hosts"} {
			if has(key) && ok(key) {
				p.addf(line(key), "%s: %s: a local: true entry is not reached over SSH; remove %s, or local: true to reach the login node over SSH", where, key, key)
			}
		}
	} else {
		switch {
		case e.Address == "" && ok("address") && ok("local"):
			// With local unreadable, whether an address is needed is unknown.
			p.addf(line("address"), "%s: missing address", where)
		case strings.HasPrefix(e.Address, "-") || strings.ContainsFunc(e.Address, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			// A leading '-' would be read as an option by ssh.
			p.addf(line("address"), "%s: bad address %q", where, e.Address)
		}
	}

	if !local && e.Port != nil && ok("port") && (*e.Port < 1 || *e.Port > 65535) {
		p.addf(line("port"), "%s: port must be 1-65535, got %d", where, *e.Port)
	}

	slots := 1
	if slurm {
		slots = DefaultSlurmSlots
	}
	if e.Slots != nil {
		slots = *e.Slots
		if slots < 1 {
			p.addf(line("slots"), "%s: slots must be at least 1, got %d", where, slots)
		}
	}
	var gpus []string
	switch {
	case slurm && has("gpus") && ok("gpus"):
		p.addf(line("gpus"), "%s: a slurm entry gets GPUs from sbatch options such as --gres=gpu:1, not gpus; move them to sbatch", where)
	case has("gpus") && ok("gpus"):
		if e.Slots != nil {
			p.addf(line("slots"), "%s: give slots or gpus, not both (gpus gives one slot per GPU)", where)
		}
		if len(e.GPUs) == 0 {
			p.addf(line("gpus"), "%s: gpus must list at least one GPU id", where)
		}
		seen := map[string]bool{}
		for _, g := range e.GPUs {
			switch {
			case !gpuRE.MatchString(g):
				p.addf(line("gpus"), "%s: bad gpu id %q: use digits, letters and '-' (a GPU index or MIG id)", where, g)
			case seen[g]:
				p.addf(line("gpus"), "%s: gpu id %q listed twice", where, g)
			}
			seen[g] = true
		}
		gpus = slices.Clone(e.GPUs)
		slots = len(gpus)
	}

	if slurm && e.MaxLoad != nil && ok("max_load") {
		p.addf(line("max_load"), "%s: max_load does not apply to a slurm entry: Slurm decides where runs go; remove it", where)
	}
	var sbatch []string
	if slurm && ok("sbatch") {
		p.checkSbatch(e.Sbatch, p.value(node, "sbatch"), where)
		if len(e.Sbatch) > 0 {
			sbatch = slices.Clone(e.Sbatch)
		}
	}

	p.checkSettings(e.settings, node, where)

	h := parsedHost{Host: Host{
		Name:           e.Name,
		Kind:           kind,
		Address:        e.Address,
		Port:           DefaultPort,
		Python:         DefaultPython,
		Workdir:        DefaultWorkdir,
		Slots:          slots,
		GPUs:           gpus,
		ConnectTimeout: DefaultConnectTimeout,
		Local:          local,
		Sbatch:         sbatch,
		Line:           entryLine,
	}}
	if local {
		// As LocalHost: no address, port, user or keys; the defaults' are
		// for the hosts reached over SSH.
		h.Address, h.Port = "", 0
	} else {
		if e.Port != nil {
			h.Port = *e.Port
			h.explicit.port = true
		}
		if v := pick(e.User, d.User); v != nil {
			h.User = *v
			h.explicit.user = true
		}
		if v := pick(e.IdentityFile, d.IdentityFile); v != nil {
			h.IdentityFile, _ = expandHome(*v, p.home) // error reported by checkSettings
			h.explicit.identityFile = true
		}
		if v := pick(e.KnownHosts, d.KnownHosts); v != nil {
			for _, f := range *v {
				f, _ = expandHome(f, p.home)
				h.KnownHosts = append(h.KnownHosts, f)
			}
			h.explicit.knownHosts = true
		}
	}
	if v := pick(e.Python, d.Python); v != nil {
		h.Python = *v
	}
	if v := pick(e.Workdir, d.Workdir); v != nil {
		h.Workdir = *v
	}
	if v := pick(e.MaxLoad, d.MaxLoad); v != nil && !slurm {
		h.MaxLoad = *v
	}
	if v := pick(e.ConnectTimeout, d.ConnectTimeout); v != nil {
		h.ConnectTimeout = *v
	}
	env := map[string]string{}
	for k, v := range d.Env {
		env[k] = v
	}
	for k, v := range e.Env { // host keys win
		env[k] = v
	}
	for _, k := range sortedKeys(env) {
		h.Env = append(h.Env, EnvVar{Key: k, Value: env[k]})
	}
	return h
}

// checkSbatch validates a slurm entry's sbatch options; node is the sbatch
// list, whose items give each option its own line.
func (p *parser) checkSbatch(opts []string, node *yaml.Node, where string) {
	for i, o := range opts {
		line := lineOf(node)
		if node != nil && node.Kind == yaml.SequenceNode && len(node.Content) == len(opts) {
			line = node.Content[i].Line
		}
		if msg := sbatchopt.Problem(o); msg != "" {
			p.addf(line, "%s: %s", where, msg)
		}
	}
}

// pick returns the host's own value when given, else the default's.
func pick[T any](own, def *T) *T {
	if own != nil {
		return own
	}
	return def
}

// expandHome expands a leading ~ or ~/ with home. ~user is refused: it needs
// the password database of the machine the path is read on.
func expandHome(path, home string) (string, error) {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		if strings.HasPrefix(path, "~") {
			return path, fmt.Errorf("%q: ~user paths are not supported, write the full path", path)
		}
		return path, nil
	}
	if home == "" {
		return path, fmt.Errorf("%q: cannot expand ~: home directory unknown", path)
	}
	return home + path[1:], nil
}
