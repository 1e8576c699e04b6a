package sshconn_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshtest"
)

// writeKnownHosts writes lines to a new known_hosts file.
func writeKnownHosts(tb testing.TB, lines ...string) string {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "known_hosts")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return file
}

// copyKey copies the private key file src, and only it, to a new dir.
func copyKey(tb testing.TB, src string) string {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	dst := filepath.Join(tb.TempDir(), "id_ed25519")
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// TestUserCertificate: a host that trusts a CA (TrustedUserCAKeys) and
// holds no authorized key lets us in with a certificate the CA signed:
// found beside the identity file, named by CertificateFiles, or paired
// with a key the agent holds.
func TestUserCertificate(t *testing.T) {
	ca := sshtest.NewCA(t)
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true, TrustedUserCAKeys: ca.PubFile, NoAuthorizedKeys: true})
	s := servers[0]

	t.Run("no certificate, no authorized key", func(t *testing.T) {
		NoAgent(t)
		_, err := sshconn.Dial(context.Background(), s.Config(keys))
		if !errors.Is(err, sshconn.ErrAuth) {
			t.Fatalf("dial: %v, want ErrAuth", err)
		}
	})

	cert := ca.SignUser(t, keys.IdentityFile, keys.User)
	elsewhere := filepath.Join(t.TempDir(), "lab-cert.pub")
	if err := os.Rename(cert, elsewhere); err != nil {
		t.Fatal(err)
	}
	bare := copyKey(t, keys.IdentityFile) // a key with no certificate beside it

	t.Run("certificate file named", func(t *testing.T) {
		NoAgent(t)
		cfg := s.Config(keys)
		cfg.CertificateFiles = []string{elsewhere}
		c := MustDial(t, cfg)
		MustExec(t, c, "true")
		if a := c.Auth(); a.Method != sshconn.AuthIdentityFile || a.KeyType != ssh.CertAlgoED25519v01 {
			t.Errorf("Auth() = %+v, want the identity file's certificate", a)
		}
	})
	t.Run("certificate beside the identity file", func(t *testing.T) {
		NoAgent(t)
		b, err := os.ReadFile(elsewhere)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bare+"-cert.pub", b, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(bare + "-cert.pub") })
		cfg := s.Config(keys)
		cfg.IdentityFile = bare
		MustExec(t, MustDial(t, cfg), "true")
	})
	t.Run("key in the agent, certificate on disk", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", "")
		StartAgent(t, bare)
		cfg := s.Config(keys)
		cfg.IdentityFile = ""
		cfg.CertificateFiles = []string{elsewhere}
		c := MustDial(t, cfg)
		MustExec(t, c, "true")
		if a := c.Auth(); a.Method != sshconn.AuthAgent || a.KeyType != ssh.CertAlgoED25519v01 {
			t.Errorf("Auth() = %+v, want the agent's key with the certificate", a)
		}
	})
	t.Run("not a certificate", func(t *testing.T) {
		NoAgent(t)
		cfg := s.Config(keys)
		cfg.CertificateFiles = []string{keys.IdentityFile + ".pub"}
		_, err := sshconn.Dial(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "not a user certificate") {
			t.Fatalf("dial: %v, want a refusal naming the file", err)
		}
	})
}

// TestHostCertificate: a host whose key a CA signed is accepted through a
// @cert-authority line alone (also for a known_hosts holding another
// host's plain key), refused once its key or the CA is @revoked, and
// refused with the CA named when no line trusts that CA; hashed lines
// (ssh-keygen -H) work as plain ones.
func TestHostCertificate(t *testing.T) {
	NoAgent(t)
	ca := sshtest.NewCA(t)
	servers, keys := sshtest.Start(t, 2, sshtest.Options{SkipBashrc: true})
	s, other := servers[0], servers[1]
	ca.SignHost(t, s)
	stranger := sshtest.NewCA(t)
	caFingerprint := fingerprint(t, ca.PublicKey)

	tests := []struct {
		name    string
		lines   []string
		wantErr error
		check   func(t *testing.T, hk *sshconn.HostKeyError)
	}{
		{name: "@cert-authority only", lines: []string{ca.AuthorityLine(s)}},
		{name: "@cert-authority beside another host's plain key", lines: []string{other.KnownHostsLine, ca.AuthorityLine(s)}},
		{name: "plain key only, certificate not needed", lines: []string{s.KnownHostsLine}},
		{
			name: "host key @revoked", lines: []string{ca.AuthorityLine(s), "@revoked * " + s.HostPublicKey},
			wantErr: sshconn.ErrHostKeyRevoked,
			check: func(t *testing.T, hk *sshconn.HostKeyError) {
				if !hk.Revoked || hk.Line != 2 || !strings.Contains(hk.Hint(), ":2") {
					t.Errorf("HostKeyError %+v, hint %q: want revoked at line 2", *hk, hk.Hint())
				}
			},
		},
		{name: "CA @revoked", lines: []string{ca.AuthorityLine(s), "@revoked * " + ca.PublicKey}, wantErr: sshconn.ErrHostKeyRevoked},
		{
			name: "another CA trusted", lines: []string{stranger.AuthorityLine(s)},
			wantErr: sshconn.ErrUnknownHost,
			check: func(t *testing.T, hk *sshconn.HostKeyError) {
				if hk.CA != caFingerprint || hk.CertProblem == "" || !strings.Contains(hk.Hint(), "@cert-authority") {
					t.Errorf("HostKeyError %+v, hint %q: want the signing CA %s named", *hk, hk.Hint(), caFingerprint)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s.Config(keys)
			cfg.KnownHosts = []string{writeKnownHosts(t, tc.lines...)}
			c, err := sshconn.Dial(context.Background(), cfg)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				defer c.Close()
				MustExec(t, c, "true")
				return
			}
			if c != nil {
				c.Close()
			}
			var hk *sshconn.HostKeyError
			if !errors.Is(err, tc.wantErr) || !errors.As(err, &hk) {
				t.Fatalf("dial: %v, want %v", err, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, hk)
			}
		})
	}

	t.Run("hashed known_hosts", func(t *testing.T) {
		sshtest.Require(t, "ssh-keygen")
		for _, line := range []string{s.KnownHostsLine, other.KnownHostsLine} {
			file := writeKnownHosts(t, line)
			if out, err := exec.Command("ssh-keygen", "-H", "-f", file).CombinedOutput(); err != nil {
				t.Fatalf("ssh-keygen -H: %v\n%s", err, out)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), "|1|") {
				t.Fatalf("known_hosts not hashed: %q", b)
			}
			cfg := s.Config(keys)
			cfg.KnownHosts = []string{file}
			c, err := sshconn.Dial(context.Background(), cfg)
			switch {
			case line == s.KnownHostsLine && err != nil:
				t.Errorf("dial with its hashed line: %v", err)
			case line == other.KnownHostsLine && !errors.Is(err, sshconn.ErrUnknownHost):
				t.Errorf("dial with only another host's hashed line: %v, want ErrUnknownHost", err)
			}
			if c != nil {
				c.Close()
			}
		}
	})
}
