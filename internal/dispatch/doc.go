// Package dispatch runs the queue: it keeps one connection per host, probes
// each host's boredom, claims the oldest unassigned order of the highest
// priority for every free slot, runs it under the detached run contract and
// records its outcome exactly once. It is the only package that imports db,
// sshworker and pyexec together.
package dispatch
