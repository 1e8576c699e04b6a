// Package config reads mljob's config file and resolves each setting (the
// database, the hosts file, the scripts dir, the local python, the
// artifacts cap) by the
// precedence flags > environment > config file > defaults, keeping where
// each value came from so that `mljob config` can say so.
//
// The file is strict YAML: a mapping of the known keys to strings, nothing
// else, so that a typo is an error naming the file and line rather than a
// setting silently ignored. It knows nothing of cobra: cmd/mljob passes in
// the flag values the command line set, and sets flags from the result.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mljob/mljob/internal/artifacts"
)

// Where a setting's value came from, highest precedence first:
// flags > env > config file > defaults.
const (
	SourceFlag    = "flag"
	SourceEnv     = "env"
	SourceConfig  = "config"
	SourceDefault = "default"
)

// Key is a default the config file, the environment and a flag can set.
type Key struct {
	Name string // key in the config file
	Flag string // flag of the commands that take it
	Env  string // environment variable
	// path: a relative value in the config file is relative to the file's
	// directory. For python only when it has a slash: "python3" is looked
	// up on PATH, ".venv/bin/python" is a file beside the config.
	path        bool
	pathIfSlash bool
	// size: the value is a byte count (artifacts.ParseSize), checked when
	// the file is read.
	size bool
}

// Keys are the config keys, in the order mljob config prints them.
// db comes first: the default scripts dir lies beside the database.
var Keys = []Key{
	{Name: "db", Flag: "db", Env: "MLJOB_DB", path: true},
	{Name: "hosts", Flag: "hosts", Env: "MLJOB_HOSTS", path: true},
	{Name: "scripts", Flag: "scripts", Env: "MLJOB_SCRIPTS", path: true},
	{Name: "python", Flag: "python", Env: "MLJOB_PYTHON", pathIfSlash: true},
	// gpus and lock_dir: this machine's GPUs (dispatch without a hosts
	// file) and where their leases live.
	{Name: "gpus", Flag: "gpus", Env: "MLJOB_GPUS"},
	{Name: "lock_dir", Flag: "lock-dir", Env: "MLJOB_LOCK_DIR", path: true},
	{Name: "artifacts_cap", Flag: "artifacts-cap", Env: "MLJOB_ARTIFACTS_CAP", size: true},
}

// KnownKeys lists the keys for error messages: "db, hosts, scripts, python, …".
func KnownKeys() string {
	names := make([]string, len(Keys))
	for i, k := range Keys {
		names[i] = k.Name
	}
	return strings.Join(names, ", ")
}

// lookupKey returns the Key named name, or nil.
func lookupKey(name string) *Key {
	for i := range Keys {
		if Keys[i].Name == name {
			return &Keys[i]
		}
	}
	return nil
}

// Setting is one resolved value and where it came from, as mljob config
// prints it.
type Setting struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"` // flag, env, config or default
	// From names the origin: "--db", "MLJOB_DB", "PATH:LINE" of the config
	// file, or a note on a default.
	From string `json:"from"`
}

// value is a value of the config file, paths already resolved.
type value struct {
	value string
	line  int
}

// File is a parsed config file; a nil *File is no file.
type File struct {
	Path   string
	values map[string]value
}

// Lookup returns the value the file gives key, and its line.
func (f *File) Lookup(key string) (v string, line int, ok bool) {
	if f == nil {
		return "", 0, false
	}
	val, ok := f.values[key]
	return val.value, val.line, ok
}

// Path returns the config file to read: flagPath when --config was given
// (explicit: it must exist), else $XDG_CONFIG_HOME/mljob/config.yaml, with
// ~/.config for an unset or relative XDG_CONFIG_HOME (the XDG spec says
// relative paths are to be ignored).
func Path(flagPath string, getenv func(string) string, home func() (string, error)) (path string, explicit bool, err error) {
	if flagPath != "" {
		return flagPath, true, nil
	}
	if x := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "mljob", "config.yaml"), false, nil
	}
	h, err := home()
	if err != nil {
		return "", false, fmt.Errorf("find the config file: %w (set --config)", err)
	}
	return filepath.Join(h, ".config", "mljob", "config.yaml"), false, nil
}

