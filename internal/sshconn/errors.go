package sshconn

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/engine"
)

// ErrUnknownHost means the host's key is in none of the known_hosts files.
// mljob never trusts a key on first use: the user adds it (see
// HostKeyError.Hint).
var ErrUnknownHost = errors.New("host key not known")

// ErrHostKeyChanged means known_hosts holds a different key for the host.
// That may be a reinstall or an attack, so it is never accepted
// automatically.
var ErrHostKeyChanged = errors.New("host key changed")

// ErrHostKeyRevoked means known_hosts lists the key the host offered, or
// the CA that signed its certificate, as @revoked. Nothing but a new key
// fixes that.
var ErrHostKeyRevoked = errors.New("host key revoked")

// ErrAuth means the server refused every key offered (agent and identity
// file).
// It matches engine.ErrRefused.
var ErrAuth = engine.Mark("ssh authentication failed", engine.ErrRefused)

// ErrConnLost means the connection dropped, or the command ended without an
// exit status. The outcome of the remote command is unknown, not failed:
// a detached run may still be going, and the caller reattaches from its
// run dir.
// It matches engine.ErrConnLost.
var ErrConnLost = engine.Mark("ssh connection lost", engine.ErrConnLost)

// HostKeyError carries what the user needs to fix a host-key problem. It
// unwraps to ErrUnknownHost or ErrHostKeyChanged.
type HostKeyError struct {
	Host        string // name from the hosts file
	Address     string // host:port as written in known_hosts: "[127.0.0.1]:2222", or "gpu1" for port 22
	KnownHosts  string // the file to add the key to, or that holds the old key when Changed
	Fingerprint string // SHA256:... of the key the server offered
	KeyType     string // type of the offered key, e.g. "ssh-ed25519"
	Changed     bool   // known_hosts holds another key for Address
	Revoked     bool   // known_hosts lists the key, or its CA, as @revoked
	Line        int    // line of the old key in KnownHosts when Changed, of the @revoked line when Revoked

	// CA is the SHA256 fingerprint of the CA that signed the host
	// certificate offered; "" for a plain key.
	CA string
	// CertProblem says why no @cert-authority line accepted the host
	// certificate offered (x/crypto's words); "" for a plain key.
	CertProblem string
}

// Error says which key was offered and why it is not trusted.
func (e *HostKeyError) Error() string {
	if e.Revoked {
		return fmt.Sprintf("host key for %s is REVOKED: %s:%d lists it, or the CA that signed it, as @revoked (offered %s %s)",
			e.Address, e.KnownHosts, e.Line, e.KeyType, e.Fingerprint)
	}
	if e.CertProblem != "" {
		return fmt.Sprintf("host certificate for %s is not accepted by %s: %s (offered %s %s signed by CA %s)",
			e.Address, e.KnownHosts, e.CertProblem, e.KeyType, e.Fingerprint, e.CA)
	}
	if e.Changed {
		return fmt.Sprintf("host key for %s has CHANGED: %s:%d holds another key (offered %s %s)",
			e.Address, e.KnownHosts, e.Line, e.KeyType, e.Fingerprint)
	}
	return fmt.Sprintf("host key for %s is not in %s (%s %s)", e.Address, e.KnownHosts, e.KeyType, e.Fingerprint)
}

// Is makes a HostKeyError match engine.ErrRefused: the host answers but
// is not trusted.
func (e *HostKeyError) Is(target error) bool { return target == engine.ErrRefused }

// Why says in a few words why the host is refused.
func (e *HostKeyError) Why() string {
	if e.Revoked {
		return "its host key is revoked"
	}
	if e.Changed {
		return "its host key changed"
	}
	return "its host key is not known"
}

// Unwrap returns ErrHostKeyChanged or ErrUnknownHost, so callers branch
// with errors.Is.
func (e *HostKeyError) Unwrap() error {
	if e.Revoked {
		return ErrHostKeyRevoked
	}
	if e.Changed {
		return ErrHostKeyChanged
	}
	return ErrUnknownHost
}

// AuthError is ErrAuth with how the host was dialled, to say how to check
// the key. It unwraps to ErrAuth.
type AuthError struct {
	err error
	cfg Config
}

// Error says what was offered and refused, as the wrapped error does.
func (e *AuthError) Error() string { return e.err.Error() }

// Unwrap returns the error wrapping ErrAuth, so callers branch with
// errors.Is.
func (e *AuthError) Unwrap() error { return e.err }

// Why says in a few words why the host is refused.
func (e *AuthError) Why() string { return "it refused our key" }

// Hint is the command that shows whether the host accepts our key, the
// first step of fixing a refused one.
func (e *AuthError) Hint() string {
	argv := []string{"ssh"}
	if e.cfg.Port != 0 && e.cfg.Port != DefaultPort {
		argv = append(argv, "-p", strconv.Itoa(e.cfg.Port))
	}
	if e.cfg.IdentityFile != "" {
		argv = append(argv, "-i", e.cfg.IdentityFile)
	}
	target := e.cfg.Address
	if e.cfg.User != "" {
		target = e.cfg.User + "@" + e.cfg.Address
	}
	argv = append(argv, target, "true")
	return "check that your key is in the host's authorized_keys (for identity_file, or ssh-agent): " + QuoteCommand(argv)
}

// Hint returns the shell command that fixes the problem, ready to copy and
// paste; every argument is quoted with Quote.
func (e *HostKeyError) Hint() string {
	if e.Revoked {
		return "do not trust this host until its admin gives it a new key (or a certificate from a CA that is not revoked); the @revoked line is " +
			Quote(e.KnownHosts) + ":" + strconv.Itoa(e.Line)
	}
	if e.CertProblem != "" {
		return "check with the host's admin that CA " + e.CA + " signs its host keys, then add a line '@cert-authority " +
			e.Address + " <the CA's public key>' to " + Quote(e.KnownHosts)
	}
	if e.Changed {
		return "if the host was really reinstalled: ssh-keygen -R " + Quote(e.Address) +
			" -f " + Quote(e.KnownHosts) + ", then verify and add the new key"
	}
	host, port := splitKnownHostsAddress(e.Address)
	argv := []string{"ssh-keyscan"}
	if port != "22" {
		argv = append(argv, "-p", port)
	}
	if t := keyscanType(e.KeyType); t != "" {
		argv = append(argv, "-t", t)
	}
	argv = append(argv, host)
	return "check the fingerprint, then: " + QuoteCommand(argv) + " >> " + Quote(e.KnownHosts)
}

// splitKnownHostsAddress undoes knownhosts.Normalize: "[h]:p" gives h, p;
// a bare host means port 22.
func splitKnownHostsAddress(addr string) (host, port string) {
	if strings.HasPrefix(addr, "[") {
		if h, p, err := net.SplitHostPort(addr); err == nil {
			return h, p
		}
	}
	return addr, "22"
}

// keyscanType maps an SSH key type to the name ssh-keyscan -t takes.
func keyscanType(keyType string) string {
	switch {
	case keyType == "ssh-ed25519":
		return "ed25519"
	case keyType == "ssh-rsa":
		return "rsa"
	case strings.HasPrefix(keyType, "ecdsa-sha2-"):
		return "ecdsa"
	default:
		return ""
	}
}

// ExitError is a remote command that ran and exited non-zero, or died by a
// signal: the engine contract's.
type ExitError = engine.ExitError
