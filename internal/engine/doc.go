// Package engine is the boundary between the dispatcher and the hosts that
// run its runs: the Engine interface and its contract (start and wait,
// attach, kill, probe, output), the contract's errors (ErrConnLost,
// ErrNotStarted, ErrRunDirUsed, ErrRefused), and the registry of engine
// kinds (Register, Open), which the engines package fills. The dispatcher
// knows a host only through an Engine: it imports no engine's package.
//
// enginetest holds the conformance suite every engine passes.
package engine
