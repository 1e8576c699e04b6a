package hostcheck

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/slurmtest"
	"github.com/mljob/mljob/internal/sshtest"
)

// TestCheckSlurm checks slurm entries against one real single-node
// cluster (partition debug, no accounting): healthy through an sshd login
// node and with local: true, then broken one way each, in one parallel
// Check.
func TestCheckSlurm(t *testing.T) {
	cluster := slurmtest.Start(t, slurmtest.Options{})
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	dir := t.TempDir()
	conf := hosts.EnvVar{Key: "SLURM_CONF", Value: cluster.Conf}

	// A slurm.conf whose controller is on a port nothing listens on. A
	// client retries the controller about once a second for MessageTimeout
	// seconds (default 10): 2 keeps the case short.
	data, err := os.ReadFile(cluster.Conf)
	if err != nil {
		t.Fatal(err)
	}
	port := regexp.MustCompile(`(?m)^SlurmctldPort=\d+$`)
	if !port.Match(data) {
		t.Fatalf("no SlurmctldPort in %s:\n%s", cluster.Conf, data)
	}
	deadConf := mustWriteFile(t, dir, "dead.conf", port.ReplaceAllString(string(data), "SlurmctldPort="+itoa(closedPort(t)))+"MessageTimeout=2\n")
	noSlurm := filepath.Join(dir, "bin-without-slurm")
	if err := os.Mkdir(noSlurm, 0o755); err != nil {
		t.Fatal(err)
	}

	login := func(name string, env []hosts.EnvVar, sbatch ...string) hosts.Host {
		h := sshHost(servers[0], keys, keys.KnownHosts)
		h.Name, h.Kind, h.Env, h.Sbatch, h.Slots = name, hosts.KindSlurm, env, sbatch, hosts.DefaultSlurmSlots
		h.Workdir = filepath.Join(dir, name)
		return h
	}
	local := func(name string, env []hosts.EnvVar, sbatch ...string) hosts.Host {
		return hosts.Host{Name: name, Kind: hosts.KindSlurm, Local: true, Python: hostPython,
			Workdir: filepath.Join(dir, name), Slots: hosts.DefaultSlurmSlots, Env: env, Sbatch: sbatch}
	}
	// An address where nothing listens: the local entry passes only if it
	// is not dialled. The hosts file refuses one; the check must ignore it.
	localOnly := local("local", []hosts.EnvVar{conf})
	localOnly.Address, localOnly.Port = "127.0.0.1", closedPort(t)

	hs := []hosts.Host{
		login("campus", []hosts.EnvVar{conf}, "--time=5", "--partition=debug"),
		localOnly,
		login("nopart", []hosts.EnvVar{conf}, "-pnope"),
		local("noconf", []hosts.EnvVar{{Key: "SLURM_CONF", Value: filepath.Join(dir, "missing.conf")}}),
		local("deadctl", []hosts.EnvVar{{Key: "SLURM_CONF", Value: deadConf}}),
		local("nosbatch", []hosts.EnvVar{conf, {Key: "PATH", Value: noSlurm}}),
	}
	opts := Options{Imports: []pyexec.Import{{Module: "json", Scripts: []string{"a.py"}}}, Timeout: time.Minute, HostsFile: "hosts.yaml"}
	reports := Check(context.Background(), hs, opts)

	const noAcct = "sacct not usable (accounting off?): mljob falls back to squeue and the run dirs; tasks Slurm has forgotten count as lost"
	version := strings.Fields(cluster.MustRun(t, "sbatch", "--version"))
	tests := []struct {
		name      string
		verdict   Verdict
		auth      string
		partition string // the entry's
		problems  []Problem
		ctl       bool // the controller answered
	}{
		{name: "campus", verdict: Warn, auth: "identity-file", partition: "debug", ctl: true,
			problems: []Problem{{Warn, noAcct, "ask the cluster's admins about accounting (sacct said: Slurm accounting storage is disabled)"}}},
		{name: "local", verdict: Warn, auth: "local", ctl: true,
			problems: []Problem{{Warn, noAcct, "MinJobAge"}}},
		{name: "nopart", verdict: Fail, auth: "identity-file", partition: "nope", ctl: true,
			problems: []Problem{{Warn, noAcct, ""},
				{Fail, "partition nope does not exist (sinfo lists: debug (default))", "set --partition in the sbatch options of hosts.yaml to one of debug (default)"}}},
		{name: "noconf", verdict: Fail, auth: "local",
			problems: []Problem{{Fail, "SLURM_CONF=" + filepath.Join(dir, "missing.conf") + ": no such file on this machine", "set SLURM_CONF in the env of hosts.yaml"}}},
		{name: "deadctl", verdict: Fail, auth: "local",
			problems: []Problem{{Fail, "the Slurm controller does not answer: squeue: slurm_load_jobs error: Unable to contact slurm controller", "is slurmctld up?"}}},
		{name: "nosbatch", verdict: Fail, auth: "local",
			problems: []Problem{{Fail, "sbatch, squeue, scancel not found on this machine (PATH=" + noSlurm + ")", "add the directory holding its commands to PATH in the env of hosts.yaml"}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reports[i]
			if r.Host != tt.name || r.Verdict != tt.verdict || r.Auth != tt.auth || r.Kind != "slurm" || !r.Reachable {
				t.Errorf("got host %s verdict %s auth %q kind %s reachable %v; want %s %s %q slurm true (problems %+v)",
					r.Host, r.Verdict, r.Auth, r.Kind, r.Reachable, tt.name, tt.verdict, tt.auth, r.Problems)
			}
			if len(r.Problems) != len(tt.problems) {
				t.Fatalf("problems %+v; want %d", r.Problems, len(tt.problems))
			}
			for j, want := range tt.problems {
				got := r.Problems[j]
				if got.Severity != want.Severity || !strings.Contains(got.Problem, want.Problem) || !strings.Contains(got.Fix, want.Fix) {
					t.Errorf("problem %d: %+v; want %s %q, fix with %q", j, got, want.Severity, want.Problem, want.Fix)
				}
			}
			s := r.Slurm
			if s == nil {
				t.Fatal("no Slurm report")
			}
			if s.Controller != tt.ctl || s.Partition != tt.partition || s.Accounting {
				t.Errorf("slurm report %+v; want controller %v, partition %q, no accounting", s, tt.ctl, tt.partition)
			}
			if tt.ctl && (s.Version != version[len(version)-1] || !reflect.DeepEqual(s.Partitions, []string{"debug"}) ||
				s.DefaultPartition != "debug" || !filepath.IsAbs(s.Sbatch)) {
				t.Errorf("slurm report %+v; want version %s, partitions [debug], default debug, sbatch's path", s, version[len(version)-1])
			}
			// The login node's load and GPUs say nothing of where runs go.
			if r.PythonVersion == "" || r.Load != nil || r.CPUs != 0 || len(r.GPUs) != 0 || r.Free == nil {
				t.Errorf("login node details: %+v", r)
			}
		})
	}
	if a := reports[0].Address; a != servers[0].Host+":"+itoa(servers[0].Port) {
		t.Errorf("login node address %q", a)
	}
	if r := reports[1]; r.Address != "" || r.HostKey != "local" {
		t.Errorf("local: true entry: address %q key %q, want none and local", r.Address, r.HostKey)
	}
}

