// Package hosts owns the hosts file: it parses and validates hosts.yaml,
// applies the file's defaults to every host, and resolves each address
// through OpenSSH's own configuration (`ssh -G`), so a host entry may name
// an alias from ~/.ssh/config.
//
// An entry is of kind ssh (a machine that runs jobs itself) or slurm (a
// login node that hands them to Slurm with sbatch, reached over SSH or, with
// local: true, this machine itself).
//
// The result is a list of fully resolved Host values: the dispatcher and the
// SSH worker read them and never look at the YAML, the defaults or the ssh
// config again. Every problem in a file is reported as "PATH:LINE: message",
// all of them at once and sorted by line, because a researcher fixing a
// hosts file wants the whole list, not one error per run.
//
// The package imports nothing else of the project but sbatchopt, the slurm
// engine's rules for the sbatch options an entry may give.
package hosts
