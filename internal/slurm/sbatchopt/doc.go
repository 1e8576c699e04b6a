// Package sbatchopt holds the rules for the sbatch options a hosts file may
// give a slurm entry: the options mljob sets itself when it submits an array
// (refused from the file, with the reason), and the shape of one option word.
//
// The rules belong to the slurm engine, whose submit script sets those
// options, so they live beside it; a test there checks that every option the
// script sets is refused here. They sit in a package of their own because the
// hosts file's parser needs them and may not import the engine: internal/slurm
// imports internal/engine, which imports internal/hosts.
//
// The package imports nothing else of the project.
package sbatchopt
