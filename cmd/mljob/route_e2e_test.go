package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/sshtest"
)

// The route end-to-end tests reach a target host through a gateway as a
// user's own ~/.ssh/config says (ProxyJump or ProxyCommand), with the
// hosts file naming only the alias: dispatch and hosts check work through
// the gateway, and cannot reach the target once the gateway is stopped,
// so the runs really went through it.

// writeSSHConfig writes HOME/.ssh/config naming gw as "gateway" and
// target as "target" with route as its Host block's last line, every host
// reached as keys say; it returns the config's path.
func writeSSHConfig(tb testing.TB, home string, gw, target *sshtest.Server, keys sshtest.Keys, route string) string {
	tb.Helper()
	path := filepath.Join(home, ".ssh", "config")
	cfg := fmt.Sprintf("Host gateway\n  HostName %s\n  Port %d\n"+
		"Host target\n  HostName %s\n  Port %d\n  %s\n"+
		"Host *\n  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n"+
		"  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
		gw.Host, gw.Port, target.Host, target.Port, route, keys.User, keys.IdentityFile, keys.KnownHosts)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// aliasHosts writes a hosts file with one entry, "target", named by its
// ssh config alias only.
func aliasHosts(tb testing.TB, dir string, target *sshtest.Server) string {
	tb.Helper()
	return mustWrite(tb, dir, "hosts-*.yaml", []byte(fmt.Sprintf(
		"hosts:\n  - name: target\n    address: target\n    python: %q\n    workdir: %q\n    lock_dir: %q\n    slots: 2\n    connect_timeout: 5s\n",
		hostPython, target.Workdir, target.LockDir)))
}

// submitEcho queues n echo.py jobs.
func (c *cli) submitEcho(project string, n int) {
	c.tb.Helper()
	jobs := make([]any, n)
	for i := range jobs {
		jobs[i] = map[string]any{"scriptName": "echo.py", "projectName": project, "x": i}
	}
	c.submit(c.scripts, jobs...)
}

func TestE2EProxyJump(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 2)
	gw, target := servers[0], servers[1]
	c := newCLI(t)
	writeSSHConfig(t, c.home, gw, target, keys, "ProxyJump gateway")
	hostsFile := aliasHosts(t, c.dir, target)
	checkRoute(t, c, hostsFile, gw, target, "via gateway")

	// A changed key on the gateway alone refuses the target, naming the
	// gateway and its fix.
	restore := gw.RotateHostKey(t)
	c.submitEcho("jump", 1)
	r := c.run(dispatchArgs(hostsFile, c.scripts, "--give-up-after", "5s")...)
	wantFix := fmt.Sprintf("ssh-keygen -R '[127.0.0.1]:%d'", gw.Port)
	if r.code != 1 || !strings.Contains(r.stderr, "gateway gateway") || !strings.Contains(r.stderr, wantFix) {
		t.Errorf("dispatch with the gateway's key changed: exit %d, want 1 naming the gateway and %q; stderr:\n%s", r.code, wantFix, r.stderr)
	}
	restore()
	gatewayStopped(t, c, hostsFile, gw)
}

func TestE2EProxyCommand(t *testing.T) {
	t.Parallel()
	sshtest.Require(t, "ssh")
	servers, keys := startHosts(t, 2)
	gw, target := servers[0], servers[1]
	c := newCLI(t)
	// ssh reads the passwd home's config, not $HOME's: -F names this one.
	cfgPath := filepath.Join(c.home, ".ssh", "config")
	writeSSHConfig(t, c.home, gw, target, keys, "ProxyCommand ssh -F "+cfgPath+" -W %h:%p gateway")
	hostsFile := aliasHosts(t, c.dir, target)
	checkRoute(t, c, hostsFile, gw, target, "via proxy command")
	gatewayStopped(t, c, hostsFile, gw)
}

// echoScripts is a scripts dir holding only echo.py, whose imports every
// python has: hosts check then judges the connection, not the modules.
func echoScripts(tb testing.TB, c *cli) string {
	tb.Helper()
	dir := filepath.Join(c.dir, "echo-scripts")
	b, err := os.ReadFile(filepath.Join(c.scripts, "echo.py"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "echo.py"), b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// checkRoute runs hosts check and a dispatch of 6 jobs through the
// gateway: the route is shown, every job succeeds on the target, and the
// gateway saw the logins.
func checkRoute(t *testing.T, c *cli, hostsFile string, gw, target *sshtest.Server, route string) {
	t.Helper()
	r := c.mustRun("hosts", "check", "--hosts", hostsFile, "--scripts", echoScripts(t, c))
	if !strings.Contains(r.stdout, "target "+route) {
		t.Errorf("hosts check does not show %q:\n%s", "target "+route, r.stdout)
	}
	const n = 6
	c.submitEcho("route", n)
	r = c.mustRun(dispatchArgs(hostsFile, c.scripts)...)
	if !strings.Contains(r.stderr, fmt.Sprintf("%d succeeded, 0 failed", n)) {
		t.Errorf("dispatch summary: want %d succeeded; stderr:\n%s", n, r.stderr)
	}
	for _, o := range c.outcomes() {
		if o.State != "succeeded" || o.Host != "target" {
			t.Errorf("job %d: %s on %s (%s)", o.JobID, o.State, o.Host, o.Error)
		}
	}
	if runs, _ := filepath.Glob(filepath.Join(target.Workdir, "runs", "*")); len(runs) != n {
		t.Errorf("the target has %d run dirs, want %d", len(runs), n)
	}
	if !strings.Contains(gw.Log(), "Accepted publickey for ") {
		t.Errorf("the gateway saw no login:\n%s", gw.Log())
	}
}

// gatewayStopped stops the gateway: hosts check names it, and a dispatch
// cannot reach the target (it is up, but only through the gateway).
func gatewayStopped(t *testing.T, c *cli, hostsFile string, gw *sshtest.Server) {
	t.Helper()
	gw.Stop()
	r := c.run("hosts", "check", "--hosts", hostsFile, "--scripts", echoScripts(t, c))
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL") {
		t.Errorf("hosts check with the gateway stopped: exit %d, want 1 and FAIL:\n%s%s", r.code, r.stdout, r.stderr)
	}
	before := len(c.outcomes())
	c.submitEcho("stopped", 1)
	r = c.run(dispatchArgs(hostsFile, c.scripts, "--give-up-after", "3s")...)
	if r.code != 1 || !strings.Contains(r.stderr, "target") || !strings.Contains(r.stderr, "gateway") {
		t.Errorf("dispatch with the gateway stopped: exit %d, want 1 naming the target and the gateway; stderr:\n%s", r.code, r.stderr)
	}
	if after := len(c.outcomes()); after != before {
		t.Errorf("%d outcomes recorded with the gateway stopped, want none", after-before)
	}
}
