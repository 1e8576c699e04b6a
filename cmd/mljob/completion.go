package main

import (
	"fmt"

	"github.com/spf13/cobra"
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
flags and flag values (e.g. -o table|json|csv, --sort). Load it once per
session, or install it as below so every new shell has it.

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
