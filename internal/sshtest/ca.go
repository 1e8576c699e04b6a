package sshtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// CA is a test SSH certificate authority, made and used with ssh-keygen
// as an organisation's CA (step-ca, Vault, Teleport) would be: it signs
// user keys, which a daemon started with Options.TrustedUserCAKeys
// accepts, and host keys, which a client trusts through a
// @cert-authority line of known_hosts.
type CA struct {
	Key       string // the CA's private key file
	PublicKey string // "ssh-ed25519 AAAA...", without comment
	PubFile   string // Key + ".pub", for TrustedUserCAKeys
}

// NewCA makes a CA with a fresh ed25519 key in a temporary directory.
func NewCA(tb testing.TB) CA {
	tb.Helper()
	key := filepath.Join(tb.TempDir(), "ca")
	pub := MustKeygen(tb, key, "ed25519", "")
	return CA{Key: key, PublicKey: pub, PubFile: key + ".pub"}
}

// SignUser certifies the public key of the private key file key (key +
// ".pub") for the login principal, and returns the certificate's path:
// key + "-cert.pub", beside the key, where ssh looks for it.
func (ca CA) SignUser(tb testing.TB, key, principal string) string {
	tb.Helper()
	ca.sign(tb, key+".pub", "-I", "mljob-test-user", "-n", principal)
	return key + "-cert.pub"
}

// SignHost certifies s's ed25519 host key for its address and restarts s
// presenting the certificate (HostCertificate), as a CA-managed host
// does. The restart drops s's connections, as Restart does.
func (ca CA) SignHost(tb testing.TB, s *Server) {
	tb.Helper()
	key := s.hostKeyFile("ed25519")
	ca.sign(tb, key+".pub", "-h", "-I", s.Name, "-n", s.Host)
	s.hostCert = key + "-cert.pub"
	if err := os.WriteFile(s.config, []byte(sshdConfig(s, s.Port)), 0o600); err != nil {
		tb.Fatalf("sshtest: %v", err)
	}
	s.Restart(tb)
}

// AuthorityLine is the known_hosts line that trusts the host keys ca
// signs for s's address: "@cert-authority [127.0.0.1]:PORT ssh-ed25519 ...".
func (ca CA) AuthorityLine(s *Server) string {
	return "@cert-authority [" + s.Host + "]:" + strconv.Itoa(s.Port) + " " + ca.PublicKey
}

// sign runs ssh-keygen -s with the CA's key over pub.
func (ca CA) sign(tb testing.TB, pub string, args ...string) {
	tb.Helper()
	Require(tb, "ssh-keygen")
	argv := append([]string{"-q", "-s", ca.Key}, args...)
	argv = append(argv, pub)
	if out, err := exec.Command("ssh-keygen", argv...).CombinedOutput(); err != nil {
		tb.Fatalf("sshtest: ssh-keygen %v: %v\n%s", argv, err, out)
	}
}
