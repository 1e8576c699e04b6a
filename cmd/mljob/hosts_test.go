package main

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/hostcheck"
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
	fmt.Fprintf(&b, "defaults:\n  user: %q\n  identity_file: %q\n  known_hosts: %q\n  python: %q\n  connect_timeout: 5s\nhosts:\n",
		keys.User, keys.IdentityFile, partial, hostPython)
	for _, s := range servers {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    workdir: %q\n", s.Name, s.Host, s.Port, s.Workdir)
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

	// Only the healthy host: exit 0.
	healthy := writeHosts(t, c.dir, servers[:1], keys, hostsOptions{})
	c.mustRun("hosts", "check", "--hosts", healthy, "--scripts", c.scripts)
}
