package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/config"
)

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
				"db": {filepath.Join(dir, "xdg", "mljob", "cfg.db"), config.SourceConfig}, "hosts": {filepath.Join(dir, "xdg", "mljob", "lab.yaml"), config.SourceConfig},
				"python": {"/opt/py/bin/python", config.SourceConfig}, "config": {filepath.Join(dir, "xdg", "mljob", "config.yaml"), config.SourceDefault},
			},
		},
		{
			name: "env over config",
			env:  map[string]string{"MLJOB_DB": "env.db", "MLJOB_PYTHON": "py-env"},
			args: []string{"config", "-o", "json"},
			want: map[string][2]string{"db": {"env.db", config.SourceEnv}, "python": {"py-env", config.SourceEnv}, "hosts": {filepath.Join(dir, "xdg", "mljob", "lab.yaml"), config.SourceConfig}},
		},
		{
			name: "flag over env",
			env:  map[string]string{"MLJOB_DB": "env.db"},
			args: []string{"--db", "flag.db", "config", "-o", "json"},
			want: map[string][2]string{"db": {"flag.db", config.SourceFlag}},
		},
		{
			name: "--config replaces the default file",
			args: []string{"--config", filepath.Join(dir, "none.yaml"), "config", "-o", "json"},
			want: map[string][2]string{"db": {filepath.Join(dir, "data", "mljob", "mljob.db"), config.SourceDefault}, "config": {filepath.Join(dir, "none.yaml"), config.SourceFlag}},
		},
	}
	writeFile(t, filepath.Join(dir, "none.yaml"), "# empty\n")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
			t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
			for _, k := range config.Keys {
				t.Setenv(k.Env, tt.env[k.Env])
			}
			out, errOut, code := runInProcess(t, tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got []config.Setting
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			byKey := map[string]config.Setting{}
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
		for _, k := range config.Keys {
			t.Setenv(k.Env, "")
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
