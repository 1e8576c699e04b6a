package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/mljob/mljob/internal/render"
)

// Where a setting's value came from, highest precedence first:
// flags > env > config file > defaults.
const (
	sourceFlag    = "flag"
	sourceEnv     = "env"
	sourceConfig  = "config"
	sourceDefault = "default"
)

// annotationNoConfig marks commands that run without reading the config
// file, so that a broken one does not stop `mljob version` or completion.
const annotationNoConfig = "mljob/no-config"

// settingKey is a default the config file, the environment and a flag can set.
type settingKey struct {
	key  string // key in the config file
	flag string // flag of the commands that take it
	env  string // environment variable
	// path: a relative value in the config file is relative to the file's
	// directory. For python only when it has a slash: "python3" is looked
	// up on PATH, ".venv/bin/python" is a file beside the config.
	path        bool
	pathIfSlash bool
}

// settingKeys are the config keys, in the order mljob config prints them.
// db comes first: the default scripts dir lies beside the database.
var settingKeys = []settingKey{
	{key: "db", flag: "db", env: "MLJOB_DB", path: true},
	{key: "hosts", flag: "hosts", env: "MLJOB_HOSTS", path: true},
	{key: "scripts", flag: "scripts", env: "MLJOB_SCRIPTS", path: true},
	{key: "python", flag: "python", env: "MLJOB_PYTHON", pathIfSlash: true},
}

// knownConfigKeys lists the keys for error messages.
func knownConfigKeys() string {
	keys := make([]string, len(settingKeys))
	for i, k := range settingKeys {
		keys[i] = k.key
	}
	return strings.Join(keys, ", ")
}

// setting is one resolved value and where it came from.
type setting struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"` // flag, env, config or default
	// From names the origin: "--db", "MLJOB_DB", "PATH:LINE" of the config
	// file, or a note on a default.
	From string `json:"from"`
}

// configValue is a value of the config file, paths already resolved.
type configValue struct {
	value string
	line  int
}

// configFile is a parsed config file; a nil *configFile is no file.
type configFile struct {
	path   string
	values map[string]configValue
}

func (c *configFile) lookup(key string) (configValue, bool) {
	if c == nil {
		return configValue{}, false
	}
	v, ok := c.values[key]
	return v, ok
}

// configPath returns the config file to read: flagPath when --config was
// given (explicit: it must exist), else $XDG_CONFIG_HOME/mljob/config.yaml,
// with ~/.config for an unset or relative XDG_CONFIG_HOME (the XDG spec
// says relative paths are to be ignored).
func configPath(flagPath string, getenv func(string) string, home func() (string, error)) (path string, explicit bool, err error) {
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

// loadConfig reads and parses the config file at path. A missing file is
// no config (nil, nil) unless it was named explicitly.
func loadConfig(path string, explicit bool, home func() (string, error)) (*configFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			return nil, nil
		}
		return nil, &userError{msg: fmt.Sprintf("read config file: %v", err), hint: "check --config", err: err}
	}
	c, err := parseConfig(path, data, home)
	if err != nil {
		return nil, &userError{msg: err.Error(), hint: "fix the config file; its keys are " + knownConfigKeys() + " (see mljob config --help)", err: err}
	}
	return c, nil
}

// parseConfig parses a config file strictly: a mapping of known keys to
// strings, nothing else. Every problem is reported, each as "PATH:LINE: …";
// an empty file is an empty config. Relative paths are resolved against the
// file's directory, and a leading ~/ against the home directory.
func parseConfig(path string, data []byte, home func() (string, error)) (*configFile, error) {
	c := &configFile{path: path, values: map[string]configValue{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return c, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping of keys (%s) to values", path, root.Line, knownConfigKeys())
	}
	var problems []error
	addf := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...)))
	}
	dir := filepath.Dir(path)
	seen := map[string]int{} // key -> line: decoding into a Node does not catch duplicates
	for i := 0; i+1 < len(root.Content); i += 2 {
		kn, vn := root.Content[i], root.Content[i+1]
		if first, dup := seen[kn.Value]; dup {
			addf(kn.Line, "%s: already set at line %d", kn.Value, first)
			continue
		}
		seen[kn.Value] = kn.Line
		var key *settingKey
		for j := range settingKeys {
			if settingKeys[j].key == kn.Value {
				key = &settingKeys[j]
			}
		}
		if key == nil {
			addf(kn.Line, "unknown key %q (known keys: %s)", kn.Value, knownConfigKeys())
			continue
		}
		if vn.Kind != yaml.ScalarNode {
			addf(vn.Line, "%s: want a string", kn.Value)
			continue
		}
		if vn.Tag == "!!null" {
			continue // "hosts:" with no value sets nothing
		}
		v := vn.Value
		if v == "" {
			addf(vn.Line, "%s: empty; leave the key out for the default", kn.Value)
			continue
		}
		if key.path || (key.pathIfSlash && strings.Contains(v, "/")) {
			if rest, ok := strings.CutPrefix(v, "~/"); ok {
				h, err := home()
				if err != nil {
					addf(vn.Line, "%s: expand ~: %v", kn.Value, err)
					continue
				}
				v = filepath.Join(h, rest)
			} else if !filepath.IsAbs(v) {
				v = filepath.Join(dir, v)
			}
		}
		c.values[key.key] = configValue{value: v, line: vn.Line}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return c, nil
}

