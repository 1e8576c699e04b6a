package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// userError is an error with advice: main prints "Error: msg" then "Try: hint".
type userError struct {
	msg  string
	hint string
}

func (e *userError) Error() string { return e.msg }

func (e *userError) format() string {
	s := "Error: " + e.msg + "\n"
	if e.hint != "" {
		s += "Try: " + e.hint + "\n"
	}
	return s
}

// usageError is a bad command line: main prints it with the usage, exit 2.
type usageError struct {
	err error
	cmd *cobra.Command
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...), cmd: cmd}
}

// isCobraUsage spots the errors cobra returns for an unknown command or flag
// and for a wrong number of arguments (cobra.ExactArgs: "accepts N arg(s)").
func isCobraUsage(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") || strings.HasPrefix(err.Error(), "accepts ")
}
