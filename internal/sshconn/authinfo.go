package sshconn

import (
	"io"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Ways a connection can authenticate, as AuthInfo.Method reports them.
const (
	AuthAgent        = "agent"         // a key held by ssh-agent (SSH_AUTH_SOCK)
	AuthIdentityFile = "identity-file" // Config.IdentityFile
)

// AuthInfo says which key the last connection authenticated with.
type AuthInfo struct {
	Method      string // AuthAgent or AuthIdentityFile; "" before any connection
	KeyType     string // e.g. "ssh-ed25519", or "ssh-ed25519-cert-v01@openssh.com" for a certificate
	Fingerprint string // SHA256:... of the public key
}

// Auth returns which key the client's last successful connection used, so
// `mljob hosts check` can say whether the agent or the identity file got in.
func (c *Client) Auth() AuthInfo {
	c.authUsed.mu.Lock()
	defer c.authUsed.mu.Unlock()
	return c.authUsed.info
}

// authRecorder remembers the signer that last signed a publickey request.
// x/crypto asks the server whether it accepts a key before signing with it,
// so the key that signs in a handshake that succeeds is the one that got in.
type authRecorder struct {
	mu   sync.Mutex // guards info
	info AuthInfo
}

// wrap makes each signer record, when it signs, where it came from.
func (r *authRecorder) wrap(signers []taggedSigner) []ssh.Signer {
	out := make([]ssh.Signer, len(signers))
	for i, ts := range signers {
		s := ts.Signer
		rs := recordingSigner{Signer: s, rec: r, method: ts.method}
		// Keep the optional interfaces: without them an RSA key signs with
		// SHA-1 only, which OpenSSH 8.8+ refuses.
		switch s.(type) {
		case ssh.MultiAlgorithmSigner:
			out[i] = &multiAlgoRecordingSigner{algoRecordingSigner{rs}}
		case ssh.AlgorithmSigner:
			out[i] = &algoRecordingSigner{rs}
		default:
			out[i] = &rs
		}
	}
	return out
}

func (r *authRecorder) record(method string, key ssh.PublicKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.info = AuthInfo{Method: method, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key)}
}

// recordingSigner is an ssh.Signer that records each signature it makes.
type recordingSigner struct {
	ssh.Signer
	rec    *authRecorder
	method string
}

func (s *recordingSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	sig, err := s.Signer.Sign(rand, data)
	if err == nil {
		s.rec.record(s.method, s.PublicKey())
	}
	return sig, err
}

type algoRecordingSigner struct{ recordingSigner }

func (s *algoRecordingSigner) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	sig, err := s.Signer.(ssh.AlgorithmSigner).SignWithAlgorithm(rand, data, algorithm)
	if err == nil {
		s.rec.record(s.method, s.PublicKey())
	}
	return sig, err
}

type multiAlgoRecordingSigner struct{ algoRecordingSigner }

func (s *multiAlgoRecordingSigner) Algorithms() []string {
	return s.Signer.(ssh.MultiAlgorithmSigner).Algorithms()
}
