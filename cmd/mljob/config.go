package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/config"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/render"
)

// annotationNoConfig marks commands that run without reading the config
// file, so that a broken one does not stop `mljob version` or completion.
const annotationNoConfig = "mljob/no-config"

// applyConfig resolves the settings for cmd and sets them: the database
// file on a, and the flags cmd takes that the command line left unset (as
// if given: a scripts dir named in the config is used, not the bundled
// scripts). It then checks that a hosts file named anywhere exists, so its
// absence is met with an example rather than a read error.
func (a *app) applyConfig(cmd *cobra.Command) error {
	path, explicit, err := config.Path(a.configFlag, os.Getenv, os.UserHomeDir)
	if err != nil {
		return err
	}
	cfg, err := config.Load(path, explicit, os.UserHomeDir)
	if err != nil {
		hint := "check --config"
		if errors.As(err, new(*config.ParseError)) {
			hint = "fix the config file; its keys are " + config.KnownKeys() + " (see mljob config --help)"
		}
		return &userError{msg: err.Error(), hint: hint, err: err}
	}
	a.configRow = config.FileSetting(path, explicit, cfg != nil)
	a.settings = a.settings[:0]
	for _, k := range config.Keys {
		var flagValue string
		var flagSet bool
		f := cmd.Flags().Lookup(k.Flag)
		if f != nil && f.Changed {
			flagValue, flagSet = f.Value.String(), true
		}
		s := config.Resolve(k, flagValue, flagSet, os.Getenv, cfg, a.defaultSetting(k))
		a.settings = append(a.settings, s)
		if s.Source == config.SourceEnv || s.Source == config.SourceConfig {
			if k.Name == "db" {
				a.dbPath = s.Value
			} else if f != nil {
				if err := cmd.Flags().Set(k.Flag, s.Value); err != nil {
					return &userError{msg: fmt.Sprintf("%s from %s: %v", k.Name, s.From, err), hint: "fix " + s.From}
				}
			}
		}
		if k.Name == "hosts" && f != nil && s.Value != "" {
			if _, err := os.Stat(s.Value); errors.Is(err, fs.ErrNotExist) {
				e := &hosts.MissingError{Path: s.Value, Origin: s.From, Err: err}
				return &userError{msg: e.Error(), hint: e.Hint(), err: e}
			}
		}
	}
	return nil
}

// settingSource is where key's resolved value came from (config.SourceFlag
// and so on), "" before applyConfig.
func (a *app) settingSource(key string) string {
	for _, s := range a.settings {
		if s.Key == key {
			return s.Source
		}
	}
	return ""
}

// defaultSetting is a key's value when nothing sets it, with a note on it.
func (a *app) defaultSetting(k config.Key) config.Setting {
	fb := config.Fallbacks{Scripts: defaultScriptsDir, Python: defaultLocalPython}
	if data, err := a.dataDir(); err == nil {
		fb.Bundled = filepath.Join(data, "python-scripts")
	}
	return config.Default(k, fb, os.Getenv, os.UserHomeDir)
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

  key            flag             env                  default
  db             --db             MLJOB_DB             $XDG_DATA_HOME/mljob/mljob.db (~/.local/share/mljob/mljob.db)
  hosts          --hosts          MLJOB_HOSTS          none: dispatch runs on this machine
  scripts        --scripts        MLJOB_SCRIPTS        ./python-scripts, else the scripts bundled in mljob
  python         --python         MLJOB_PYTHON         python3 (runs on this machine; a hosts file names its own)
  artifacts_cap  --artifacts-cap  MLJOB_ARTIFACTS_CAP  a host's artifacts_cap, else 1GiB (dispatch only;
                                                       a job's "artifactsCap" wins over all of them)

The config file is $XDG_CONFIG_HOME/mljob/config.yaml (~/.config/mljob/config.yaml),
or the file named by --config. It is YAML with only the keys above, e.g.

  db: ~/sweeps/mljob.db
  hosts: hosts.yaml        # relative paths are relative to the config file
  scripts: ~/src/my-trainers
  python: /usr/bin/python3
  artifacts_cap: 500MB     # dispatch; a size: 500MB, 4GiB or bytes

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
	rows := append([]config.Setting{a.configRow}, a.settings...)
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
