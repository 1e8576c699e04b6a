package sshtest_test

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/proctree"
	"github.com/mljob/mljob/internal/sshtest"
)

// alive reports whether pid runs and is not a zombie: a killed process
// whose parent has not reaped it still has a /proc entry.
func alive(pid int) bool {
	p, ok := proctree.Read(pid)
	return ok && p.State != 'Z'
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond) // a poll interval: cond decides
	}
}

// longSession starts an ssh session whose remote shell prints its pid and
// then sleeps, and returns the client and that pid.
func longSession(tb testing.TB, s *sshtest.Server, keys sshtest.Keys) (*exec.Cmd, int) {
	tb.Helper()
	sshtest.Require(tb, "ssh")
	cmd := exec.Command("ssh", "-F", "none", "-i", keys.IdentityFile, "-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes", "-o", "UserKnownHostsFile="+keys.KnownHosts,
		"-p", strconv.Itoa(s.Port), "-l", keys.User, s.Host, "echo $$; exec sleep 300")
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("long session: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		tb.Fatalf("long session printed %q", line)
	}
	return cmd, pid
}

func TestCrash(t *testing.T) {
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	s := servers[0]
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	client, remote := longSession(t, s, keys)

	s.Crash()
	s.Crash() // a no-op once crashed
	if err := client.Wait(); err == nil {
		t.Errorf("ssh session survived the crash of its sshd")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Crash", addr)
	}
	if !alive(remote) {
		t.Fatalf("the session's process %d died with sshd; Crash must leave it running", remote)
	}

	s.Restart(t)
	if out := MustSSH(t, s, keys, "echo back"); out != "back\n" {
		t.Errorf("after Restart: %q", out)
	}
	if !alive(remote) {
		t.Errorf("the session's process %d died on Restart", remote)
	}

	s.Stop()
	waitUntil(t, "Stop to kill what the crash left running", 5*time.Second, func() bool { return !alive(remote) })
}

func TestNetns(t *testing.T) {
	n := sshtest.NewNetns(t)
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true, Netns: n.Name, Address: n.Addr})
	s := servers[0]
	if s.Host != n.Addr || !strings.HasPrefix(s.KnownHostsLine, "["+n.Addr+"]:") {
		t.Fatalf("server at %s (%q), want %s", s.Host, s.KnownHostsLine, n.Addr)
	}
	// The session runs inside the namespace.
	if out := MustSSH(t, s, keys, "ip netns identify $$"); strings.TrimSpace(out) != n.Name {
		t.Errorf("the session's namespace: %q, want %s", out, n.Name)
	}
	if out := MustSSH(t, s, keys, "echo hi"); out != "hi\n" {
		t.Fatalf("ssh through the link: %q", out)
	}

	n.Down(t)
	c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), 500*time.Millisecond)
	if err == nil {
		c.Close()
		t.Fatalf("connected to %s with the link down", s.Host)
	}
	n.Up(t)
	if out := MustSSH(t, s, keys, "echo again"); out != "again\n" {
		t.Errorf("ssh after the link came back: %q", out)
	}
}
