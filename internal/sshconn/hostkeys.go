package sshconn

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyCheck is one dial's check of the server's host key against the
// known_hosts files as they were read for that dial.
type hostKeyCheck struct {
	c     *Client
	known ssh.HostKeyCallback // knownhosts over the files: plain, hashed, @cert-authority and @revoked lines
	algos []string            // HostKeyAlgorithms to ask for; nil = library default
}

// probeKey is a throwaway host key, never offered by any server, used to
// ask the known_hosts callback which keys it holds for a host.
var probeKey = sync.OnceValue(func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("sshconn: generate probe key: %v", err)) // crypto/rand does not fail
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(fmt.Sprintf("sshconn: probe key: %v", err))
	}
	return k
})

// certHostKeyAlgos are the host certificate algorithms asked for, first,
// when a @cert-authority line of known_hosts names the host: a server
// with a HostCertificate presents it only when the client asks for its
// algorithm, and otherwise shows a plain key that no line accepts.
var certHostKeyAlgos = []string{
	ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
	ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
}

// plainHostKeyAlgos follow the certificate algorithms when known_hosts
// holds only a @cert-authority line for the host: a server without a
// certificate then shows a plain key and is reported unknown, not a
// handshake that found no common algorithm.
var plainHostKeyAlgos = []string{
	ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
}

// knownKeyAlgorithms returns the host key algorithms to offer for hostport:
// those of the keys known_hosts holds for it, read from the KeyError.Want
// of a probe, with the certificate algorithms first when a
// @cert-authority line names it. Without this the server may pick a key
// type we hold no line for (x/crypto prefers RSA to ed25519), and a known
// host looks changed (melbahja/goph issue 80). nil means unknown host:
// offer the defaults.
func knownKeyAlgorithms(hostKeys ssh.HostKeyCallback, hostport string) []string {
	var keyErr *knownhosts.KeyError
	if err := hostKeys(hostport, probeAddr(hostport), probeKey()); !errors.As(err, &keyErr) || len(keyErr.Want) == 0 {
		return nil
	}
	var algos []string
	add := func(a ...string) {
		for _, x := range a {
			if !containsString(algos, x) {
				algos = append(algos, x)
			}
		}
	}
	plain := plainKnown(keyErr.Want)
	if len(plain) < len(keyErr.Want) {
		add(certHostKeyAlgos...)
	}
	for _, k := range plain {
		if t := k.Key.Type(); t == ssh.KeyAlgoRSA {
			// An ssh-rsa key signs with SHA-2 on modern servers; OpenSSH
			// 8.8+ refuses SHA-1 "ssh-rsa" signatures by default.
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		} else {
			add(t)
		}
	}
	if len(plain) == 0 {
		add(plainHostKeyAlgos...)
	}
	return algos
}

// probeAddr is the remote address of a probe of hostport.
func probeAddr(hostport string) net.Addr {
	host, port, _ := net.SplitHostPort(hostport)
	remote := &net.TCPAddr{IP: net.IPv4zero}
	if ip := net.ParseIP(host); ip != nil {
		remote.IP = ip
	}
	remote.Port, _ = strconv.Atoi(port)
	return remote
}

// plainKnown drops the @cert-authority lines from what a KeyError wants.
// x/crypto's knownhosts lists a CA line that names the host among the
// keys it wants, though the CA's key is never the host's: counted as
// such, a CA-signed host would look changed, and the CA's key type would
// be the only algorithm asked for.
func plainKnown(want []knownhosts.KnownKey) []knownhosts.KnownKey {
	var out []knownhosts.KnownKey
	for _, k := range want {
		if !isCertAuthorityLine(k.Filename, k.Line) {
			out = append(out, k)
		}
	}
	return out
}

// isCertAuthorityLine reports whether line (1-based, as knownhosts counts)
// of file is a @cert-authority line.
func isCertAuthorityLine(file string, line int) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if n == line {
			return strings.HasPrefix(strings.TrimSpace(sc.Text()), "@cert-authority")
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// check verifies key against known_hosts and turns a refusal into a
// *HostKeyError that says how to fix it: an unknown key, a changed one, a
// revoked one (@revoked, the key itself or the CA that signed it), or a
// host certificate no @cert-authority line accepts.
func (h hostKeyCheck) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := h.known(hostname, remote, key)
	if err == nil {
		return nil
	}
	c := h.c
	e := &HostKeyError{
		Host:        c.cfg.Name,
		Address:     c.knownAddr,
		KnownHosts:  c.knownFiles[0],
		Fingerprint: ssh.FingerprintSHA256(key),
		KeyType:     key.Type(),
	}
	cert, isCert := key.(*ssh.Certificate)
	if isCert {
		e.Fingerprint = ssh.FingerprintSHA256(cert.Key)
		e.CA = ssh.FingerprintSHA256(cert.SignatureKey)
	}
	var keyErr *knownhosts.KeyError
	switch {
	case h.revoked(hostname, remote, key, err, e):
		return e
	case isCert:
		// x/crypto's CertChecker says why in words only: no authority for
		// the host, a principal or validity that does not fit.
		e.CertProblem = err.Error()
		return e
	case errors.As(err, &keyErr):
		want := plainKnown(keyErr.Want)
		if len(want) == 0 {
			return e
		}
		old := want[0]
		for _, w := range want {
			if w.Key.Type() == key.Type() {
				old = w
				break
			}
		}
		e.Changed, e.KnownHosts, e.Line = true, old.Filename, old.Line
		return e
	default:
		return err
	}
}

// revoked reports whether known_hosts lists key, or for a certificate its
// key or the CA that signed it, as @revoked; if so it fills in e.
// knownhosts returns a *RevokedError for a plain key only: for a
// certificate, its keys are asked about one by one.
func (h hostKeyCheck) revoked(hostname string, remote net.Addr, key ssh.PublicKey, err error, e *HostKeyError) bool {
	var rev *knownhosts.RevokedError
	if !errors.As(err, &rev) {
		cert, ok := key.(*ssh.Certificate)
		if !ok {
			return false
		}
		for _, k := range []ssh.PublicKey{cert.Key, cert.SignatureKey} {
			if errors.As(h.known(hostname, remote, k), &rev) {
				break
			}
		}
		if rev == nil {
			return false
		}
	}
	e.Revoked, e.KnownHosts, e.Line = true, rev.Revoked.Filename, rev.Revoked.Line
	return true
}
