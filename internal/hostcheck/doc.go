// Package hostcheck answers "will my runs work on this host?" before a
// dispatch: for each host of a hosts file (or this machine) it connects as
// the dispatcher would, then runs one small Python program with the host's
// interpreter that reports the version, which of the scripts' imports
// resolve, the load, the free disk under the workdir and the GPUs. Every
// problem found comes with the fix to apply.
//
// It imports hosts and sshworker, never the database: `mljob hosts check`
// works on a fresh laptop with an empty queue.
package hostcheck
