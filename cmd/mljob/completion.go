package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/complete"
	"github.com/mljob/mljob/internal/db"
)

// completionShells are the shells cobra writes completion scripts for.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// newCompletionCmd replaces cobra's default completion command with one
// documented like the others: it takes the shell as its argument, and a
// wrong one is a usage error (exit 2).
func newCompletionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script",
		Long: `Completion prints a script that makes your shell complete mljob's commands,
flags and flag values (e.g. -o table|json|csv, --sort), and from the queue:
--project, --sweep, and the ids of show, logs, cancel and retry. Load it once
per session, or install it as below so every new shell has it.

Bash (needs the bash-completion package):
  mljob completion bash > ~/.local/share/bash-completion/completions/mljob

Zsh (compinit must be on; the directory must be in $fpath):
  mljob completion zsh > "${fpath[1]}/_mljob"

Fish:
  mljob completion fish > ~/.config/fish/completions/mljob.fish

PowerShell:
  mljob completion powershell | Out-String | Invoke-Expression

Exit codes: 0 ok, 2 usage error (e.g. an unknown shell).`,
		Example: `  source <(mljob completion bash)
  mljob completion zsh > "${fpath[1]}/_mljob"
  mljob completion fish | source`,
		ValidArgs:             completionShells,
		DisableFlagsInUseLine: true,
		Annotations:           map[string]string{annotationNoConfig: "true"},
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)(cmd, args); err != nil {
				return &usageError{err: err, cmd: cmd}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			var err error
			switch args[0] {
			case "bash":
				err = root.GenBashCompletionV2(out, true)
			case "zsh":
				err = root.GenZshCompletion(out)
			case "fish":
				err = root.GenFishCompletion(out, true)
			case "powershell":
				err = root.GenPowerShellCompletionWithDesc(out)
			}
			if err != nil {
				return fmt.Errorf("write %s completion: %w", args[0], err)
			}
			return nil
		},
	}
}

// Completion reads the queue to offer what exists: projects, sweeps, and
// job or order ids. It never creates a queue, and gives up quietly (no
// suggestions) when the queue cannot be read in completionTimeout.
const (
	completionTimeout = 2 * time.Second
	completionMaxIDs  = 200 // the newest ids offered
)

// registerCompletions adds the completions that read the queue to root's
// commands: --project, --sweep, and the ids each command takes.
func registerCompletions(a *app, root *cobra.Command) {
	active := []db.OrderState{db.StateUnassigned, db.StateAssigned, db.StateRunning}
	ended := []db.OrderState{db.StateFailed, db.StateCancelled, db.StatePruned}
	for _, cmd := range root.Commands() {
		if cmd.Flags().Lookup("project") != nil {
			_ = cmd.RegisterFlagCompletionFunc("project", a.completeProjects)
		}
		switch cmd.Name() {
		case "outcomes", "report":
			_ = cmd.RegisterFlagCompletionFunc("sweep", a.completeSweeps)
		case "show", "metrics":
			cmd.ValidArgsFunction = a.completeIDs(false, true)
		case "logs":
			cmd.ValidArgsFunction = a.completeIDs(true, true)
		case "cancel":
			cmd.ValidArgsFunction = a.completeIDs(false, false, active...)
		case "retry":
			cmd.ValidArgsFunction = a.completeIDs(false, false, ended...)
		}
	}
}

// fromQueue offers what list finds in the queue the command would use
// (--db, MLJOB_DB, the config file, the default), within completionTimeout.
// No queue, no suggestions: completing never creates one.
func (a *app) fromQueue(cmd *cobra.Command, list func(context.Context, *db.DB) []string) ([]string, cobra.ShellCompDirective) {
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	defer cancel()
	_ = a.applyConfig(cmd) // resolves the db path; other settings' problems do not matter here
	path, err := a.dbFile()
	if err == nil {
		_, err = os.Stat(path)
	}
	var store *db.DB
	if err == nil {
		store, err = db.Open(ctx, path)
	}
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer store.Close()
	return list(ctx, store), cobra.ShellCompDirectiveNoFileComp
}

// completeProjects offers the queue's projects.
func (a *app) completeProjects(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return a.fromQueue(cmd, func(ctx context.Context, store *db.DB) []string {
		projects, _ := store.Projects(ctx)
		return complete.Projects(projects, toComplete)
	})
}

// completeSweeps offers the sweeps' names (those of --project, when given),
// each described by its id, project and size.
func (a *app) completeSweeps(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return a.fromQueue(cmd, func(ctx context.Context, store *db.DB) []string {
		project, _ := cmd.Flags().GetString("project")
		sweeps, _ := store.Sweeps(ctx)
		return complete.Sweeps(sweeps, project, toComplete)
	})
}

// completeIDs offers the newest job ids (order ids when orders, or with
// --order), each described by its project, script and state; with states,
// only the jobs whose order is in one of them. one: the command takes a
// single id.
func (a *app) completeIDs(orders, one bool, states ...db.OrderState) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if one && len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return a.fromQueue(cmd, func(ctx context.Context, store *db.DB) []string {
			byOrder, err := cmd.Flags().GetBool("order")
			jobs, _ := store.RecentJobs(ctx, completionMaxIDs, states...)
			return complete.IDs(jobs, orders || (err == nil && byOrder), toComplete)
		})
	}
}
