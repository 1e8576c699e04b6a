// Package sshconn is the transport to a host: how a command gets there and
// what comes back. It holds the SSH Client (known_hosts with host key
// algorithms taken from it, @cert-authority, @revoked and hashed lines;
// ssh-agent then identity file, each key after its user certificates; one
// connection per host shared by concurrent sessions, keepalive, redial
// after a loss; the route there: direct, through gateways whose host keys
// are checked like any host's and whose connection the hosts behind them
// share, or through a proxy command),
// the Local transport for the machine mljob runs on, POSIX shell quoting
// of argv, and the errors a dial or a command can end with: an unknown,
// changed or revoked host key, a refused key, a gateway or proxy command
// that failed, a lost connection, an exit status.
//
// It is a package of its own because it is the part of a host that is not
// an engine: sshworker builds the run-dir contract on top of it, and hosts
// check dials and probes through it without the run-dir contract. It knows
// nothing of runs, run dirs or jobs; its errors match the engine
// contract's (engine.ErrConnLost, engine.ErrRefused), so that engines can
// return them as they are.
package sshconn
