package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasHelp walks the command tree: every runnable command
// has a Short without a full stop, a Long, and an Example section that
// --help prints, each example line starting with "  mljob" (or a shell
// line that runs it).
func TestEveryCommandHasHelp(t *testing.T) {
	root := newRootCmd(&app{})
	var walk func(*cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c.Hidden || c == root {
			return
		}
		n++
		t.Run(c.CommandPath(), func(t *testing.T) {
			if c.Short == "" || strings.HasSuffix(c.Short, ".") {
				t.Errorf("Short %q: want a sentence-case line without a full stop", c.Short)
			}
			if c.Long == "" {
				t.Error("no Long help")
			}
			if !strings.Contains(c.Long, "Exit codes:") {
				t.Error("Long does not list the exit codes")
			}
			if strings.TrimSpace(c.Example) == "" {
				t.Fatal("no Example")
			}
			for _, line := range strings.Split(c.Example, "\n") {
				if !strings.HasPrefix(line, "  ") || !strings.Contains(line, "mljob") {
					t.Errorf("example line %q: want it indented two spaces and running mljob", line)
				}
			}
			if !strings.Contains(c.UsageString(), "Examples:\n"+c.Example) {
				t.Error("--help does not show the examples")
			}
		})
	}
	walk(root)
	if n < 10 {
		t.Errorf("walked %d commands; the tree has more", n)
	}
}

// TestReportHelpNamesItsSections checks that report's --help names every
// part of the page, the later ones included.
func TestReportHelpNamesItsSections(t *testing.T) {
	root := newRootCmd(&app{})
	cmd, _, err := root.Find([]string{"report"})
	if err != nil || cmd.Name() != "report" {
		t.Fatalf("find report: %v, %v", cmd, err)
	}
	for _, word := range []string{"learning curves", "optimisation history", "importance", "against cost",
		"replicate groups", "artifacts", "code", "failures"} {
		if !strings.Contains(cmd.Long, word) {
			t.Errorf("report's Long help does not mention %q", word)
		}
	}
}
