// Package sshtest starts real OpenSSH sshd daemons on 127.0.0.1 for tests,
// one per simulated host, each with its own host keys, config, log and
// workdir, and a client key and known_hosts file shared by all of them.
//
// Tests that use it run in plain go test. Where sshd is missing they skip
// with a loud reason, or fail when the CI environment variable is set, so a
// CI machine without OpenSSH cannot pass by skipping (see Require).
package sshtest
