package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

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

// Output formats of mljob version.
const (
	formatText = "text"
)

// buildInfo is what mljob version prints.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`   // "" when unknown
	Date      string `json:"date"`     // build (or commit) time, RFC 3339; "" when unknown
	Modified  bool   `json:"modified"` // built from a work tree with uncommitted changes
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"` // GOOS/GOARCH
}

// currentBuildInfo is the build info of this binary.
func currentBuildInfo() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return makeBuildInfo(version, commit, date, bi)
}

// makeBuildInfo fills what the linker flags left empty from bi (which may
// be nil): the module version of a `go install …@vX`, vcs.revision,
// vcs.time and vcs.modified of a build inside a Git work tree.
func makeBuildInfo(version, commit, date string, bi *debug.BuildInfo) buildInfo {
	info := buildInfo{
		Version: version, Commit: commit, Date: date,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi == nil {
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	if (info.Version == "" || info.Version == "dev") && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	var vcsCommit, vcsTime string
	var vcsModified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			vcsCommit = s.Value
		case "vcs.time":
			vcsTime = s.Value
		case "vcs.modified":
			vcsModified = s.Value == "true"
		}
	}
	// The VCS stamp is only trusted for the fields the linker did not set:
	// it describes the tree built, which for a release is the tagged commit
	// anyway, but a -X commit may come from elsewhere (a CI variable).
	if info.Commit == "" {
		info.Commit = vcsCommit
		info.Modified = vcsModified
	}
	if info.Date == "" {
		info.Date = vcsTime
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	return info
}

// writeText prints info for people, one field a line.
func (info buildInfo) writeText(w io.Writer) error {
	unknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	c := unknown(info.Commit)
	if info.Modified {
		c += " (modified)"
	}
	_, err := fmt.Fprintf(w, "mljob %s\ncommit: %s\ndate:   %s\ngo:     %s %s\n",
		info.Version, c, unknown(info.Date), info.GoVersion, info.Platform)
	return err
}

type versionOptions struct {
	app    *app
	output string
	info   func() buildInfo
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
	return info.writeText(out)
}
