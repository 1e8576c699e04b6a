// Package buildinfo says which build of mljob is running: the version,
// commit and date the release build's linker flags set, completed from the
// VCS stamp and module version Go embeds in every binary, so that a plain
// `go build` or a `go install …@vX` still says where it came from.
package buildinfo

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Info is what mljob version prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`   // "" when unknown
	Date      string `json:"date"`     // build (or commit) time, RFC 3339; "" when unknown
	Modified  bool   `json:"modified"` // built from a work tree with uncommitted changes
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"` // GOOS/GOARCH
}

// Make fills what the linker flags (version, commit, date) left empty from
// bi (which may be nil): the module version of a `go install …@vX`,
// vcs.revision, vcs.time and vcs.modified of a build inside a Git work tree.
func Make(version, commit, date string, bi *debug.BuildInfo) Info {
	info := Info{
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

// WriteText prints info for people, one field a line.
func (info Info) WriteText(w io.Writer) error {
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
