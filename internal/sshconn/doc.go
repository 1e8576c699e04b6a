// Package sshconn is the transport to a host: how a command gets there and
// what comes back. It holds the SSH Client (known_hosts with host key
// algorithms taken from it, ssh-agent then identity file, one connection
// per host shared by concurrent sessions, keepalive, redial after a loss),
// the Local transport for the machine mljob runs on, POSIX shell quoting
// of argv, and the errors a dial or a command can end with: an unknown or
// changed host key, a refused key, a lost connection, an exit status.
//
// It is a package of its own because it is the part of a host that is not
// an engine: sshworker builds the run-dir contract on top of it, and hosts
// check dials and probes through it without the run-dir contract. It knows
// nothing of runs, run dirs or jobs; its errors match the engine
// contract's (engine.ErrConnLost, engine.ErrRefused), so that engines can
// return them as they are.
package sshconn
