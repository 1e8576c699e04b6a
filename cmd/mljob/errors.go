package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/suggest"
)

// userError is an error with advice: main prints "Error: msg" then "Try: hint".
type userError struct {
	msg  string
	hint string
	// err, when set, is the cause, so callers can still test it with
	// errors.Is (e.g. fs.ErrNotExist, errUnknownProject).
	err error
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.err }

func (e *userError) format() string {
	s := "Error: " + e.msg + "\n"
	if e.hint != "" {
		s += "Try: " + e.hint + "\n"
	}
	return s
}

// usageError is a bad command line: main prints it with cmd's usage, or,
// with no cmd, a pointer to mljob --help; exit 2.
type usageError struct {
	err error
	cmd *cobra.Command
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...), cmd: cmd}
}

// flagError is the root's flag error func: a bad flag is a usage error,
// and an enum flag's own message, when whole, replaces pflag's.
func flagError(cmd *cobra.Command, err error) error {
	if ee := (*enumError)(nil); errors.As(err, &ee) && ee.whole {
		err = ee
	}
	return &usageError{err: err, cmd: cmd}
}

// markUsageErrors makes the errors of cmd's and its subcommands' argument
// checks (cobra.ExactArgs, cobra.NoArgs, …) usage errors where they are
// made, so main knows them by type, not by cobra's wording. Flag errors
// are marked by the root's flag error func; an unknown command of the root
// is found in execute.
func markUsageErrors(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			err := check(c, args)
			var ue *usageError
			if err != nil && !errors.As(err, &ue) {
				return &usageError{err: err}
			}
			return err
		}
	}
	for _, sub := range cmd.Commands() {
		markUsageErrors(sub)
	}
}

// unknownSubcommand is the usage error for a command group (subcommands,
// no run function of its own) that cmd is, called with args: cobra checks
// the subcommand only of the root, and runs a group given an unknown one as
// if asked for help, exit 0. Its usage, printed after, lists the valid ones.
func unknownSubcommand(cmd *cobra.Command) error {
	if cmd == nil || !cmd.HasParent() || !cmd.HasSubCommands() || cmd.Runnable() || cmd.Flags().NArg() == 0 {
		return nil
	}
	arg := cmd.Flags().Arg(0)
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, set only where it looks up the root's
	}
	msg := fmt.Sprintf("unknown command %q for %q", arg, cmd.CommandPath())
	if near := cmd.SuggestionsFor(arg); len(near) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(near, "\n\t")
	}
	return &usageError{err: errors.New(msg), cmd: cmd}
}

// quietGroupHelp keeps cobra from printing a group's help for an unknown
// subcommand (see unknownSubcommand), which executeCmd reports instead.
func quietGroupHelp(root *cobra.Command) {
	help := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		if unknownSubcommand(c) == nil {
			help(c, args)
		}
	})
}

// errUnknownProject is the cause of unknownProjectError, for errors.Is.
var errUnknownProject = errors.New("unknown project")

// unknownProjectError is the error for a --project that names no project of
// the queue: it lists the known ones (sorted, duplicates dropped) and, when
// one is a near miss (a typo or another case), offers it first. known is
// what the queue holds, e.g. the distinct Project of db.StateCounts.
func unknownProjectError(project string, known []string) error {
	known = suggest.UniqueSorted(known)
	e := &userError{msg: fmt.Sprintf("no project %q in the queue", project), err: errUnknownProject,
		hint: "known projects: " + strings.Join(known, ", ")}
	if near := suggest.Nearest(project, known); near != "" {
		e.hint = fmt.Sprintf("--project %s (%s)", near, e.hint)
	}
	if len(known) == 0 {
		e.hint = "the queue is empty: submit jobs first, e.g. mljob submit examples/wine_data/*.json"
	}
	return e
}
