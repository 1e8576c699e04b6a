package sshtest

import (
	"os"
	"testing"
)

// RotateHostKey gives the daemon a new ed25519 host key, as a reinstalled
// host (or an attacker in the middle) would show: the daemon crashes (its
// runs go on, see Crash) and restarts with the new key on the same port.
// Clients checking known_hosts now see a changed key. The returned func
// puts the old key back the same way, as when the host's real key is
// restored; HostPublicKey and the known_hosts lines keep the old key
// throughout.
func (s *Server) RotateHostKey(tb testing.TB) (restore func()) {
	tb.Helper()
	path := s.hostKeyFile("ed25519")
	saved := path + ".saved"
	s.Crash()
	for _, ext := range []string{"", ".pub"} {
		if err := os.Rename(path+ext, saved+ext); err != nil {
			tb.Fatalf("sshtest: rotate %s's host key: %v", s.Name, err)
		}
	}
	MustKeygen(tb, path, "ed25519", "")
	s.Restart(tb)
	return func() {
		tb.Helper()
		s.Crash()
		for _, ext := range []string{"", ".pub"} {
			if err := os.Rename(saved+ext, path+ext); err != nil {
				tb.Fatalf("sshtest: restore %s's host key: %v", s.Name, err)
			}
		}
		s.Restart(tb)
	}
}
