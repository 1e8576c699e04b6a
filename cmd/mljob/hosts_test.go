package main

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/hostcheck"
	"github.com/mljob/mljob/internal/slurmtest"
)

// TestHostsCheck runs mljob hosts check against a healthy sshd host and
// three broken ones: key missing from known_hosts, python missing, and a
// port where nothing listens.
func TestHostsCheck(t *testing.T) {
	c := newCLI(t)
	servers, keys := startHosts(t, 3)
	partial := mustWrite(t, c.dir, "known_hosts-*", []byte(servers[0].KnownHostsLine+"\n"+servers[2].KnownHostsLine+"\n"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()

	var b strings.Builder
	writeDefaults(&b, keys, partial)
	for _, s := range servers {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    workdir: %q\n    lock_dir: %q\n", s.Name, s.Host, s.Port, s.Workdir, s.LockDir)
		if s.Name == "host3" {
			b.WriteString("    python: /nonexistent/bin/python3\n")
		}
	}
	fmt.Fprintf(&b, "  - name: down\n    address: 127.0.0.1\n    port: %d\n", closed)
	hostsFile := mustWrite(t, c.dir, "hosts-*.yaml", []byte(b.String()))

	r := c.run("hosts", "check", "--hosts", hostsFile, "--scripts", c.scripts, "-o", "json")
	if r.code != 1 || !strings.Contains(r.stderr, "3 of 4 host(s) failed the check") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	var reports []hostcheck.Report
	if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	want := map[string]hostcheck.Verdict{"host1": hostcheck.OK, "host2": hostcheck.Fail, "host3": hostcheck.Fail, "down": hostcheck.Fail}
	for _, rep := range reports {
		t.Run(rep.Host, func(t *testing.T) {
			if rep.Verdict != want[rep.Host] {
				t.Errorf("verdict %s, want %s (problems %+v)", rep.Verdict, want[rep.Host], rep.Problems)
			}
		})
	}
	if len(reports) != 4 || !reports[0].Imports["torch"] || !reports[0].Imports["sklearn"] {
		t.Errorf("reports %+v", reports)
	}

	r = c.run("hosts", "check", "--hosts", hostsFile, "--scripts", c.scripts)
	lines := []string{
		"host2: unknown host key",
		"ssh-keyscan -p " + fmt.Sprint(servers[1].Port),
		"host3: python /nonexistent/bin/python3 not found",
		"down: unreachable",
		"is sshd running on 127.0.0.1:" + fmt.Sprint(closed),
	}
	for _, want := range lines {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != 1 || strings.Contains(r.stdout, "host1:") {
		t.Errorf("exit %d; host1 should have no problem line:\n%s", r.code, r.stdout)
	}
	if strings.Contains(r.stdout, "SLURM") {
		t.Errorf("a hosts file without slurm entries has a SLURM column:\n%s", r.stdout)
	}

	// Only the healthy host: exit 0.
	healthy := writeHosts(t, c.dir, servers[:1], keys, hostsOptions{})
	c.mustRun("hosts", "check", "--hosts", healthy, "--scripts", c.scripts)
}

// TestHostsCheckSlurm checks a hosts file holding an ssh host and a slurm
// entry whose login node is an sshd, against a real single-node cluster
// without accounting; then the entry with a partition the cluster lacks.
func TestHostsCheckSlurm(t *testing.T) {
	cluster := slurmtest.Start(t, slurmtest.Options{})
	c := newCLI(t)
	servers, keys := startHosts(t, 2)
	entry := slurmEntry{login: servers[1], cluster: cluster, workdir: filepath.Join(c.dir, "shared"), slots: 4,
		sbatch: []string{"--partition=debug"}}
	hostsFile := writeMixedHosts(t, c.dir, servers[:1], keys, entry)
	version := strings.Fields(cluster.MustRun(t, "sbatch", "--version"))

	// Accounting off is a warning: exit 0.
	r := c.mustRun("hosts", "check", "--hosts", hostsFile, "--scripts", c.scripts, "-o", "json")
	var reports []hostcheck.Report
	if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	if len(reports) != 2 || reports[0].Slurm != nil || strings.Count(r.stdout, `"slurm": {`) != 1 {
		t.Fatalf("want host1 without a slurm object, then campus with one:\n%s", r.stdout)
	}
	if camp := reports[1]; camp.Host != "campus" || camp.Kind != "slurm" || camp.Verdict != hostcheck.Warn ||
		camp.Slurm.Version != version[len(version)-1] || camp.Slurm.Partition != "debug" || !camp.Slurm.Controller ||
		camp.Slurm.Accounting || camp.Load != nil {
		t.Errorf("campus: %+v, slurm %+v", camp, camp.Slurm)
	}

	r = c.mustRun("hosts", "check", "--hosts", hostsFile, "--scripts", c.scripts)
	for _, re := range []string{
		`(?m)^ HOST +VERDICT +AUTH +KEY +PYTHON +IMPORTS +GPUS +LOAD +DISK +SLURM +LEASES *$`,
		// host1 takes leases in a lock dir its first run makes; the Slurm
		// entry takes none.
		`(?m)^ host1 +ok +key +ok .* - +not made yet *$`,
		`(?m)^ campus +warn +key +ok +3\.\S+ \S+ +numpy \S+, pandas \S+, sklearn \S+, torch \S+ +- +- +.* free.* ` + regexp.QuoteMeta(version[len(version)-1]) + `, partition debug, no sacct +- *$`,
		`(?m)^campus: sacct not usable \(accounting off\?\): mljob falls back to squeue and the run dirs; tasks Slurm has forgotten count as lost — `,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("table output does not match %s:\n%s", re, r.stdout)
		}
	}

	entry.sbatch = []string{"--partition=nope"}
	badPart := writeMixedHosts(t, c.dir, nil, keys, entry)
	r = c.run("hosts", "check", "--hosts", badPart, "--scripts", c.scripts)
	if want := "campus: partition nope does not exist (sinfo lists: debug (default)) — set --partition in the sbatch options of " + badPart; r.code != 1 ||
		!strings.Contains(r.stdout, want) || !strings.Contains(r.stderr, "1 of 1 host(s) failed the check") {
		t.Errorf("exit %d, want 1 and %q\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
}
