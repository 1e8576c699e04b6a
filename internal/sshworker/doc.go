// Package sshworker owns the run dir on a host: upload to the
// content-addressed cache, start a run detached (through the host agent or
// the shell scripts), wait on it, reattach to it, read its result, follow
// its output, kill it, probe the host, and prepare runs for a batch
// scheduler. It does all this over an sshconn.Transport, SSH or the local
// machine, which it takes from the caller; the connection itself (dial,
// known_hosts, auth, sessions, quoting) is sshconn's.
//
// It takes argv, files and env and returns run.Results; it knows nothing of
// jobs, orders or the queue.
//
// Layout on a host, under its workdir:
//
//	cache/<sha256>        uploaded scripts and data, one copy per content
//	runs/<id>/            one dir per attempt: job.json, links to cache files,
//	                      pid, stdout, stderr, exit_code (written by the
//	                      wrapper when the script ends, however it ends)
package sshworker
