package hosts

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testResolver resolves nothing through ssh, so Parse results do not depend
// on the machine's ssh config; home is a fresh temp dir.
func testResolver(tb testing.TB) Resolver {
	tb.Helper()
	return Resolver{Home: tb.TempDir(), User: "tester"}
}

// mustParse parses src and fails the test on any error.
func mustParse(tb testing.TB, r Resolver, src string) *File {
	tb.Helper()
	f, err := r.Parse(context.Background(), "hosts.yaml", []byte(src))
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return f
}

func TestParse(t *testing.T) {
	r := testResolver(t)
	home := r.Home
	base := func(name, addr string) Host {
		return Host{
			Name: name, Kind: KindSSH, Address: addr, Port: 22, User: "tester",
			KnownHosts: []string{home + "/.ssh/known_hosts"},
			Python:     "python3", Workdir: "~/.mljob", Slots: 1,
			ConnectTimeout: 10 * time.Second, Line: 2,
		}
	}
	tests := []struct {
		name string
		src  string
		want []Host
	}{
		{
			name: "minimal entry gets every default",
			src:  "hosts:\n  - name: a\n    address: 10.0.0.1\n",
			want: []Host{base("a", "10.0.0.1")},
		},
		{
			name: "defaults apply and merge, host values win",
			src: `defaults:
  user: alice
  identity_file: ~/.ssh/id_lab
  known_hosts: [~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts]
  python: /opt/py/bin/python
  workdir: /scratch/mljob
  env: {OMP_NUM_THREADS: "4", MKL_NUM_THREADS: 2}
  max_load: 8.5
  connect_timeout: 30s
hosts:
  - name: gpu1
    address: 10.0.0.5
    port: 2222
    gpus: [0, 1]
    env: {OMP_NUM_THREADS: "8", A_FLAG: "yes"}
  - name: cpu.box_2
    kind: ssh
    address: cpu2
    slots: 3
    user: bob
    identity_file: ""
    known_hosts: ~/kh
    python: python3.12
    workdir: ~/w
    max_load: 0
    connect_timeout: 1m
`,
			want: []Host{
				{
					Name: "gpu1", Kind: KindSSH, Address: "10.0.0.5", Port: 2222, User: "alice",
					IdentityFile: home + "/.ssh/id_lab",
					KnownHosts:   []string{home + "/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts"},
					Python:       "/opt/py/bin/python", Workdir: "/scratch/mljob",
					Slots: 2, GPUs: []string{"0", "1"},
					Env:            []EnvVar{{"A_FLAG", "yes"}, {"MKL_NUM_THREADS", "2"}, {"OMP_NUM_THREADS", "8"}},
					MaxLoad:        8.5,
					ConnectTimeout: 30 * time.Second,
					Line:           11,
				},
				{
					Name: "cpu.box_2", Kind: KindSSH, Address: "cpu2", Port: 22, User: "bob",
					IdentityFile: "",
					KnownHosts:   []string{home + "/kh"},
					Python:       "python3.12", Workdir: "~/w",
					Slots:          3,
					Env:            []EnvVar{{"MKL_NUM_THREADS", "2"}, {"OMP_NUM_THREADS", "4"}},
					MaxLoad:        0,
					ConnectTimeout: time.Minute,
					Line:           16,
				},
			},
		},
		{
			name: "MIG ids are gpu ids",
			src:  "hosts:\n  - name: a\n    address: a\n    gpus: [MIG-4f0e2d3c-1b2a-5c6d-8e9f-0a1b2c3d4e5f]\n",
			want: []Host{func() Host {
				h := base("a", "a")
				h.GPUs = []string{"MIG-4f0e2d3c-1b2a-5c6d-8e9f-0a1b2c3d4e5f"}
				return h
			}()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, r, tt.src)
			if f.Path != "hosts.yaml" {
				t.Errorf("Path = %q, want hosts.yaml", f.Path)
			}
			if !reflect.DeepEqual(f.Hosts, tt.want) {
				t.Errorf("Hosts =\n%+v\nwant\n%+v", f.Hosts, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const known = "address, connect_timeout, env, gpus, identity_file, kind, known_hosts, max_load, name, port, python, slots, user, workdir"
	tests := []struct {
		name string
		src  string
		want []string // the error's lines, exactly
	}{
		{
			name: "unknown key in host",
			src:  "hosts:\n  - name: gpu1\n    address: a\n    slot: 2\n",
			want: []string{`hosts.yaml:4: unknown key "slot" in host "gpu1" (known: ` + known + `)`},
		},
		{
			name: "unknown key in defaults",
			src:  "defaults:\n  usr: x\nhosts:\n  - name: a\n    address: a\n",
			want: []string{`hosts.yaml:2: unknown key "usr" in defaults (known: connect_timeout, env, identity_file, known_hosts, max_load, python, user, workdir)`},
		},
		{
			name: "unknown top-level key",
			src:  "host:\n  - name: a\n",
			want: []string{`hosts.yaml:1: unknown key "host" at the top level (known: defaults, hosts)`},
		},
		{
			name: "port is not host-level in defaults",
			src:  "defaults:\n  port: 22\nhosts:\n  - name: a\n    address: a\n",
			want: []string{`hosts.yaml:2: unknown key "port" in defaults (known: connect_timeout, env, identity_file, known_hosts, max_load, python, user, workdir)`},
		},
		{
			name: "duplicate names name both lines",
			src:  "hosts:\n  - name: gpu1\n    address: a\n  - name: gpu1\n    address: b\n",
			want: []string{`hosts.yaml:4: duplicate host name "gpu1" (also at line 2)`},
		},
		{
			name: "missing name",
			src:  "hosts:\n  - address: a\n",
			want: []string{`hosts.yaml:2: host entry 1: missing name`},
		},
		{
			name: "missing address",
			src:  "hosts:\n  - name: a\n  - name: b\n    port: 22\n",
			want: []string{
				`hosts.yaml:2: host "a": missing address`,
				`hosts.yaml:3: host "b": missing address`,
			},
		},
		{
			name: "bad name",
			src:  "hosts:\n  - name: ../gpu\n    address: a\n",
			want: []string{`hosts.yaml:2: host "../gpu": bad name "../gpu": use letters, digits, '.', '_' and '-', starting with a letter or digit`},
		},
		{
			name: "slots below one",
			src:  "hosts:\n  - name: a\n    address: a\n    slots: 0\n",
			want: []string{`hosts.yaml:4: host "a": slots must be at least 1, got 0`},
		},
		{
			name: "slots and gpus",
			src:  "hosts:\n  - name: a\n    address: a\n    slots: 2\n    gpus: [0, 1]\n",
			want: []string{`hosts.yaml:4: host "a": give slots or gpus, not both (gpus gives one slot per GPU)`},
		},
		{
			name: "bad gpu id",
			src:  "hosts:\n  - name: a\n    address: a\n    gpus:\n      - 0\n      - 1,2\n",
			want: []string{`hosts.yaml:5: host "a": bad gpu id "1,2": use digits, letters and '-' (a GPU index or MIG id)`},
		},
		{
			name: "empty and repeated gpus",
			src:  "hosts:\n  - name: a\n    address: a\n    gpus: []\n  - name: b\n    address: b\n    gpus: [0, 0]\n",
			want: []string{
				`hosts.yaml:4: host "a": gpus must list at least one GPU id`,
				`hosts.yaml:7: host "b": gpu id "0" listed twice`,
			},
		},
		{
			name: "port out of range",
			src:  "hosts:\n  - name: a\n    address: a\n    port: 70000\n",
			want: []string{`hosts.yaml:4: host "a": port must be 1-65535, got 70000`},
		},
		{
			name: "port not a number",
			src:  "hosts:\n  - name: a\n    address: a\n    port: ssh\n",
			want: []string{`hosts.yaml:4: host "a": port: want an integer, got "ssh"`},
		},
		{
			name: "bad env key in host and defaults",
			src:  "defaults:\n  env:\n    OK: x\n    2BAD: y\nhosts:\n  - name: a\n    address: a\n    env: {A-B: z}\n",
			want: []string{
				`hosts.yaml:4: defaults: bad env key "2BAD": use letters, digits and '_', not starting with a digit`,
				`hosts.yaml:8: host "a": bad env key "A-B": use letters, digits and '_', not starting with a digit`,
			},
		},
		{
			name: "negative max_load",
			src:  "hosts:\n  - name: a\n    address: a\n    max_load: -0.5\n",
			want: []string{`hosts.yaml:4: host "a": max_load must be a number >= 0, got -0.5`},
		},
		{
			name: "unknown kind",
			src:  "hosts:\n  - name: a\n    kind: slurm\n    address: a\n",
			want: []string{`hosts.yaml:3: host "a": unknown kind "slurm" (supported: ssh)`},
		},
		{
			name: "local kind is not for files",
			src:  "hosts:\n  - name: a\n    kind: local\n    address: a\n",
			want: []string{`hosts.yaml:3: host "a": kind "local" cannot be used in a hosts file: the local machine is the host when no hosts file is given`},
		},
		{
			name: "empty hosts list",
			src:  "defaults:\n  user: a\nhosts: []\n",
			want: []string{`hosts.yaml:3: no hosts: the hosts list is empty`},
		},
		{
			name: "no hosts key",
			src:  "defaults:\n  user: a\n",
			want: []string{`hosts.yaml:1: no hosts: add a hosts: list with at least one entry`},
		},
		{
			name: "empty file",
			src:  "",
			want: []string{`hosts.yaml:1: no hosts: the file is empty`},
		},
		{
			name: "yaml syntax error",
			src:  "hosts:\n  - name: a\n    address: [a\n  - name: b\n",
			want: []string{`hosts.yaml:3: yaml: did not find expected ',' or ']'`},
		},
		{
			name: "tab indentation",
			src:  "hosts:\n  - name: a\n\taddress: a\n",
			want: []string{`hosts.yaml:3: yaml: found a tab character that violates indentation`},
		},
		{
			name: "duplicate key",
			src:  "hosts:\n  - name: a\n    address: a\n  - name: b\n    address: b\n    address: c\n",
			want: []string{`hosts.yaml:6: host "b": duplicate key "address" (also at line 5)`},
		},
		{
			name: "wrong shapes",
			src:  "defaults: [x]\nhosts:\n  - name: [a]\n    address: a\n",
			want: []string{
				`hosts.yaml:1: defaults: want a mapping of settings, got a list`,
				`hosts.yaml:3: host entry 1: name: want a string, got a list`,
			},
		},
		{
			name: "hosts is a mapping",
			src:  "hosts: {name: a}\n",
			want: []string{`hosts.yaml:1: hosts: want a list of host entries, got a mapping`},
		},
		{
			name: "bad duration",
			src:  "defaults:\n  connect_timeout: 10\nhosts:\n  - name: a\n    address: a\n    connect_timeout: -1s\n",
			want: []string{
				`hosts.yaml:2: defaults: connect_timeout: want a duration such as 10s, got "10"`,
				`hosts.yaml:6: host "a": connect_timeout must be positive, got -1s`,
			},
		},
		{
			name: "no known_hosts means no verification, refused",
			src:  "hosts:\n  - name: a\n    address: a\n    known_hosts: []\n",
			want: []string{`hosts.yaml:4: host "a": known_hosts must name at least one file (host key verification is never off)`},
		},
		{
			name: "address that ssh would read as an option",
			src:  "hosts:\n  - name: a\n    address: -oProxyCommand=x\n",
			want: []string{`hosts.yaml:3: host "a": bad address "-oProxyCommand=x"`},
		},
		{
			name: "empty python and workdir",
			src:  "defaults:\n  python: \"\"\nhosts:\n  - name: a\n    address: a\n    workdir: \"\"\n",
			want: []string{
				`hosts.yaml:2: defaults: python must not be empty`,
				`hosts.yaml:6: host "a": workdir must not be empty`,
			},
		},
		{
			name: "~user paths",
			src:  "hosts:\n  - name: a\n    address: a\n    identity_file: ~bob/key\n",
			want: []string{`hosts.yaml:4: host "a": identity_file: "~bob/key": ~user paths are not supported, write the full path`},
		},
	}
	r := testResolver(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := r.Parse(context.Background(), "hosts.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", f)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("error lines =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
			var p *Problem
			if !errors.As(err, &p) || p.Path != "hosts.yaml" || p.Line < 1 {
				t.Errorf("errors.As(err, *Problem) gave %+v, want a Problem with path and line", p)
			}
		})
	}
}

// TestGolden loads each testdata/*.yaml and compares the resolved hosts, or
// the problems, with testdata/NAME.golden.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.yaml")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			r := testResolver(t)
			var got string
			f, err := r.Load(context.Background(), path)
			if err != nil {
				got = err.Error() + "\n"
			} else {
				got = formatFile(f)
			}
			got = strings.ReplaceAll(got, r.Home, "$HOME")
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("%s: got\n%s\nwant\n%s", path, got, want)
			}
		})
	}
}

