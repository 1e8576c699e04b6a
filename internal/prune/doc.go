// Package prune owns a sweep's pruner: the rule (Rule: ASHA or median, as
// a sweep file's `pruner:` key or `submit --pruner` gives it, stored as
// JSON with the job) and the verdict on one reported point of a run
// (Rule.ASHA, Rule.Median), made by Optuna's rules exactly, so that a
// sweep pruned by mljob prunes the runs Optuna would: ASHA is Optuna's
// SuccessiveHalvingPruner, median its MedianPruner (percentile 50, one
// step per check, one run at a step enough). A parity test replays the
// same interleaved reports through these functions and through Optuna.
//
// The package is pure: the caller reads the study's rung values and
// completed curves, passes them in, and stores what a Decision says to
// store (its Records). It does no I/O.
package prune
