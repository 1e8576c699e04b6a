// Package sshworker owns a host: the SSH connection to it (dial, known_hosts,
// agent, one client per host, one session per command), and the run dir
// there — upload to the content-addressed cache, start a run detached, wait
// on it, reattach to it, read its result. A local transport stands behind
// the same Host type for the machine mljob itself runs on.
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
