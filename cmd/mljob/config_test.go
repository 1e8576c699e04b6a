package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/hosts"
)

// TestResolveSettingPrecedence checks flag > env > config > default for
// each key.
func TestResolveSettingPrecedence(t *testing.T) {
	cfg := &configFile{path: "/c/config.yaml", values: map[string]configValue{
		"db": {value: "/c/cfg.db", line: 1}, "hosts": {value: "/c/hosts.yaml", line: 2},
		"scripts": {value: "/c/scripts", line: 3}, "python": {value: "python3.11", line: 4},
	}}
	def := setting{Value: "the-default", From: "note"}
	tests := []struct {
		name    string
		flag    string // "" = not given
		env     string // "" = unset
		cfg     *configFile
		wantVal string
		wantSrc string
		from    string // "" = check nothing
	}{
		{name: "all set: flag wins", flag: "f", env: "e", cfg: cfg, wantVal: "f", wantSrc: sourceFlag, from: "--KEY"},
		{name: "flag over default", flag: "f", wantVal: "f", wantSrc: sourceFlag},
		{name: "no flag: env wins over config", env: "e", cfg: cfg, wantVal: "e", wantSrc: sourceEnv, from: "ENV"},
		{name: "env over default", env: "e", wantVal: "e", wantSrc: sourceEnv},
		{name: "config over default", cfg: cfg, wantSrc: sourceConfig, from: "/c/config.yaml:LINE"},
		{name: "config file without the key", cfg: &configFile{path: "/c/x.yaml"}, wantVal: "the-default", wantSrc: sourceDefault, from: "note"},
		{name: "nothing: default", wantVal: "the-default", wantSrc: sourceDefault, from: "note"},
	}
	for _, k := range settingKeys {
		for _, tt := range tests {
			t.Run(k.key+"/"+tt.name, func(t *testing.T) {
				getenv := func(name string) string {
					if name == k.env {
						return tt.env
					}
					return ""
				}
				got := resolveSetting(k, tt.flag, tt.flag != "", getenv, tt.cfg, def)
				want := tt.wantVal
				if tt.wantSrc == sourceConfig {
					want = cfg.values[k.key].value
				}
				if got.Key != k.key || got.Value != want || got.Source != tt.wantSrc {
					t.Errorf("got %+v, want key %s value %q source %s", got, k.key, want, tt.wantSrc)
				}
				from := strings.NewReplacer("KEY", k.flag, "ENV", k.env, "LINE", map[string]string{"db": "1", "hosts": "2", "scripts": "3", "python": "4"}[k.key]).Replace(tt.from)
				if tt.from != "" && got.From != from {
					t.Errorf("From = %q, want %q", got.From, from)
				}
			})
		}
	}
}

