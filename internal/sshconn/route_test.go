package sshconn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshtest"
)

// behind returns the Config of target reached through gateways, the
// first of them nearest this machine.
func behind(target sshconn.Config, gateways ...sshconn.Config) sshconn.Config {
	var jump *sshconn.Config
	for _, g := range gateways {
		g.Jump = jump
		jump = &g
	}
	target.Jump = jump
	return target
}

// MustExec runs argv on c and returns its stdout.
func MustExec(tb testing.TB, c *sshconn.Client, argv ...string) string {
	tb.Helper()
	var out, errOut bytes.Buffer
	if err := c.Exec(context.Background(), argv, nil, &out, &errOut); err != nil {
		tb.Fatalf("exec %q: %v\n%s", argv, err, errOut.String())
	}
	return out.String()
}

// accepted counts the logins s's log shows: one per SSH connection.
func accepted(s *sshtest.Server) int {
	return strings.Count(s.Log(), "Accepted publickey for ")
}

// TestProxyJump dials two hosts through one gateway: one connection to
// the gateway carries both; with the gateway gone the hosts cannot be
// reached (so they were reached through it); after the gateway restarts,
// the hosts redial through its new connection.
func TestProxyJump(t *testing.T) {
	NoAgent(t)
	servers, keys := sshtest.Start(t, 3, sshtest.Options{SkipBashrc: true})
	gw, t1, t2 := servers[0], servers[1], servers[2]

	c1 := MustDial(t, behind(t1.Config(keys), gw.Config(keys)))
	c2 := MustDial(t, behind(t2.Config(keys), gw.Config(keys)))
	for _, tc := range []struct {
		c *sshconn.Client
		s *sshtest.Server
	}{{c1, t1}, {c2, t2}} {
		// SSH_CONNECTION's server port is the host's own: the session
		// runs on the host, not on the gateway.
		f := strings.Fields(MustExec(t, tc.c, "sh", "-c", `echo "$SSH_CONNECTION"`))
		if len(f) != 4 || f[3] != strconv.Itoa(tc.s.Port) {
			t.Errorf("SSH_CONNECTION on %s = %q, want server port %d", tc.s.Name, f, tc.s.Port)
		}
	}
	if n := accepted(gw); n != 1 {
		t.Errorf("gateway accepted %d logins for 2 hosts behind it, want 1 shared connection", n)
	}
	if got, want := (behind(t1.Config(keys), gw.Config(keys))).Route(), "via "+gw.Name; got != want {
		t.Errorf("Route() = %q, want %q", got, want)
	}

	gw.Crash()
	_, err := sshconn.Dial(context.Background(), behind(t1.Config(keys), gw.Config(keys)))
	var je *sshconn.JumpError
	if !errors.As(err, &je) || je.Hop != gw.Name || sshconn.FailedHop(err) != gw.Name {
		t.Fatalf("dial with the gateway down: %v, want a *JumpError naming %s", err, gw.Name)
	}
	if !strings.Contains(err.Error(), t1.Name) || !strings.Contains(err.Error(), "gateway "+gw.Name) {
		t.Errorf("error %q names neither the host nor the gateway", err)
	}
	// The host itself is up: only the route is gone.
	MustExec(t, MustDial(t, t1.Config(keys)), "true")

	gw.Restart(t)
	for _, c := range []*sshconn.Client{c1, c2} {
		MustExec(t, c, "true")
	}
	if n := accepted(gw); n != 2 {
		t.Errorf("gateway accepted %d logins after its restart, want 2 (one before, one shared after)", n)
	}
}

// TestJumpHostKeyChanged: a changed key on the gateway alone refuses the
// host behind it, naming the gateway with the gateway's fix; the host's
// own key is fine.
func TestJumpHostKeyChanged(t *testing.T) {
	NoAgent(t)
	servers, keys := sshtest.Start(t, 2, sshtest.Options{SkipBashrc: true})
	gw, target := servers[0], servers[1]
	cfg := behind(target.Config(keys), gw.Config(keys))
	MustExec(t, MustDial(t, cfg), "true")

	restore := gw.RotateHostKey(t)
	_, err := sshconn.Dial(context.Background(), cfg)
	var hk *sshconn.HostKeyError
	if !errors.Is(err, sshconn.ErrHostKeyChanged) || !errors.As(err, &hk) {
		t.Fatalf("dial through a gateway with a new key: %v, want ErrHostKeyChanged", err)
	}
	if hk.Host != gw.Name || sshconn.FailedHop(err) != gw.Name {
		t.Errorf("HostKeyError names %q, failed hop %q; want the gateway %s", hk.Host, sshconn.FailedHop(err), gw.Name)
	}
	if want := fmt.Sprintf("[127.0.0.1]:%d", gw.Port); !strings.Contains(hk.Hint(), want) {
		t.Errorf("hint %q is not about the gateway's address %s", hk.Hint(), want)
	}
	restore()
	MustExec(t, MustDial(t, cfg), "true")
}