// formatFile renders hosts one field per line for golden files.
func formatFile(f *File) string {
	var b strings.Builder
	for _, h := range f.Hosts {
		fmt.Fprintf(&b, "host %s (line %d)\n", h.Name, h.Line)
		fmt.Fprintf(&b, "  kind %s address %s port %d user %s\n", h.Kind, h.Address, h.Port, h.User)
		fmt.Fprintf(&b, "  identity_file %q known_hosts %q\n", h.IdentityFile, h.KnownHosts)
		fmt.Fprintf(&b, "  python %s workdir %s connect_timeout %s max_load %g\n", h.Python, h.Workdir, h.ConnectTimeout, h.MaxLoad)
		fmt.Fprintf(&b, "  slots %d %q gpus %q\n", h.Slots, h.SlotNames(), h.GPUs)
		for _, e := range h.Env {
			fmt.Fprintf(&b, "  env %s=%s\n", e.Key, e.Value)
		}
	}
	return b.String()
}

func TestLoadMissingFile(t *testing.T) {
	_, err := testResolver(t).Load(context.Background(), filepath.Join(t.TempDir(), "hosts.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load = %v, want fs.ErrNotExist", err)
	}
	if errors.Is(err, ErrInvalid) {
		t.Errorf("a missing file is not an invalid one: %v", err)
	}
}

