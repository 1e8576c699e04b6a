package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolvePrecedence checks flag > env > config > default for each key.
func TestResolvePrecedence(t *testing.T) {
	cfg := &File{Path: "/c/config.yaml", values: map[string]value{
		"db": {value: "/c/cfg.db", line: 1}, "hosts": {value: "/c/hosts.yaml", line: 2},
		"scripts": {value: "/c/scripts", line: 3}, "python": {value: "python3.11", line: 4},
		"gpus": {value: "0,1", line: 5}, "lock_dir": {value: "/c/locks", line: 6}, "artifacts_cap": {value: "500MB", line: 7},
	}}
	def := Setting{Value: "the-default", From: "note"}
	tests := []struct {
		name    string
		flag    string // "" = not given
		env     string // "" = unset
		cfg     *File
		wantVal string
		wantSrc string
		from    string // "" = check nothing
	}{
		{name: "all set: flag wins", flag: "f", env: "e", cfg: cfg, wantVal: "f", wantSrc: SourceFlag, from: "--KEY"},
		{name: "flag over default", flag: "f", wantVal: "f", wantSrc: SourceFlag},
		{name: "no flag: env wins over config", env: "e", cfg: cfg, wantVal: "e", wantSrc: SourceEnv, from: "ENV"},
		{name: "env over default", env: "e", wantVal: "e", wantSrc: SourceEnv},
		{name: "config over default", cfg: cfg, wantSrc: SourceConfig, from: "/c/config.yaml:LINE"},
		{name: "config file without the key", cfg: &File{Path: "/c/x.yaml"}, wantVal: "the-default", wantSrc: SourceDefault, from: "note"},
		{name: "nothing: default", wantVal: "the-default", wantSrc: SourceDefault, from: "note"},
	}
	for _, k := range Keys {
		for _, tt := range tests {
			t.Run(k.Name+"/"+tt.name, func(t *testing.T) {
				getenv := func(name string) string {
					if name == k.Env {
						return tt.env
					}
					return ""
				}
				got := Resolve(k, tt.flag, tt.flag != "", getenv, tt.cfg, def)
				want := tt.wantVal
				if tt.wantSrc == SourceConfig {
					want = cfg.values[k.Name].value
				}
				if got.Key != k.Name || got.Value != want || got.Source != tt.wantSrc {
					t.Errorf("got %+v, want key %s value %q source %s", got, k.Name, want, tt.wantSrc)
				}
				from := strings.NewReplacer("KEY", k.Flag, "ENV", k.Env, "LINE", map[string]string{"db": "1", "hosts": "2", "scripts": "3", "python": "4", "gpus": "5", "lock_dir": "6", "artifacts_cap": "7"}[k.Name]).Replace(tt.from)
				if tt.from != "" && got.From != from {
					t.Errorf("From = %q, want %q", got.From, from)
				}
			})
		}
	}
}