// TestTwoHops reaches a host through two gateways, and names the first
// when it is down.
func TestTwoHops(t *testing.T) {
	NoAgent(t)
	servers, keys := sshtest.Start(t, 3, sshtest.Options{SkipBashrc: true})
	gw1, gw2, target := servers[0], servers[1], servers[2]
	cfg := behind(target.Config(keys), gw1.Config(keys), gw2.Config(keys))
	if got, want := cfg.Route(), "via "+gw1.Name+", "+gw2.Name; got != want {
		t.Errorf("Route() = %q, want %q", got, want)
	}
	c := MustDial(t, cfg)
	if out := MustExec(t, c, "sh", "-c", `echo "$SSH_CONNECTION"`); !strings.HasSuffix(strings.TrimSpace(out), " "+strconv.Itoa(target.Port)) {
		t.Errorf("SSH_CONNECTION = %q, want the target's port %d", out, target.Port)
	}
	if accepted(gw1) != 1 || accepted(gw2) != 1 {
		t.Errorf("logins: %s %d, %s %d; want one each", gw1.Name, accepted(gw1), gw2.Name, accepted(gw2))
	}

	gw1.Stop()
	_, err := sshconn.Dial(context.Background(), cfg)
	if hop := sshconn.FailedHop(err); hop != gw1.Name {
		t.Fatalf("with %s down: failed hop %q (%v), want %s", gw1.Name, hop, err, gw1.Name)
	}
}

// sshClientConfig writes an OpenSSH client config naming s as "gateway",
// for a ProxyCommand that runs ssh.
func sshClientConfig(tb testing.TB, s *sshtest.Server, keys sshtest.Keys) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "ssh_config")
	cfg := fmt.Sprintf("Host gateway\n  HostName %s\n  Port %d\n  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n"+
		"  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
		s.Host, s.Port, keys.User, keys.IdentityFile, keys.KnownHosts)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestProxyCommand reaches a host through `ssh -W %h:%p gateway`: the
// command's stderr is the error when it fails, and it ends with the
// connection.
func TestProxyCommand(t *testing.T) {
	NoAgent(t)
	sshtest.Require(t, "ssh")
	servers, keys := sshtest.Start(t, 2, sshtest.Options{SkipBashrc: true})
	gw, target := servers[0], servers[1]
	sshCfg := sshClientConfig(t, gw, keys)
	pidFile := filepath.Join(t.TempDir(), "pid")
	cfg := target.Config(keys)
	// The command records its pid, then becomes ssh.
	cfg.ProxyCommand = "sh -c 'echo $$ > " + pidFile + "; exec ssh -F " + sshCfg + " -W %h:%p gateway'"
	if got := cfg.Route(); got != "via proxy command" {
		t.Errorf("Route() = %q", got)
	}

	c, err := sshconn.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("dial through the proxy command: %v", err)
	}
	MustExec(t, c, "true")
	if n := accepted(gw); n != 1 {
		t.Errorf("gateway accepted %d logins, want 1 (the proxy command's)", n)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %q: %v", b, err)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the proxy command %d is not running while connected: %v", pid, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the proxy command %d outlived Close (kill 0: %v)", pid, err)
	}

	gw.Stop()
	_, err = sshconn.Dial(context.Background(), cfg)
	var pe *sshconn.ProxyError
	if !errors.As(err, &pe) {
		t.Fatalf("dial with the gateway down: %v, want a *ProxyError", err)
	}
	// ssh's own words for a refused connection, from the command's stderr.
	if !strings.Contains(err.Error(), "Connection refused") || !strings.Contains(err.Error(), "exit status 255") {
		t.Errorf("error %q lacks the command's stderr and exit status", err)
	}
}

// TestExpandProxyCommand checks OpenSSH's tokens, and that no value the
// shell would read as code gets into the command.
func TestExpandProxyCommand(t *testing.T) {
	cfg := sshconn.Config{Address: "gpu1.lab", Port: 2222, User: "bob", Alias: "gpu1"}
	tests := []struct {
		name    string
		command string
		cfg     sshconn.Config
		want    string
		wantErr string
	}{
		{name: "ssh -W", command: "ssh -W %h:%p bastion", cfg: cfg, want: "ssh -W gpu1.lab:2222 bastion"},
		{name: "quoted tokens stay as written", command: `nc "%h" '%p'`, cfg: cfg, want: `nc "gpu1.lab" '2222'`},
		{name: "user, alias, percent", command: "tunnel %r@%n --rate 100%%", cfg: cfg, want: "tunnel bob@gpu1 --rate 100%"},
		{name: "port 22 by default", command: "x %p", cfg: sshconn.Config{Address: "h"}, want: "x 22"},
		{name: "alias defaults to the address", command: "x %n", cfg: sshconn.Config{Address: "h"}, want: "x h"},
		{name: "unknown token", command: "x %C", cfg: cfg, wantErr: "token %C is not supported"},
		{name: "lone percent", command: "x %", cfg: cfg, wantErr: "lone %"},
		{name: "shell code in the address", command: "nc %h %p", cfg: sshconn.Config{Address: "h;reboot"}, wantErr: "could read as more than a name"},
		{name: "substitution in the user", command: "x %r", cfg: sshconn.Config{Address: "h", User: "$(id)"}, wantErr: "could read as more than a name"},
		{name: "option in the address", command: "nc %h %p", cfg: sshconn.Config{Address: "-oProxyCommand=x"}, wantErr: "could read as more than a name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sshconn.ExpandProxyCommand(tc.command, tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ExpandProxyCommand = %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ExpandProxyCommand = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