// resolveSetting applies the precedence flags > env > config > default to
// one key. flagSet says the command line set the flag (to flagValue).
func resolveSetting(k settingKey, flagValue string, flagSet bool, getenv func(string) string, cfg *configFile, def setting) setting {
	switch {
	case flagSet:
		return setting{Key: k.key, Value: flagValue, Source: sourceFlag, From: "--" + k.flag}
	case getenv(k.env) != "":
		return setting{Key: k.key, Value: getenv(k.env), Source: sourceEnv, From: k.env}
	}
	if v, ok := cfg.lookup(k.key); ok {
		return setting{Key: k.key, Value: v.value, Source: sourceConfig, From: cfg.path + ":" + strconv.Itoa(v.line)}
	}
	def.Key, def.Source = k.key, sourceDefault
	return def
}

// applyConfig resolves the settings for cmd and sets them: the database
// file on a, and the flags cmd takes that the command line left unset (as
// if given: a scripts dir named in the config is used, not the bundled
// scripts). It then checks that a hosts file named anywhere exists, so its
// absence is met with an example rather than a read error.
func (a *app) applyConfig(cmd *cobra.Command) error {
	path, explicit, err := configPath(a.configFlag, os.Getenv, os.UserHomeDir)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(path, explicit, os.UserHomeDir)
	if err != nil {
		return err
	}
	a.configFile, a.configFound = path, cfg != nil
	if explicit {
		a.configFrom = "--config"
	}
	a.settings = a.settings[:0]
	for _, k := range settingKeys {
		var flagValue string
		var flagSet bool
		f := cmd.Flags().Lookup(k.flag)
		if f != nil && f.Changed {
			flagValue, flagSet = f.Value.String(), true
		}
		s := resolveSetting(k, flagValue, flagSet, os.Getenv, cfg, a.defaultSetting(k))
		a.settings = append(a.settings, s)
		if s.Source == sourceEnv || s.Source == sourceConfig {
			if k.key == "db" {
				a.dbPath = s.Value
			} else if f != nil {
				if err := cmd.Flags().Set(k.flag, s.Value); err != nil {
					return &userError{msg: fmt.Sprintf("%s from %s: %v", k.key, s.From, err), hint: "fix " + s.From}
				}
			}
		}
		if k.key == "hosts" && f != nil && s.Value != "" {
			if _, err := os.Stat(s.Value); errors.Is(err, fs.ErrNotExist) {
				return hostsFileMissingError(s.Value, s.From, err)
			}
		}
	}
	return nil
}

// defaultSetting is a key's value when nothing sets it, with a note on it.
func (a *app) defaultSetting(k settingKey) setting {
	switch k.key {
	case "db":
		p, err := defaultDBPath()
		if err != nil {
			return setting{From: err.Error()}
		}
		return setting{Value: p, From: "$XDG_DATA_HOME/mljob/mljob.db"}
	case "hosts":
		return setting{From: "none: this machine is the one host"}
	case "scripts":
		if _, err := os.Stat(defaultScriptsDir); err == nil {
			return setting{Value: defaultScriptsDir}
		}
		data, err := a.dataDir()
		if err != nil {
			return setting{Value: defaultScriptsDir}
		}
		return setting{Value: filepath.Join(data, "python-scripts"), From: "bundled scripts (no " + defaultScriptsDir + " here)"}
	case "python":
		return setting{Value: defaultLocalPython, From: "runs on this machine; a hosts file names its own"}
	}
	return setting{}
}

type configOptions struct {
	app    *app
	output string
}

func newConfigCmd(a *app) *cobra.Command {
	opts := &configOptions{app: a}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the effective settings and where each comes from",
		Long: `Config prints the settings mljob uses and where each value comes from:
a flag, an environment variable, the config file, or the default. Flags win
over the environment, which wins over the config file, which wins over the
defaults.

  key      flag       env            default
  db       --db       MLJOB_DB       $XDG_DATA_HOME/mljob/mljob.db (~/.local/share/mljob/mljob.db)
  hosts    --hosts    MLJOB_HOSTS    none: dispatch runs on this machine
  scripts  --scripts  MLJOB_SCRIPTS  ./python-scripts, else the scripts bundled in mljob
  python   --python   MLJOB_PYTHON   python3 (runs on this machine; a hosts file names its own)

The config file is $XDG_CONFIG_HOME/mljob/config.yaml (~/.config/mljob/config.yaml),
or the file named by --config. It is YAML with only the keys above, e.g.

  db: ~/sweeps/mljob.db
  hosts: hosts.yaml        # relative paths are relative to the config file
  scripts: ~/src/my-trainers
  python: /usr/bin/python3

An unknown key is an error naming the file and line. The config file's row
shows the file read, and "not found" when there is none (that is fine).

Exit codes: 0 ok, 1 error (e.g. a bad config file), 2 usage error.`,
		Example: `  mljob config
  MLJOB_HOSTS=lab.yaml mljob config -o json
  mljob --config ./sweep.yaml config`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfig(opts)
		},
	}
	addOutputFlag(cmd, &opts.output)
	return cmd
}

func runConfig(opts *configOptions) error {
	a := opts.app
	file := setting{Key: "config", Value: a.configFile, Source: sourceDefault}
	switch {
	case a.configFrom != "":
		file.Source, file.From = sourceFlag, a.configFrom
	case !a.configFound:
		file.From = "not found"
	}
	rows := append([]setting{file}, a.settings...)
	t := render.Table{Headers: []string{"KEY", "VALUE", "SOURCE", "FROM"}, Keys: []string{"key", "value", "source", "from"}}
	for _, s := range rows {
		t.Rows = append(t.Rows, []string{s.Key, s.Value, s.Source, s.From})
		if s.Key == "hosts" && s.Value != "" {
			if _, err := os.Stat(s.Value); err != nil {
				fmt.Fprintf(a.io.ErrOut, "Warning: hosts file %s: %v\n", s.Value, errors.Unwrap(err))
			}
		}
	}
	return render.Write(a.io.Out, opts.output, t, rows)
}
