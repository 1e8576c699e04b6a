// Package slurm hands runs to Slurm: a host entry of kind slurm names a
// login node (reached over SSH, or this machine), and its runs go to the
// cluster as sbatch arrays instead of being started one by one.
//
// The run contract is the one of SSH hosts (see sshworker): each attempt
// gets a run dir on the cluster's shared filesystem, prepared over the
// login node's one connection with the same cache of scripts and data; an
// array task (sshworker.BatchTaskScript) takes the run dir's start token and
// becomes the same wrapper, which writes exit_code however the script ends.
// So a run dir is read back, followed and fenced the same way wherever it
// ran.
//
// What Slurm adds is a second witness: squeue (and sacct, where accounting
// is on) says whether a task waits, runs or ended, and how (TIMEOUT,
// NODE_FAIL, PREEMPTED, CANCELLED, ...). Completion comes from the run
// dir's exit code, checked against Slurm's state; a task Slurm ended
// without an exit code is reported lost.
//
// One poll per interval asks about every run in flight, in one session, so
// two hundred runs cost one command a tick, not two hundred sessions.
package slurm