// DefaultDBPath is the database when nothing names one:
// $XDG_DATA_HOME/mljob/mljob.db, ~/.local/share/mljob/mljob.db without it.
func DefaultDBPath(getenv func(string) string, home func() (string, error)) (string, error) {
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "mljob", "mljob.db"), nil
	}
	h, err := home()
	if err != nil {
		return "", fmt.Errorf("find the default database: %w (set --db or MLJOB_DB)", err)
	}
	return filepath.Join(h, ".local", "share", "mljob", "mljob.db"), nil
}

// ParseError is a config file that is not what mljob reads: every problem
// found, each "PATH:LINE: …" (or "PATH: …" for bad YAML), one a line.
type ParseError struct {
	Problems []string
}

func (e *ParseError) Error() string { return strings.Join(e.Problems, "\n") }

// Load reads and parses the config file at path. A missing file is no
// config (nil, nil) unless it was named explicitly. A file that cannot be
// read is an error wrapping the cause (fs.ErrNotExist, …); a file that
// does not parse is a *ParseError.
func Load(path string, explicit bool, home func() (string, error)) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			return nil, nil
		}
		return nil, fmt.Errorf("read config file: %w", err)
	}
	return Parse(path, data, home)
}

// Parse parses a config file strictly: a mapping of known keys to strings,
// nothing else. Every problem is reported in one *ParseError; an empty file
// is an empty config. Relative paths are resolved against the file's
// directory, and a leading ~/ against the home directory.
func Parse(path string, data []byte, home func() (string, error)) (*File, error) {
	f := &File{Path: path, values: map[string]value{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ParseError{Problems: []string{fmt.Sprintf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))}}
	}
	if len(doc.Content) == 0 {
		return f, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &ParseError{Problems: []string{fmt.Sprintf("%s:%d: want a mapping of keys (%s) to values", path, root.Line, KnownKeys())}}
	}
	var problems []string
	seen := map[string]int{} // key -> line: decoding into a Node does not catch duplicates
	for i := 0; i+1 < len(root.Content); i += 2 {
		kn, vn := root.Content[i], root.Content[i+1]
		if first, dup := seen[kn.Value]; dup {
			problems = append(problems, fmt.Sprintf("%s:%d: %s: already set at line %d", path, kn.Line, kn.Value, first))
			continue
		}
		seen[kn.Value] = kn.Line
		v, line, problem := f.entry(kn, vn, home)
		switch {
		case problem != "":
			problems = append(problems, fmt.Sprintf("%s:%d: %s", path, line, problem))
		case line > 0:
			f.values[kn.Value] = value{value: v, line: line}
		}
	}
	if len(problems) > 0 {
		return nil, &ParseError{Problems: problems}
	}
	return f, nil
}

// entry checks one key and its value node, and returns the value (a path
// resolved) and its line, or a problem and the line it is on. A null value
// ("hosts:" with nothing after it) sets nothing: line 0, no problem.
func (f *File) entry(kn, vn *yaml.Node, home func() (string, error)) (v string, line int, problem string) {
	key := lookupKey(kn.Value)
	switch {
	case key == nil:
		return "", kn.Line, fmt.Sprintf("unknown key %q (known keys: %s)", kn.Value, KnownKeys())
	case vn.Kind != yaml.ScalarNode:
		return "", vn.Line, kn.Value + ": want a string"
	case vn.Tag == "!!null":
		return "", 0, ""
	case vn.Value == "":
		return "", vn.Line, kn.Value + ": empty; leave the key out for the default"
	}
	v = vn.Value
	if key.size {
		if _, err := artifacts.ParseSize(v); err != nil {
			return "", vn.Line, fmt.Sprintf("%s: %v", kn.Value, err)
		}
	}
	if !key.path && !(key.pathIfSlash && strings.Contains(v, "/")) {
		return v, vn.Line, ""
	}
	if rest, ok := strings.CutPrefix(v, "~/"); ok {
		h, err := home()
		if err != nil {
			return "", vn.Line, fmt.Sprintf("%s: expand ~: %v", kn.Value, err)
		}
		return filepath.Join(h, rest), vn.Line, ""
	}
	if !filepath.IsAbs(v) {
		v = filepath.Join(filepath.Dir(f.Path), v)
	}
	return v, vn.Line, ""
}

