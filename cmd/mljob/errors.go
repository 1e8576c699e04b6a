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

// errUnknownProject is the cause of unknownProjectError, for errors.Is.
var errUnknownProject = errors.New("unknown project")

// unknownProjectError is the error for a --project that names no project of
// the queue: it lists the known ones (sorted, duplicates dropped) and, when
// one is a near miss (a typo or another case), offers it first. known is
// what the queue holds, e.g. the distinct Project of db.StateCounts.
func unknownProjectError(project string, known []string) error {
	known = suggest.UniqueSorted(known)
	e := &userError{msg: fmt.Sprintf("no project %q in the queue", project), err: errUnknownProject}
	switch {
	case len(known) == 0:
		e.hint = "the queue is empty: submit jobs first, e.g. mljob submit examples/wine_data/*.json"
	default:
		e.hint = "known projects: " + strings.Join(known, ", ")
		if near := suggest.Nearest(project, known); near != "" {
			e.hint = fmt.Sprintf("--project %s (known projects: %s)", near, strings.Join(known, ", "))
		}
	}
	return e
}
