// Package gpuown holds the one Python copy of the rule that tells
// mljob's compute processes on a host's GPUs from others', and a held
// lease from a free one (gpuown.py: lease_file_held, lease_pids, in_run,
// gpu_use and the nvidia-smi queries they read). Both
// programs mljob runs on a host with python -c, sshworker's agent and
// hostcheck's probe, are this text followed by their own (Prepend), so
// that the dispatcher's probe and mljob hosts check count foreign
// processes alike.
package gpuown

import _ "embed"

//go:embed gpuown.py
var source string

// Prepend returns program with the helpers of gpuown.py before it. The
// helpers import what they use inside each function, so program's own
// imports (and a leading comment) may follow.
func Prepend(program string) string { return source + "\n" + program }
