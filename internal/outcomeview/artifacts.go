package outcomeview

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/artifacts"
	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/render"
)

// Artifact is one file of an attempt's artifacts as show prints it; its
// state is mljob artifacts' word: home, pending (a dispatch will fetch
// it) or over-cap (the run's total passed its cap: none copied).
type Artifact struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	State  string `json:"state"`
}

// AttemptArtifacts are an attempt's artifacts: the fetch's state
// (db.FetchState) and why they are not home, when they are not.
type AttemptArtifacts struct {
	State string     `json:"state"`
	Error string     `json:"error,omitempty"`
	Files []Artifact `json:"files"`
}

// newArtifacts keys the job's fetches by order and attempt.
func newArtifacts(fs []db.AttemptFetch) map[[2]int64]*AttemptArtifacts {
	out := make(map[[2]int64]*AttemptArtifacts, len(fs))
	for _, f := range fs {
		a := &AttemptArtifacts{State: string(f.State), Error: f.Error, Files: make([]Artifact, 0, len(f.Files))}
		for _, x := range f.Files {
			st := "pending"
			switch {
			case x.Done:
				st = "home"
			case f.State == db.FetchOverCap:
				st = "over-cap"
			}
			a.Files = append(a.Files, Artifact{Path: x.Path, Size: x.Size, SHA256: x.SHA256, State: st})
		}
		out[[2]int64{f.OrderID, int64(f.Attempt)}] = a
	}
	return out
}

// artifactsCell is an attempt's artifacts in one CSV cell: "path size
// state" per file, joined by "; ".
func artifactsCell(a *AttemptArtifacts) string {
	if a == nil {
		return ""
	}
	parts := make([]string, len(a.Files))
	for i, f := range a.Files {
		parts[i] = f.Path + " " + strconv.FormatInt(f.Size, 10) + " " + f.State
	}
	return strings.Join(parts, "; ")
}

// writeArtifacts writes, after a blank line, each attempt's artifacts as a
// table (path, size, state), headed by the fetch's state; nothing for a
// job whose attempts have none.
func (j *Job) writeArtifacts(w io.Writer) error {
	for _, a := range j.Attempts {
		if a.Artifacts == nil || len(a.Artifacts.Files) == 0 && a.Artifacts.Error == "" {
			continue
		}
		fmt.Fprintf(w, "\nArtifacts of order %d attempt %d (%s):\n", a.OrderID, a.Attempt, a.Artifacts.State)
		if a.Artifacts.Error != "" {
			fmt.Fprintf(w, "  %s\n", OneLine(a.Artifacts.Error, FormatTable))
		}
		if len(a.Artifacts.Files) == 0 {
			continue
		}
		t := render.Table{Headers: []string{"PATH", "SIZE", "STATE"}, Keys: []string{"path", "size", "state"}, Numeric: map[int]bool{1: true}}
		for _, f := range a.Artifacts.Files {
			t.Rows = append(t.Rows, []string{f.Path, artifacts.FormatSize(f.Size), f.State})
		}
		if err := render.WriteTable(w, t); err != nil {
			return err
		}
	}
	return nil
}