func TestParse(t *testing.T) {
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
			wantErr: []string{`/etc/mljob/config.yaml:2: unknown key "host" (known keys: db, hosts, scripts, python, gpus, lock_dir, artifacts_cap)`, `/etc/mljob/config.yaml:4: unknown key "script"`},
		},
		{name: "list value", data: "scripts:\n  - a\n", wantErr: []string{"/etc/mljob/config.yaml:2: scripts: want a string"}},
		{name: "empty string", data: "db: \"\"\n", wantErr: []string{"/etc/mljob/config.yaml:1: db: empty"}},
		{name: "not a mapping", data: "- db\n", wantErr: []string{"/etc/mljob/config.yaml:1: want a mapping"}},
		{name: "duplicate key", data: "db: a\ndb: b\n", wantErr: []string{"/etc/mljob/config.yaml:2: db: already set at line 1"}},
		{name: "artifacts cap is a size, not a path", data: "artifacts_cap: 500MB\n", want: map[string]string{"artifacts_cap": "500MB"}},
		{name: "bad artifacts cap", data: "db: q.db\nartifacts_cap: lots\n", wantErr: []string{`/etc/mljob/config.yaml:2: artifacts_cap: size "lots": want a number of bytes above 0`}},
		{name: "bad YAML", data: "db: [\n", wantErr: []string{"/etc/mljob/config.yaml: line 1: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("/etc/mljob/config.yaml", []byte(tt.data), home)
			if len(tt.wantErr) > 0 {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("error %v is not a *ParseError, want %q", err, tt.wantErr)
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

// TestParseErrorLines checks that every problem is one line of the error,
// in the file's order, as the CLI prints them.
func TestParseErrorLines(t *testing.T) {
	_, err := Parse("c.yaml", []byte("db: q.db\nhost: x\nscripts:\n  - a\n"), nil)
	want := "c.yaml:2: unknown key \"host\" (known keys: db, hosts, scripts, python, gpus, lock_dir, artifacts_cap)\nc.yaml:4: scripts: want a string"
	if err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	home := func() (string, error) { return "/home/u", nil }
	missing := filepath.Join(dir, "none.yaml")
	if f, err := Load(missing, false, home); f != nil || err != nil {
		t.Errorf("missing default file: %v, %v; want no config and no error", f, err)
	}
	_, err := Load(missing, true, home)
	var pe *ParseError
	if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "read config file: ") {
		t.Errorf("missing --config file: %v; want a read error wrapping fs.ErrNotExist", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("nope: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad, false, home); !errors.As(err, &pe) {
		t.Errorf("bad file: %v; want a *ParseError", err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("\n\ndb: q.db\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(good, true, home)
	if err != nil {
		t.Fatal(err)
	}
	if v, line, ok := f.Lookup("db"); !ok || v != filepath.Join(dir, "q.db") || line != 3 {
		t.Errorf("Lookup(db) = %q, %d, %v", v, line, ok)
	}
	if _, _, ok := f.Lookup("hosts"); ok {
		t.Error("Lookup(hosts) found a key the file lacks")
	}
}

func TestPath(t *testing.T) {
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
			got, explicit, err := Path(tt.flag, getenv, tt.home)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want || explicit != tt.wantExplicit {
				t.Errorf("got %q %v, want %q %v", got, explicit, tt.want, tt.wantExplicit)
			}
		})
	}
}

func TestDefaultDBPath(t *testing.T) {
	home := func() (string, error) { return "/home/u", nil }
	noHome := func() (string, error) { return "", errors.New("$HOME is not defined") }
	env := func(xdg string) func(string) string {
		return func(k string) string {
			if k == "XDG_DATA_HOME" {
				return xdg
			}
			return ""
		}
	}
	tests := []struct {
		name    string
		xdg     string
		home    func() (string, error)
		want    string
		wantErr string
	}{
		{name: "default", home: home, want: "/home/u/.local/share/mljob/mljob.db"},
		{name: "XDG_DATA_HOME", xdg: "/x", home: noHome, want: "/x/mljob/mljob.db"},
		{name: "no home", home: noHome, wantErr: "find the default database: $HOME is not defined (set --db or MLJOB_DB)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DefaultDBPath(env(tt.xdg), tt.home)
			if got != tt.want || (err != nil || tt.wantErr != "") && (err == nil || err.Error() != tt.wantErr) {
				t.Errorf("got %q, %v; want %q, %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestFileSetting(t *testing.T) {
	tests := []struct {
		name            string
		explicit, found bool
		want            Setting
	}{
		{name: "the default file", found: true, want: Setting{Key: "config", Value: "c.yaml", Source: SourceDefault}},
		{name: "no default file: fine", want: Setting{Key: "config", Value: "c.yaml", Source: SourceDefault, From: "not found"}},
		{name: "--config", explicit: true, found: true, want: Setting{Key: "config", Value: "c.yaml", Source: SourceFlag, From: "--config"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FileSetting("c.yaml", tt.explicit, tt.found); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	dir := t.TempDir()
	getenv := func(k string) string { return map[string]string{"XDG_DATA_HOME": "/data"}[k] }
	home := func() (string, error) { return "", errors.New("$HOME is not defined") }
	here := Fallbacks{Scripts: dir, Bundled: "/data/mljob/python-scripts", Python: "python3"}
	absent := here
	absent.Scripts = filepath.Join(dir, "none")
	tests := []struct {
		key  string
		fb   Fallbacks
		want Setting
	}{
		{key: "db", fb: here, want: Setting{Value: "/data/mljob/mljob.db", From: "$XDG_DATA_HOME/mljob/mljob.db"}},
		{key: "hosts", fb: here, want: Setting{From: "none: this machine is the one host"}},
		{key: "scripts", fb: here, want: Setting{Value: dir}},
		{key: "scripts", fb: absent, want: Setting{Value: "/data/mljob/python-scripts", From: "bundled scripts (no " + absent.Scripts + " here)"}},
		{key: "scripts", fb: Fallbacks{Scripts: absent.Scripts}, want: Setting{Value: absent.Scripts}},
		{key: "python", fb: here, want: Setting{Value: "python3", From: "runs on this machine; a hosts file names its own"}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := Default(*lookupKey(tt.key), tt.fb, getenv, home); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("db without a home", func(t *testing.T) {
		got := Default(*lookupKey("db"), here, func(string) string { return "" }, home)
		if got.Value != "" || !strings.HasPrefix(got.From, "find the default database: ") {
			t.Errorf("got %+v", got)
		}
	})
}

func TestOrigin(t *testing.T) {
	settings := []Setting{
		{Key: "db", Value: "q.db", Source: SourceEnv, From: "MLJOB_DB"},
		{Key: "hosts", Source: SourceDefault, From: "none: this machine is the one host"},
	}
	for key, want := range map[string]string{"db": "MLJOB_DB", "hosts": "", "scripts": ""} {
		if got := Origin(settings, key); got != want {
			t.Errorf("Origin(%s) = %q, want %q", key, got, want)
		}
	}
}
