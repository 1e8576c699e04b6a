package main

import (
	"github.com/spf13/cobra"
)

// newReportCmd builds `mljob report`.
func newReportCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "report",
		Short: "Write an HTML report comparing a project's runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef(cmd, "report is not written yet")
		},
	}
}
