package sshtest

import "github.com/mljob/mljob/internal/sshconn"

// Config returns the sshconn.Config that reaches s with keys, so that
// every test package dials its simulated hosts the same way.
func (s *Server) Config(keys Keys) sshconn.Config {
	return sshconn.Config{
		Name:         s.Name,
		Address:      s.Host,
		Port:         s.Port,
		User:         keys.User,
		IdentityFile: keys.IdentityFile,
		KnownHosts:   []string{keys.KnownHosts},
	}
}
