package sshworker

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrUnknownHost means the host's key is in none of the known_hosts files.
// mljob never trusts a key on first use: the user adds it (see
// HostKeyError.Hint).
var ErrUnknownHost = errors.New("host key not known")

// ErrHostKeyChanged means known_hosts holds a different key for the host.
// That may be a reinstall or an attack, so it is never accepted
// automatically.
var ErrHostKeyChanged = errors.New("host key changed")

// ErrAuth means the server refused every key offered (agent and identity
// file).
var ErrAuth = errors.New("ssh authentication failed")

// ErrConnLost means the connection dropped, or the command ended without an
// exit status. The outcome of the remote command is unknown, not failed:
// a detached run may still be going, and the caller reattaches from its
// run dir.
var ErrConnLost = errors.New("ssh connection lost")

// HostKeyError carries what the user needs to fix a host-key problem. It
// unwraps to ErrUnknownHost or ErrHostKeyChanged.
type HostKeyError struct {
	Host        string // name from the hosts file
	Address     string // host:port as written in known_hosts: "[127.0.0.1]:2222", or "gpu1" for port 22
	KnownHosts  string // the file to add the key to, or that holds the old key when Changed
	Fingerprint string // SHA256:... of the key the server offered
	KeyType     string // type of the offered key, e.g. "ssh-ed25519"
	Changed     bool   // known_hosts holds another key for Address
	Line        int    // line of the old key in KnownHosts when Changed
}

// Error says which key was offered and why it is not trusted.
func (e *HostKeyError) Error() string {
	if e.Changed {
		return fmt.Sprintf("host key for %s has CHANGED: %s:%d holds another key (offered %s %s)",
			e.Address, e.KnownHosts, e.Line, e.KeyType, e.Fingerprint)
	}
	return fmt.Sprintf("host key for %s is not in %s (%s %s)", e.Address, e.KnownHosts, e.KeyType, e.Fingerprint)
}

// Unwrap returns ErrHostKeyChanged or ErrUnknownHost, so callers branch
// with errors.Is.
func (e *HostKeyError) Unwrap() error {
	if e.Changed {
		return ErrHostKeyChanged
	}
	return ErrUnknownHost
}

// Hint returns the shell command that fixes the problem, ready to copy and
// paste; every argument is quoted with Quote.
func (e *HostKeyError) Hint() string {
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
// signal (Code is then 128+signal number, as a shell reports it).
type ExitError struct {
	Code   int
	Signal string // signal name without "SIG", e.g. "KILL"; "" for a normal exit
}

// Error reports the exit status or the signal.
func (e *ExitError) Error() string {
	if e.Signal != "" {
		return fmt.Sprintf("remote command killed by signal %s (status %d)", e.Signal, e.Code)
	}
	return fmt.Sprintf("remote command exited with status %d", e.Code)
}