func TestParseConfig(t *testing.T) {
	home := func() (string, error) { return "/home/u", nil }
	tests := []struct {
		name    string
		data    string
		want    map[string]string
		wantErr []string // substrings, each must appear
	}{
		{name: "empty file", data: "", want: map[string]string{}},
		{name: "comments only", data: "# nothing yet\n", want: map[string]string{}},
		{
			name: "paths relative to the file, ~ to home",
			data: "db: q.db\nhosts: ../lab/hosts.yaml\nscripts: ~/trainers\npython: .venv/bin/python\n",
			want: map[string]string{"db": "/etc/mljob/q.db", "hosts": "/etc/lab/hosts.yaml", "scripts": "/home/u/trainers", "python": "/etc/mljob/.venv/bin/python"},
		},
		{name: "absolute path kept", data: "db: /var/q.db\n", want: map[string]string{"db": "/var/q.db"}},
		{name: "python without a slash is a command name", data: "python: python3.11\n", want: map[string]string{"python": "python3.11"}},
		{name: "null value sets nothing", data: "hosts:\ndb: q.db\n", want: map[string]string{"db": "/etc/mljob/q.db"}},
		{
			name:    "unknown keys, each with its line and the known keys",
			data:    "db: q.db\nhost: h.yaml\n\nscript: s\n",
			wantErr: []string{`/etc/mljob/config.yaml:2: unknown key "host" (known keys: db, hosts, scripts, python)`, `/etc/mljob/config.yaml:4: unknown key "script"`},
		},
		{name: "list value", data: "scripts:\n  - a\n", wantErr: []string{"/etc/mljob/config.yaml:2: scripts: want a string"}},
		{name: "empty string", data: "db: \"\"\n", wantErr: []string{"/etc/mljob/config.yaml:1: db: empty"}},
		{name: "not a mapping", data: "- db\n", wantErr: []string{"/etc/mljob/config.yaml:1: want a mapping"}},
		{name: "duplicate key", data: "db: a\ndb: b\n", wantErr: []string{"/etc/mljob/config.yaml:2: db: already set at line 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig("/etc/mljob/config.yaml", []byte(tt.data), home)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error, want %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range c.values {
				got[k] = v.value
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestConfigPath(t *testing.T) {
	home := func() (string, error) { return "/home/u", nil }
	noHome := func() (string, error) { return "", errors.New("$HOME is not defined") }
	tests := []struct {
		name         string
		flag, xdg    string
		home         func() (string, error)
		want         string
		wantExplicit bool
		wantErr      bool
	}{
		{name: "default", home: home, want: "/home/u/.config/mljob/config.yaml"},
		{name: "XDG_CONFIG_HOME", xdg: "/x", home: home, want: "/x/mljob/config.yaml"},
		{name: "relative XDG_CONFIG_HOME is ignored", xdg: "rel", home: home, want: "/home/u/.config/mljob/config.yaml"},
		{name: "--config wins", flag: "my.yaml", xdg: "/x", home: noHome, want: "my.yaml", wantExplicit: true},
		{name: "no home", home: noHome, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "XDG_CONFIG_HOME" {
					return tt.xdg
				}
				return ""
			}
			got, explicit, err := configPath(tt.flag, getenv, tt.home)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want || explicit != tt.wantExplicit {
				t.Errorf("got %q %v, want %q %v", got, explicit, tt.want, tt.wantExplicit)
			}
		})
	}
}

// TestConfigEndToEnd runs the command line in process: the precedence as
// the commands see it, and the settings reaching the flags of dispatch.
func TestConfigEndToEnd(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "xdg", "mljob", "config.yaml"), "db: cfg.db\nhosts: lab.yaml\npython: /opt/py/bin/python\n")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want map[string][2]string // key -> value, source
	}{
		{
			name: "config file",
			args: []string{"config", "-o", "json"},
			want: map[string][2]string{
				"db": {filepath.Join(dir, "xdg", "mljob", "cfg.db"), sourceConfig}, "hosts": {filepath.Join(dir, "xdg", "mljob", "lab.yaml"), sourceConfig},
				"python": {"/opt/py/bin/python", sourceConfig}, "config": {filepath.Join(dir, "xdg", "mljob", "config.yaml"), sourceDefault},
			},
		},
		{
			name: "env over config",
			env:  map[string]string{"MLJOB_DB": "env.db", "MLJOB_PYTHON": "py-env"},
			args: []string{"config", "-o", "json"},
			want: map[string][2]string{"db": {"env.db", sourceEnv}, "python": {"py-env", sourceEnv}, "hosts": {filepath.Join(dir, "xdg", "mljob", "lab.yaml"), sourceConfig}},
		},
		{
			name: "flag over env",
			env:  map[string]string{"MLJOB_DB": "env.db"},
			args: []string{"--db", "flag.db", "config", "-o", "json"},
			want: map[string][2]string{"db": {"flag.db", sourceFlag}},
		},
		{
			name: "--config replaces the default file",
			args: []string{"--config", filepath.Join(dir, "none.yaml"), "config", "-o", "json"},
			want: map[string][2]string{"db": {filepath.Join(dir, "data", "mljob", "mljob.db"), sourceDefault}, "config": {filepath.Join(dir, "none.yaml"), sourceFlag}},
		},
	}
	writeFile(t, filepath.Join(dir, "none.yaml"), "# empty\n")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
			t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
			for _, k := range settingKeys {
				t.Setenv(k.env, tt.env[k.env])
			}
			out, errOut, code := runInProcess(t, tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got []setting
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			byKey := map[string]setting{}
			for _, s := range got {
				byKey[s.Key] = s
			}
			for k, w := range tt.want {
				if s := byKey[k]; s.Value != w[0] || s.Source != w[1] {
					t.Errorf("%s = %q from %s, want %q from %s", k, s.Value, s.Source, w[0], w[1])
				}
			}
		})
	}

	// The hosts file named in the config reaches dispatch, which finds it
	// missing and says where the name came from.
	t.Run("dispatch sees the config's hosts", func(t *testing.T) {
		t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
		t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
		for _, k := range settingKeys {
			t.Setenv(k.env, "")
		}
		_, errOut, code := runInProcess(t, "dispatch")
		if code != exitError {
			t.Fatalf("exit %d, want %d: %s", code, exitError, errOut)
		}
		want := "Error: hosts file " + filepath.Join(dir, "xdg", "mljob", "lab.yaml") + " (from " + filepath.Join(dir, "xdg", "mljob", "config.yaml") + ":2) does not exist\n"
		if !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, "    hosts:\n") {
			t.Errorf("stderr:\n%s\nwant it to start with %q and show a hosts file", errOut, want)
		}
	})
}

// runInProcess runs the mljob command line with buffers for its streams.
func runInProcess(tb testing.TB, args ...string) (stdout, stderr string, code int) {
	tb.Helper()
	var out, errOut bytes.Buffer
	code = execute(context.Background(), args, ioStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, nil)
	return out.String(), errOut.String(), code
}

func writeFile(tb testing.TB, path, data string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func TestHostsFileMissingError(t *testing.T) {
	cause := &fs.PathError{Op: "stat", Path: "lab.yaml", Err: fs.ErrNotExist}
	err := hostsFileMissingError("lab.yaml", "MLJOB_HOSTS", cause)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is(err, fs.ErrNotExist) = false")
	}
	var ue *userError
	if !errors.As(err, &ue) {
		t.Fatalf("%T is not a *userError", err)
	}
	if got, want := ue.msg, "hosts file lab.yaml (from MLJOB_HOSTS) does not exist"; got != want {
		t.Errorf("msg = %q, want %q", got, want)
	}
	if !strings.Contains(ue.hint, indent(minimalHostsFile, "    ")) {
		t.Errorf("hint lacks the example:\n%s", ue.hint)
	}
	// The example must be a hosts file mljob accepts.
	f, err := hosts.DefaultResolver().Parse(context.Background(), "example.yaml", []byte(minimalHostsFile))
	if err != nil {
		t.Fatalf("the example hosts file does not parse: %v", err)
	}
	if len(f.Hosts) != 1 || f.Hosts[0].Name != "gpu1" || f.Hosts[0].Slots != 1 {
		t.Errorf("example parsed as %+v", f.Hosts)
	}
}
