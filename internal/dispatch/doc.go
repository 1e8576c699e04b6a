// Package dispatch runs the queue: it keeps one engine per host (see
// package engine; opened by the host's kind), probes each host's boredom,
// claims the oldest unassigned order of the highest priority for every
// free slot, runs it under the detached run contract and records its
// outcome exactly once. It is the only package that imports db, engine and
// pyexec together, and it imports no engine: a host is an engine.Engine.
package dispatch
