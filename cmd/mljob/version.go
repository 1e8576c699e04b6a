package main

import (
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/buildinfo"
	"github.com/mljob/mljob/internal/render"
)

// Set at build time by goreleaser and `make build`:
//
//	-ldflags "-X main.version=1.2.3 -X main.commit=<sha> -X main.date=<RFC 3339>"
//
// A plain `go build` leaves commit and date empty; they then come from the
// VCS stamp Go embeds in the binary (runtime/debug.ReadBuildInfo).
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// formatText is mljob version's output for people; -o json is the other.
const formatText = "text"

// currentBuildInfo is the build info of this binary.
func currentBuildInfo() buildinfo.Info {
	bi, _ := debug.ReadBuildInfo()
	return buildinfo.Make(version, commit, date, bi)
}

type versionOptions struct {
	app    *app
	output string
	info   func() buildinfo.Info
}

func newVersionCmd(a *app) *cobra.Command {
	opts := &versionOptions{app: a, output: formatText, info: currentBuildInfo}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Long: `Version prints the version of mljob, the Git commit it was built from, the
build date, and the Go version and platform. Release builds carry all three;
a plain go build takes the commit and date from the Git stamp Go embeds.

Exit codes: 0 ok, 2 usage error.`,
		Example: `  mljob version
  mljob version -o json`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{annotationNoConfig: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVersion(opts)
		},
	}
	addEnumFlag(cmd, &opts.output, "output", "o", []string{formatText, render.FormatJSON}, "output format: text|json")
	return cmd
}

func runVersion(opts *versionOptions) error {
	info := opts.info()
	out := opts.app.io.Out
	if opts.output == render.FormatJSON {
		return render.JSON(out, info)
	}
	return info.WriteText(out)
}
