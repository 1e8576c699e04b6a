// Package slurmtest starts a real single-node Slurm cluster for tests: a
// munged, a slurmctld and a slurmd, in the foreground, as root, without
// systemd, with their config, key, state, spool and logs in a t.TempDir and
// their ports free loopback ports, so that several clusters, or a system
// Slurm, never clash.
//
// Tests that use it run in plain go test. Where Slurm or MUNGE is missing,
// or the test does not run as root, they skip with a loud reason, or fail
// when the CI environment variable is set, so a CI machine without them
// cannot pass by skipping (see Require).
package slurmtest
