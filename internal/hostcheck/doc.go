// Package hostcheck answers "will my runs work on this host?" before a
// dispatch: for each host of a hosts file (or this machine) it connects as
// the dispatcher would, then runs one small Python program with the host's
// interpreter that reports the version, the load, the free disk under the
// workdir and the GPUs, and beside it pyexec's module check, the one the
// dispatcher runs before a script's first run on a host: which of the
// scripts' imports resolve, their versions and, where nvidia-smi is,
// whether torch sees CUDA. Every problem found comes with the fix to apply.
//
// For an entry of kind slurm the host is its login node (over SSH, or this
// machine with local: true). Besides the Python program, one shell program
// runs there with the entry's env exported, as every Slurm command of the
// dispatcher is: it finds sbatch, squeue and scancel, asks the controller,
// sacct and sinfo, and reports Slurm's version. Load and GPUs of the login
// node are not reported: Slurm picks the nodes. Whether the workdir is on a
// filesystem the compute nodes share is beyond what a check can see.
//
// It dials with engines.SSHConfig, so it connects exactly as the
// dispatcher does (through the entry's gateways or proxy command, whose
// route each report shows; a gateway that fails is named, with its own
// fix), and never opens the database: `mljob hosts check` works
// on a fresh laptop with an empty queue.
package hostcheck
