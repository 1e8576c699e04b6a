package hosts

import (
	"context"
	"encoding/json"
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
			RunsPerGPU: 1, LockDir: DefaultLockDir, GPUBusy: DefaultGPUBusy,
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
					RunsPerGPU: 1, LockDir: DefaultLockDir, GPUBusy: DefaultGPUBusy,
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
					Slots:      3,
					RunsPerGPU: 1, LockDir: DefaultLockDir, GPUBusy: DefaultGPUBusy,
					Env:            []EnvVar{{"MKL_NUM_THREADS", "2"}, {"OMP_NUM_THREADS", "4"}},
					MaxLoad:        0,
					ConnectTimeout: time.Minute,
					Line:           16,
				},
			},
		},
		{
			name: "slurm entry over SSH, every field",
			src: `defaults:
  user: alice
  max_load: 4
  env: {OMP_NUM_THREADS: "4"}
hosts:
  - name: campus
    kind: slurm
    address: login.cluster.example
    workdir: /scratch/alice/mljob
    slots: 200
    sbatch: ["--partition=gpu", "--gres=gpu:1", "--time=02:00:00", "--mem=8G"]
    env: {SLURM_CONF: /etc/slurm/other.conf}
    python: /opt/py/bin/python
    connect_timeout: 20s
    local: false
`,
			want: []Host{{
				Name: "campus", Kind: KindSlurm, Address: "login.cluster.example", Port: 22, User: "alice",
				KnownHosts: []string{home + "/.ssh/known_hosts"},
				Python:     "/opt/py/bin/python", Workdir: "/scratch/alice/mljob",
				Slots: 200, RunsPerGPU: 1, GPUBusy: DefaultGPUBusy,
				Env:            []EnvVar{{"OMP_NUM_THREADS", "4"}, {"SLURM_CONF", "/etc/slurm/other.conf"}},
				MaxLoad:        0, // Slurm decides where runs go: the defaults' max_load is not applied
				ConnectTimeout: 20 * time.Second,
				Sbatch:         []string{"--partition=gpu", "--gres=gpu:1", "--time=02:00:00", "--mem=8G"},
				Line:           6,
			}},
		},
		{
			name: "slurm entry defaults",
			src:  "hosts:\n  - name: c\n    kind: slurm\n    address: login\n    sbatch: []\n",
			want: []Host{func() Host {
				h := base("c", "login")
				h.Kind, h.Slots, h.LockDir = KindSlurm, DefaultSlurmSlots, ""
				return h
			}()},
		},
		{
			name: "local slurm entry takes no connection settings from defaults",
			src: `defaults:
  user: alice
  identity_file: ~/.ssh/id_lab
  known_hosts: ~/kh
  max_load: 2
hosts:
  - name: here
    kind: slurm
    local: true
    slots: 8
    sbatch:
      - --partition=cpu
      - -N1
`,
			want: []Host{{
				Name: "here", Kind: KindSlurm, Local: true,
				Python: "python3", Workdir: "~/.mljob", Slots: 8,
				RunsPerGPU: 1, GPUBusy: DefaultGPUBusy,
				ConnectTimeout: 10 * time.Second,
				Sbatch:         []string{"--partition=cpu", "-N1"},
				Line:           7,
			}},
		},
		{
			name: "ssh hosts and a slurm entry in one file",
			src: `hosts:
  - name: gpu1
    address: 10.0.0.5
    gpus: [0, 1]
    max_load: 8
  - name: campus
    kind: slurm
    address: login
    sbatch: [--qos=normal, --gres=gpu:1]   # unquoted, as YAML allows
  - name: ws
    kind: ssh
    address: ws
`,
			want: []Host{
				func() Host {
					h := base("gpu1", "10.0.0.5")
					h.GPUs, h.Slots, h.MaxLoad = []string{"0", "1"}, 2, 8
					return h
				}(),
				func() Host {
					h := base("campus", "login")
					h.Kind, h.Slots, h.Sbatch, h.Line = KindSlurm, DefaultSlurmSlots, []string{"--qos=normal", "--gres=gpu:1"}, 6
					h.LockDir = "" // Slurm places its runs: no leases
					return h
				}(),
				func() Host {
					h := base("ws", "ws")
					h.Line = 10
					return h
				}(),
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
	const known = "address, artifacts_cap, connect_timeout, env, gpu_busy, gpus, identity_file, kind, known_hosts, leases, local, lock_dir, max_load, name, port, proxy_command, proxy_jump, python, runs_per_gpu, sbatch, slots, user, workdir"
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
			want: []string{`hosts.yaml:2: unknown key "usr" in defaults (known: artifacts_cap, connect_timeout, env, gpu_busy, identity_file, known_hosts, leases, lock_dir, max_load, proxy_command, proxy_jump, python, user, workdir)`},
		},
		{
			name: "unknown top-level key",
			src:  "host:\n  - name: a\n",
			want: []string{`hosts.yaml:1: unknown key "host" at the top level (known: defaults, hosts)`},
		},
		{
			name: "port is not host-level in defaults",
			src:  "defaults:\n  port: 22\nhosts:\n  - name: a\n    address: a\n",
			want: []string{`hosts.yaml:2: unknown key "port" in defaults (known: artifacts_cap, connect_timeout, env, gpu_busy, identity_file, known_hosts, leases, lock_dir, max_load, proxy_command, proxy_jump, python, user, workdir)`},
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
			name: "slots not a number",
			src:  "hosts:\n  - name: a\n    address: a\n    slots: x\n  - name: c\n    kind: slurm\n    address: login\n    slots: [1]\n",
			want: []string{
				`hosts.yaml:4: host "a": slots: want an integer, got "x"`,
				`hosts.yaml:8: host "c": slots: want an integer, got a list`,
			},
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
			name: "a long bad value is quoted in full",
			src:  "hosts:\n  - name: a\n    address: a\n    port: twentytwentytwo\n",
			want: []string{`hosts.yaml:4: host "a": port: want an integer, got "twentytwentytwo"`},
		},
		{
			// yaml.v3 truncates a float decoded into an int: port: 1.5 was port 1.
			name: "port not a whole number",
			src:  "hosts:\n  - name: a\n    address: a\n    port: 1.5\n  - name: b\n    address: b\n    port: 22.0\n  - name: c\n    address: c\n    port: 2.2e1\n",
			want: []string{
				`hosts.yaml:4: host "a": port: want an integer, got "1.5"`,
				`hosts.yaml:7: host "b": port: want an integer, got "22.0"`,
				`hosts.yaml:10: host "c": port: want an integer, got "2.2e1"`,
			},
		},
		{
			// Not 1 (as truncation would make it), nor "must be 1-65535, got -1".
			name: "negative fraction for port",
			src:  "hosts:\n  - name: a\n    address: a\n    port: -1.5\n",
			want: []string{`hosts.yaml:4: host "a": port: want an integer, got "-1.5"`},
		},
		{
			name: "port zero",
			src:  "hosts:\n  - name: a\n    address: a\n    port: 0\n",
			want: []string{`hosts.yaml:4: host "a": port must be 1-65535, got 0`},
		},
		{
			// A quoted number is a string, refused as every typed key refuses one.
			name: "port quoted",
			src:  "hosts:\n  - name: a\n    address: a\n    port: \"22\"\n",
			want: []string{`hosts.yaml:4: host "a": port: want an integer, got "22"`},
		},
		{
			name: "slots not a whole number",
			src:  "hosts:\n  - name: a\n    address: a\n    slots: 1.5\n  - name: c\n    kind: slurm\n    address: login\n    slots: 100.0\n",
			want: []string{
				`hosts.yaml:4: host "a": slots: want an integer, got "1.5"`,
				`hosts.yaml:8: host "c": slots: want an integer, got "100.0"`,
			},
		},
		{
			// Not 0, which truncation would make it.
			name: "slots a fraction below one",
			src:  "hosts:\n  - name: a\n    address: a\n    slots: 0.5\n",
			want: []string{`hosts.yaml:4: host "a": slots: want an integer, got "0.5"`},
		},
		{
			// GPU ids are strings: a number with a point is no GPU index.
			name: "gpu id not a whole number",
			src:  "hosts:\n  - name: a\n    address: a\n    gpus: [0, 1.5]\n",
			want: []string{`hosts.yaml:4: host "a": bad gpu id "1.5": use digits, letters and '-' (a GPU index or MIG id)`},
		},
		{
			// A duration needs its unit; yaml.v3 refuses any bare number.
			name: "connect_timeout a bare number",
			src:  "defaults:\n  connect_timeout: 1.5\nhosts:\n  - name: a\n    address: a\n    connect_timeout: 10\n",
			want: []string{
				`hosts.yaml:2: defaults: connect_timeout: want a duration such as 10s, got "1.5"`,
				`hosts.yaml:6: host "a": connect_timeout: want a duration such as 10s, got "10"`,
			},
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
			src:  "hosts:\n  - name: a\n    kind: pbs\n    address: a\n    sbatch: [-N1]\n",
			want: []string{`hosts.yaml:3: host "a": unknown kind "pbs" (supported: ssh, slurm)`},
		},
		{
			name: "local and sbatch only with kind slurm",
			src:  "hosts:\n  - name: a\n    address: a\n    local: true\n    sbatch: [--partition=gpu]\n  - name: b\n    kind: ssh\n    address: b\n    local: false\n",
			want: []string{
				`hosts.yaml:4: host "a": local applies only to kind: slurm entries: add kind: slurm or remove local`,
				`hosts.yaml:5: host "a": sbatch applies only to kind: slurm entries: add kind: slurm or remove sbatch`,
				`hosts.yaml:9: host "b": local applies only to kind: slurm entries: add kind: slurm or remove local`,
			},
		},
		{
			name: "local slurm entry with connection keys",
			src: "hosts:\n  - name: here\n    kind: slurm\n    local: true\n    address: login\n    port: 22\n" +
				"    user: alice\n    identity_file: ~/.ssh/id\n    known_hosts: ~/kh\n    connect_timeout: 5s\n",
			want: []string{
				`hosts.yaml:5: host "here": address: a local: true entry is not reached over SSH; remove address, or local: true to reach the login node over SSH`,
				`hosts.yaml:6: host "here": port: a local: true entry is not reached over SSH; remove port, or local: true to reach the login node over SSH`,
				`hosts.yaml:7: host "here": user: a local: true entry is not reached over SSH; remove user, or local: true to reach the login node over SSH`,
				`hosts.yaml:8: host "here": identity_file: a local: true entry is not reached over SSH; remove identity_file, or local: true to reach the login node over SSH`,
				`hosts.yaml:9: host "here": known_hosts: a local: true entry is not reached over SSH; remove known_hosts, or local: true to reach the login node over SSH`,
			},
		},
		{
			name: "slurm entry over SSH needs an address",
			src:  "hosts:\n  - name: c\n    kind: slurm\n    local: false\n",
			want: []string{`hosts.yaml:2: host "c": missing address`},
		},
		{
			name: "local must be a boolean",
			src:  "hosts:\n  - name: c\n    kind: slurm\n    local: here\n",
			want: []string{`hosts.yaml:4: host "c": local: want true or false, got "here"`},
		},
		{
			name: "gpus in a slurm entry",
			src:  "hosts:\n  - name: c\n    kind: slurm\n    address: login\n    slots: 4\n    gpus: [0, 1]\n",
			want: []string{`hosts.yaml:6: host "c": a slurm entry gets GPUs from sbatch options such as --gres=gpu:1, not gpus; move them to sbatch`},
		},
		{
			name: "max_load in a slurm entry",
			src:  "defaults:\n  max_load: 3\nhosts:\n  - name: c\n    kind: slurm\n    address: login\n    max_load: 4\n",
			want: []string{`hosts.yaml:7: host "c": max_load does not apply to a slurm entry: Slurm decides where runs go; remove it`},
		},
		{
			name: "slurm slots below one",
			src:  "hosts:\n  - name: c\n    kind: slurm\n    address: login\n    slots: 0\n",
			want: []string{`hosts.yaml:5: host "c": slots must be at least 1, got 0`},
		},
		{
			name: "sbatch is a list",
			src:  "hosts:\n  - name: c\n    kind: slurm\n    address: login\n    sbatch: --partition=gpu\n",
			want: []string{`hosts.yaml:5: host "c": sbatch: want a list, got "--partition=gpu"`},
		},
		{
			name: "bad sbatch words, each at its line",
			src: "hosts:\n  - name: c\n    kind: slurm\n    address: login\n    sbatch:\n" +
				"      - --partition=gpu\n      - \"\"\n      - --partition\n      - gpu\n      - \"--comment=a\\nb\"\n      - --\n",
			want: []string{
				`hosts.yaml:7: host "c": sbatch has an empty option; remove it`,
				`hosts.yaml:9: host "c": sbatch option "gpu" does not start with '-': give each option as one word, such as --partition=gpu`,
				`hosts.yaml:10: host "c": sbatch option "--comment=a\nb" has a control character (a newline, tab or NUL); remove it`,
				`hosts.yaml:11: host "c": sbatch option "--" is not an option: sbatch would read what follows as the batch script; remove it`,
			},
		},
		{
			name: "sbatch options mljob sets itself",
			src: "hosts:\n  - name: c\n    kind: slurm\n    address: login\n" +
				"    sbatch: [--array=0-9, -a0-3, --output, -o/tmp/x, --error=e, -e, --parsable, --wrap=true,\n" +
				"      --chdir=/tmp, -D/tmp, --job-name=x, -Jx, --open-mode=append, --arr=1-2, -Oa1]\n",
			want: []string{
				`hosts.yaml:5: host "c": sbatch option "--array=0-9": mljob sets the array itself, throttled by slots; remove it`,
				`hosts.yaml:5: host "c": sbatch option "-a0-3": -a is --array: mljob sets the array itself, throttled by slots; remove it`,
				`hosts.yaml:5: host "c": sbatch option "--output": mljob sets the output file itself, under workdir; remove it`,
				`hosts.yaml:5: host "c": sbatch option "-o/tmp/x": -o is --output: mljob sets the output file itself, under workdir; remove it`,
				`hosts.yaml:5: host "c": sbatch option "--error=e": mljob keeps a task's errors with its output, in the file it names under workdir; remove it`,
				`hosts.yaml:5: host "c": sbatch option "-e": -e is --error: mljob keeps a task's errors with its output, in the file it names under workdir; remove it`,
				`hosts.yaml:5: host "c": sbatch option "--parsable": mljob sets it itself, to read the job id sbatch prints; remove it`,
				`hosts.yaml:5: host "c": sbatch option "--wrap=true": mljob submits its own batch script; remove it`,
				`hosts.yaml:6: host "c": sbatch option "--chdir=/tmp": mljob sets the working directory itself, to workdir; remove it`,
				`hosts.yaml:6: host "c": sbatch option "-D/tmp": -D is --chdir: mljob sets the working directory itself, to workdir; remove it`,
				`hosts.yaml:6: host "c": sbatch option "--job-name=x": mljob names its jobs itself; remove it`,
				`hosts.yaml:6: host "c": sbatch option "-Jx": -J is --job-name: mljob names its jobs itself; remove it`,
				`hosts.yaml:6: host "c": sbatch option "--open-mode=append": mljob owns the output files and how they are opened; remove it`,
				`hosts.yaml:6: host "c": sbatch option "--arr=1-2": write options in full: sbatch may take it for --array, and mljob sets the array itself, throttled by slots`,
				`hosts.yaml:6: host "c": sbatch option "-Oa1": -a is --array: mljob sets the array itself, throttled by slots; remove it`,
			},
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
		{
			name: "bad artifacts_cap",
			src:  "defaults:\n  artifacts_cap: lots\nhosts:\n  - name: a\n    address: a\n    artifacts_cap: -5MB\n",
			want: []string{
				`hosts.yaml:2: defaults: artifacts_cap: size "lots": want a number of bytes above 0, e.g. 500MB or 2GiB`,
				`hosts.yaml:6: host "a": artifacts_cap: size "-5MB": want a number of bytes above 0, e.g. 500MB or 2GiB`,
			},
		},
		{
			name: "artifacts_cap not a scalar",
			src:  "hosts:\n  - name: a\n    address: a\n    artifacts_cap: [1]\n",
			want: []string{`hosts.yaml:4: host "a": artifacts_cap: want a string, got a list`},
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
		if h.Kind == KindSlurm {
			// 100 slot names say nothing the count does not.
			fmt.Fprintf(&b, "  slots %d local %v sbatch %q\n", h.Slots, h.Local, h.Sbatch)
		} else {
			fmt.Fprintf(&b, "  slots %d %q gpus %q\n", h.Slots, h.SlotNames(), h.GPUs)
		}
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

// TestParseLocalSlurmNoSSH proves a local: true entry is never resolved: the
// resolver's ssh binary does not exist, so running ssh -G would be a problem
// of the file, as the entry reached over SSH shows.
func TestParseLocalSlurmNoSSH(t *testing.T) {
	r := testResolver(t)
	r.SSH = filepath.Join(t.TempDir(), "no-such-ssh")

	f := mustParse(t, r, "hosts:\n  - name: here\n    kind: slurm\n    local: true\n")
	if h := f.Hosts[0]; h.Address != "" || h.User != "" || h.KnownHosts != nil || !h.Local {
		t.Errorf("local entry = %+v, want Local and no address, user or known_hosts", h)
	}

	_, err := r.Parse(context.Background(), "hosts.yaml", []byte("hosts:\n  - name: campus\n    kind: slurm\n    address: login\n"))
	if err == nil || !strings.Contains(err.Error(), `hosts.yaml:2: host "campus": resolve "login" with ssh -G`) {
		t.Errorf("slurm entry over SSH: Parse = %v, want ssh -G to be run (and fail)", err)
	}
}

// TestHostJSON checks that a Host survives the JSON the dispatcher stores
// it as and OpenHost reads back.
func TestHostJSON(t *testing.T) {
	f := mustParse(t, testResolver(t), `hosts:
  - name: gpu1
    address: 10.0.0.5
    gpus: [0, 1]
    env: {A: "1"}
    max_load: 3
  - name: campus
    kind: slurm
    address: login
    slots: 200
    sbatch: ["--partition=gpu", "--gres=gpu:1"]
    env: {SLURM_CONF: /etc/slurm/other.conf}
  - name: here
    kind: slurm
    local: true
`)
	for _, h := range f.Hosts {
		t.Run(h.Name, func(t *testing.T) {
			data, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			var got Host
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, h) {
				t.Errorf("after JSON:\n%+v\nwant\n%+v\n(JSON %s)", got, h, data)
			}
		})
	}
}

// TestArtifactsCapSetting: a host's own artifacts_cap wins over the
// defaults', a plain number is bytes, and neither set leaves 0 (the
// dispatch's cap or the default then applies).
func TestArtifactsCapSetting(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want map[string]int64
	}{
		{
			name: "unset",
			src:  "hosts:\n  - name: a\n    address: a\n",
			want: map[string]int64{"a": 0},
		},
		{
			name: "defaults and own",
			src:  "defaults:\n  artifacts_cap: 500MB\nhosts:\n  - name: a\n    address: a\n  - name: b\n    address: b\n    artifacts_cap: 2GiB\n",
			want: map[string]int64{"a": 500e6, "b": 2 << 30},
		},
		{
			name: "bytes",
			src:  "hosts:\n  - name: a\n    address: a\n    artifacts_cap: 4096\n",
			want: map[string]int64{"a": 4096},
		},
	}
	r := testResolver(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := r.Parse(context.Background(), "hosts.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, h := range f.Hosts {
				got[h.Name] = h.ArtifactsCap
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("caps = %v, want %v", got, tt.want)
			}
		})
	}
}
