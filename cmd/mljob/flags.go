package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/render"
)

// enumValue is a string flag that accepts only its choices.
type enumValue struct {
	value   *string
	name    string
	choices []string
	// mustBe makes a bad value's error the whole message, "--NAME must be
	// one of A, B, not "X"", instead of pflag's "invalid argument ...:
	// valid values are A|B".
	mustBe bool
}

// enumError is a value an enum flag does not take. The root's flag error
// func shows it alone when whole is set.
type enumError struct {
	msg   string
	whole bool
}

func (e *enumError) Error() string { return e.msg }

func (e *enumValue) String() string { return *e.value }
func (e *enumValue) Type() string   { return "string" }
func (e *enumValue) Set(s string) error {
	for _, c := range e.choices {
		if s == c {
			*e.value = s
			return nil
		}
	}
	if e.mustBe {
		return &enumError{msg: fmt.Sprintf("--%s must be one of %s, not %q", e.name, strings.Join(e.choices, ", "), s), whole: true}
	}
	return &enumError{msg: "valid values are " + strings.Join(e.choices, "|")}
}

// addEnumFlag registers a flag that takes only one of choices (anything
// else is a usage error) and completes them in the shell.
func addEnumFlag(cmd *cobra.Command, p *string, name, short string, choices []string, usage string) {
	addEnum(cmd, &enumValue{value: p, name: name, choices: choices}, short, usage)
}

// addEnum registers e as a flag and completes its choices in the shell.
func addEnum(cmd *cobra.Command, e *enumValue, short, usage string) {
	name, choices := e.name, e.choices
	cmd.Flags().VarP(e, name, short, usage)
	_ = cmd.RegisterFlagCompletionFunc(name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return choices, cobra.ShellCompDirectiveNoFileComp
	})
}

// jobIDArg reads the JOB argument of show and metrics: a positive job id.
func jobIDArg(cmd *cobra.Command, arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return 0, usagef(cmd, "JOB must be a job id (a positive integer), not %q", arg)
	}
	return id, nil
}

// addOutputFlag registers --output/-o table|json|csv, completed in the shell.
func addOutputFlag(cmd *cobra.Command, p *string) {
	*p = render.FormatTable
	addEnumFlag(cmd, p, "output", "o", render.Formats, "output format: table|json|csv")
}
