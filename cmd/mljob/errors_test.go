package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestUnknownProjectError(t *testing.T) {
	tests := []struct {
		name     string
		project  string
		known    []string
		wantMsg  string
		wantHint string
	}{
		{
			name: "lists the known projects, sorted, once each", project: "nope",
			known:    []string{"wine_data", "mnist", "wine_data", ""},
			wantMsg:  `no project "nope" in the queue`,
			wantHint: "known projects: mnist, wine_data",
		},
		{
			name: "a typo is offered first", project: "wine_dta",
			known:    []string{"mnist", "wine_data"},
			wantMsg:  `no project "wine_dta" in the queue`,
			wantHint: "--project wine_data (known projects: mnist, wine_data)",
		},
		{
			name: "another case is offered first", project: "MNIST",
			known:    []string{"cifar", "mnist"},
			wantMsg:  `no project "MNIST" in the queue`,
			wantHint: "--project mnist (known projects: cifar, mnist)",
		},
		{
			name: "far from all: no suggestion", project: "imagenet",
			known:    []string{"mnist"},
			wantMsg:  `no project "imagenet" in the queue`,
			wantHint: "known projects: mnist",
		},
		{
			name: "empty queue", project: "wine_data",
			wantMsg:  `no project "wine_data" in the queue`,
			wantHint: "the queue is empty: submit jobs first, e.g. mljob submit examples/wine_data/*.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := unknownProjectError(tt.project, tt.known)
			if !errors.Is(err, errUnknownProject) {
				t.Error("errors.Is(err, errUnknownProject) = false")
			}
			var ue *userError
			if !errors.As(err, &ue) {
				t.Fatalf("%T is not a *userError", err)
			}
			if ue.msg != tt.wantMsg || ue.hint != tt.wantHint {
				t.Errorf("got %q / %q\nwant %q / %q", ue.msg, ue.hint, tt.wantMsg, tt.wantHint)
			}
			if want := "Error: " + tt.wantMsg + "\nTry: " + tt.wantHint + "\n"; ue.format() != want {
				t.Errorf("format() = %q, want %q", ue.format(), want)
			}
		})
	}
}

// TestUsageErrorsByType checks that main tells a usage error by its type,
// marked where cobra made it, not by its wording: a command's own error that
// reads like cobra's is an error (1), and cobra's argument and command
// errors are still usage errors (2).
func TestUsageErrorsByType(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		runErr     error // what the version command returns instead of running
		wantCode   int
		wantStderr string
	}{
		{"a run error worded like a count of args", []string{"version"}, errors.New("accepts 2 arg(s), received 3"),
			exitError, "Error: accepts 2 arg(s), received 3\n"},
		{"a run error worded like a flag error", []string{"version"}, errors.New("unknown flag: --x in job.json"),
			exitError, "Error: unknown flag: --x in job.json\n"},
		{"a run error worded like a command error", []string{"version"}, errors.New(`unknown command "x" in the script`),
			exitError, "Error: unknown command \"x\" in the script\n"},
		{"too many args", []string{"show", "1", "2"}, nil,
			exitUsage, "Error: accepts 1 arg(s), received 2\nRun 'mljob --help' for usage.\n"},
		{"args to a command that takes none", []string{"version", "x"}, nil,
			exitUsage, "Error: unknown command \"x\" for \"mljob version\"\nRun 'mljob --help' for usage.\n"},
		{"an unknown command", []string{"frobnicate"}, nil,
			exitUsage, "Error: unknown command \"frobnicate\" for \"mljob\"\nRun 'mljob --help' for usage.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut strings.Builder
			a := &app{io: ioStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}}
			root := newRootCmd(a)
			if tt.runErr != nil {
				version, _, err := root.Find([]string{"version"})
				if err != nil {
					t.Fatal(err)
				}
				version.RunE = func(*cobra.Command, []string) error { return tt.runErr }
			}
			code := executeCmd(context.Background(), a, root, tt.args)
			if code != tt.wantCode || errOut.String() != tt.wantStderr {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", code, errOut.String(), tt.wantCode, tt.wantStderr)
			}
		})
	}
}

// TestUnknownSubcommandOfEveryGroup walks the command tree: every command
// group (subcommands, no run function of its own) given an unknown
// subcommand exits 2 naming it, as the root does, and prints nothing on
// stdout.
func TestUnknownSubcommandOfEveryGroup(t *testing.T) {
	n := 0
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.HasParent() || !c.HasSubCommands() || c.Runnable() {
			return
		}
		n++
		path := strings.Fields(c.CommandPath())[1:]
		t.Run(c.CommandPath(), func(t *testing.T) {
			out, errOut, code := runInProcess(t, append(path, "bogus")...)
			want := fmt.Sprintf("Error: unknown command \"bogus\" for %q\n", c.CommandPath())
			if code != exitUsage || out != "" || !strings.HasPrefix(errOut, want) {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit %d, no stdout, stderr starting %q", code, out, errOut, exitUsage, want)
			}
		})
	}
	walk(newRootCmd(&app{}))
	if n == 0 {
		t.Error("no command group found; hosts is one")
	}
}
