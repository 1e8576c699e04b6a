package sshconn

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/crypto/ssh"
)

// taggedSigner is a key to offer and where it came from (AuthAgent,
// AuthIdentityFile), for Auth.
type taggedSigner struct {
	ssh.Signer
	method string
}

// certificatePaths are the user certificate files to look at: the named
// ones, then the one beside the identity file (KEY-cert.pub), which ssh
// loads with the key without being told.
func certificatePaths(named []string, identity string) []string {
	paths := append([]string(nil), named...)
	if identity != "" {
		beside := identity + "-cert.pub"
		if !containsString(paths, beside) {
			paths = append(paths, beside)
		}
	}
	return paths
}

// loadCertificates reads the user certificates in files. A file that does
// not exist is skipped, as ssh skips it; one that is not a certificate is
// an error naming it.
func loadCertificates(files []string) ([]*ssh.Certificate, error) {
	var certs []*ssh.Certificate
	for _, f := range files {
		p, err := expandHome(f)
		if err != nil {
			return nil, fmt.Errorf("certificate file: %w", err)
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("certificate file: %w", err)
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
		if err != nil {
			return nil, fmt.Errorf("certificate file %s: %w", f, err)
		}
		cert, ok := pub.(*ssh.Certificate)
		if !ok || cert.CertType != ssh.UserCert {
			return nil, fmt.Errorf("certificate file %s: not a user certificate (%s)", f, pub.Type())
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

// withCertificates returns the keys to offer, in order: each of base,
// preceded by a signer for each certificate of its key, so that a server
// that trusts the CA (TrustedUserCAKeys) lets us in with no authorized
// key. The key may be the identity file's or one ssh-agent holds: the
// agent signs, the certificate travels beside its signature.
func withCertificates(base []taggedSigner, certs []*ssh.Certificate) []taggedSigner {
	if len(certs) == 0 {
		return base
	}
	var out []taggedSigner
	for _, s := range base {
		pub := s.PublicKey().Marshal()
		for _, cert := range certs {
			if !bytes.Equal(cert.Key.Marshal(), pub) {
				continue
			}
			if cs, err := ssh.NewCertSigner(cert, s.Signer); err == nil {
				out = append(out, taggedSigner{Signer: cs, method: s.method})
			}
		}
		out = append(out, s)
	}
	return out
}