// TestPartitions: the partitions an entry's runs go to, as sbatch reads
// its options.
func TestPartitions(t *testing.T) {
	tests := []struct {
		name   string
		sbatch []string
		env    []hosts.EnvVar
		want   []string
	}{
		{name: "none", sbatch: []string{"--time=5", "--mem=1G"}},
		{name: "long", sbatch: []string{"--partition=gpu"}, want: []string{"gpu"}},
		{name: "long prefix", sbatch: []string{"--part=gpu"}, want: []string{"gpu"}},
		{name: "not a prefix of partition", sbatch: []string{"--parsable", "--par=x"}},
		{name: "long, next word", sbatch: []string{"--partition", "gpu"}, want: []string{"gpu"}},
		{name: "short", sbatch: []string{"-pgpu"}, want: []string{"gpu"}},
		{name: "short, next word", sbatch: []string{"-p", "gpu"}, want: []string{"gpu"}},
		{name: "list", sbatch: []string{"--partition=gpu,cpu"}, want: []string{"gpu", "cpu"}},
		{name: "last wins", sbatch: []string{"-pa", "--partition=b"}, want: []string{"b"}},
		{name: "env", env: []hosts.EnvVar{{Key: "SBATCH_PARTITION", Value: "long"}}, want: []string{"long"}},
		{name: "option over env", sbatch: []string{"-pshort"}, env: []hosts.EnvVar{{Key: "SBATCH_PARTITION", Value: "long"}}, want: []string{"short"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := partitions(hosts.Host{Kind: hosts.KindSlurm, Sbatch: tt.sbatch, Env: tt.env})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("partitions(%q, env %v) = %q, want %q", tt.sbatch, tt.env, got, tt.want)
			}
		})
	}
}