func TestSlotNames(t *testing.T) {
	tests := []struct {
		name string
		host Host
		want []string
	}{
		{"one slot", Host{Slots: 1}, []string{"0"}},
		{"three slots", Host{Slots: 3}, []string{"0", "1", "2"}},
		{"gpus", Host{Slots: 2, GPUs: []string{"2", "3"}}, []string{"2", "3"}},
		{"mig", Host{Slots: 1, GPUs: []string{"MIG-abc"}}, []string{"MIG-abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.host.SlotNames(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SlotNames() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLocalHost(t *testing.T) {
	tests := []struct {
		name                  string
		slots                 int
		python, workdir       string
		wantSlots             int
		wantPython, wantWorkd string
	}{
		{"defaults", 0, "", "", 1, "python3", "~/.mljob"},
		{"given", 4, "/usr/bin/python3", "/tmp/w", 4, "/usr/bin/python3", "/tmp/w"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := LocalHost(tt.slots, tt.python, tt.workdir)
			if h.Name != "local" || h.Kind != KindLocal {
				t.Errorf("Name, Kind = %q, %q; want local, local", h.Name, h.Kind)
			}
			if h.Slots != tt.wantSlots || h.Python != tt.wantPython || h.Workdir != tt.wantWorkd {
				t.Errorf("Slots, Python, Workdir = %d, %q, %q; want %d, %q, %q",
					h.Slots, h.Python, h.Workdir, tt.wantSlots, tt.wantPython, tt.wantWorkd)
			}
			if got := len(h.SlotNames()); got != tt.wantSlots {
				t.Errorf("len(SlotNames()) = %d, want %d", got, tt.wantSlots)
			}
		})
	}
}

func TestFind(t *testing.T) {
	f := mustParse(t, testResolver(t), "hosts:\n  - name: a\n    address: x\n  - name: b\n    address: y\n")
	if h, ok := f.Find("b"); !ok || h.Address != "y" {
		t.Errorf("Find(b) = %+v, %v; want address y", h, ok)
	}
	if _, ok := f.Find("c"); ok {
		t.Error("Find(c) found a host that is not in the file")
	}
}