// Fallbacks are the defaults that cmd/mljob decides, for Default.
type Fallbacks struct {
	Scripts string // the scripts dir, when it exists: ./python-scripts
	// Bundled is where the bundled scripts are unpacked when Scripts does
	// not exist (beside the database); "" when unknown.
	Bundled string
	Python  string // the interpreter of this machine
}

// Default is k's value when nothing sets it, with a note on it in From.
func Default(k Key, fb Fallbacks, getenv func(string) string, home func() (string, error)) Setting {
	switch k.Name {
	case "db":
		p, err := DefaultDBPath(getenv, home)
		if err != nil {
			return Setting{From: err.Error()}
		}
		return Setting{Value: p, From: "$XDG_DATA_HOME/mljob/mljob.db"}
	case "hosts":
		return Setting{From: "none: this machine is the one host"}
	case "scripts":
		if _, err := os.Stat(fb.Scripts); err == nil || fb.Bundled == "" {
			return Setting{Value: fb.Scripts}
		}
		return Setting{Value: fb.Bundled, From: "bundled scripts (no " + fb.Scripts + " here)"}
	case "python":
		return Setting{Value: fb.Python, From: "runs on this machine; a hosts file names its own"}
	case "gpus":
		return Setting{From: "none: --slots runs on this machine"}
	case "lock_dir":
		return Setting{Value: "/var/tmp/mljob-locks", From: "leases of this machine's GPUs"}
	case "artifacts_cap":
		return Setting{From: "a host's artifacts_cap or 1 GiB; a job's artifactsCap wins"}
	}
	return Setting{}
}

// FileSetting is the config file's own row of mljob config: the file
// looked for, from --config when explicit, and "not found" when there is
// none (which is fine).
func FileSetting(path string, explicit, found bool) Setting {
	s := Setting{Key: "config", Value: path, Source: SourceDefault}
	switch {
	case explicit:
		s.Source, s.From = SourceFlag, "--config"
	case !found:
		s.From = "not found"
	}
	return s
}

// Origin is where key's value in settings came from (its From: "--db",
// "MLJOB_DB", "PATH:LINE"), or "" when it is the default or not resolved:
// messages about a named file say where the name came from.
func Origin(settings []Setting, key string) string {
	for _, s := range settings {
		if s.Key == key && s.Source != "" && s.Source != SourceDefault {
			return s.From
		}
	}
	return ""
}

// Resolve applies the precedence flags > env > config > default to one
// key. flagSet says the command line set the flag (to flagValue); def is
// the key's default, with a note on it in From.
func Resolve(k Key, flagValue string, flagSet bool, getenv func(string) string, f *File, def Setting) Setting {
	switch {
	case flagSet:
		return Setting{Key: k.Name, Value: flagValue, Source: SourceFlag, From: "--" + k.Flag}
	case getenv(k.Env) != "":
		return Setting{Key: k.Name, Value: getenv(k.Env), Source: SourceEnv, From: k.Env}
	}
	if v, line, ok := f.Lookup(k.Name); ok {
		return Setting{Key: k.Name, Value: v, Source: SourceConfig, From: f.Path + ":" + strconv.Itoa(line)}
	}
	def.Key, def.Source = k.Name, SourceDefault
	return def
}
