package sshtest_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/sshtest"
)

// MustSSH runs the OpenSSH client against s with strict host key checking
// and returns its combined output; the harness is checked with the real
// client, not with the code under test elsewhere.
func MustSSH(tb testing.TB, s *sshtest.Server, keys sshtest.Keys, command string) string {
	tb.Helper()
	out, err := SSH(tb, s, keys, command)
	if err != nil {
		tb.Fatalf("ssh %s %q: %v\n%s", s.Name, command, err, out)
	}
	return out
}

// SSH is MustSSH returning the error.
func SSH(tb testing.TB, s *sshtest.Server, keys sshtest.Keys, command string) (string, error) {
	tb.Helper()
	sshtest.Require(tb, "ssh")
	cmd := exec.Command("ssh",
		"-F", "none",
		"-i", keys.IdentityFile,
		"-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile="+keys.KnownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-p", strconv.Itoa(s.Port),
		"-l", keys.User,
		s.Host, command)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestStart(t *testing.T) {
	servers, keys := sshtest.Start(t, 2, sshtest.Options{SkipBashrc: true})
	if len(servers) != 2 {
		t.Fatalf("got %d servers, want 2", len(servers))
	}
	if servers[0].Port == servers[1].Port || servers[0].Workdir == servers[1].Workdir {
		t.Fatalf("servers share a port or workdir: %+v %+v", servers[0], servers[1])
	}
	known, err := os.ReadFile(keys.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		t.Run(s.Name, func(t *testing.T) {
			want := fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 ", s.Port)
			if !strings.HasPrefix(s.KnownHostsLine, want) {
				t.Errorf("KnownHostsLine = %q, want prefix %q", s.KnownHostsLine, want)
			}
			if !strings.Contains(string(known), s.KnownHostsLine) {
				t.Errorf("known_hosts lacks %q", s.KnownHostsLine)
			}
			if got := s.HostKeyLines["ssh-ed25519"]; got != s.KnownHostsLine {
				t.Errorf("HostKeyLines[ssh-ed25519] = %q, want %q", got, s.KnownHostsLine)
			}
			// SetEnv SHLVL=1 and the login bash's own increment give 2: a
			// level at which bash skips ~/.bashrc. Without SkipBashrc it is 1.
			out := MustSSH(t, s, keys, `echo "$SHLVL"; whoami; test -d `+s.Workdir+` && echo workdir`)
			if want := "2\n" + keys.User + "\nworkdir\n"; out != want {
				t.Errorf("ssh output %q, want %q", out, want)
			}
			if !strings.Contains(s.Log(), "Accepted publickey for "+keys.User) {
				t.Errorf("log lacks the accepted login:\n%s", s.Log())
			}
		})
	}
}

func TestExtraHostKeyTypes(t *testing.T) {
	servers, keys := sshtest.Start(t, 1, sshtest.Options{ExtraHostKeyTypes: []string{"rsa"}})
	s := servers[0]
	if out := MustSSH(t, s, keys, `echo "$SHLVL"`); out != "1\n" {
		t.Errorf("without SkipBashrc SHLVL = %q, want 1", out)
	}
	for _, keyType := range []string{"ssh-ed25519", "ssh-rsa"} {
		t.Run(keyType, func(t *testing.T) {
			sshtest.Require(t, "ssh-keyscan")
			// ssh-keyscan reads what the daemon really offers.
			out, err := exec.Command("ssh-keyscan", "-p", strconv.Itoa(s.Port), "-t", strings.TrimPrefix(keyType, "ssh-"), s.Host).Output()
			if err != nil {
				t.Fatalf("ssh-keyscan: %v", err)
			}
			if want := s.HostKeyLines[keyType]; want == "" || !strings.Contains(string(out), want) {
				t.Errorf("ssh-keyscan gave %q, want line %q", out, want)
			}
		})
	}
}

func TestStopRestart(t *testing.T) {
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	s := servers[0]
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))

	// A session that would outlive the daemon if Stop killed only the
	// listener: its connection must end with the host.
	sshtest.Require(t, "ssh")
	long := exec.Command("ssh", "-F", "none", "-i", keys.IdentityFile, "-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes", "-o", "UserKnownHostsFile="+keys.KnownHosts,
		"-p", strconv.Itoa(s.Port), "-l", keys.User, s.Host, "echo started; exec sleep 300")
	stdout, err := long.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("started\n"))
	if _, err := stdout.Read(buf); err != nil || string(buf) != "started\n" {
		t.Fatalf("long session: read %q, %v", buf, err)
	}

	s.Stop()
	s.Stop() // idempotent
	if err := long.Wait(); err == nil {
		t.Errorf("ssh session survived Stop")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", addr)
	}

	s.Restart(t)
	if out := MustSSH(t, s, keys, "echo back"); out != "back\n" {
		t.Errorf("after Restart: %q", out)
	}
}
