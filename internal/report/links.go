package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"

	"github.com/mljob/mljob/internal/db"
)

// shortCommit is how many hex digits of a commit the page shows, as
// git's own short form.
const shortCommit = 7

// ArtifactReader reads an attempt's artifacts record: *db.DB.
type ArtifactReader interface {
	GetFetch(ctx context.Context, orderID int64, attempt int) (db.Fetch, []db.ArtifactFile, error)
}

// CodeReader reads the code a job was submitted with: *db.DB.
type CodeReader interface {
	JobCode(ctx context.Context, jobID int64) (*db.Code, error)
}

// ArtifactLink is one file a run brought home, linked from the page.
type ArtifactLink struct {
	Path string // as the run listed it, relative to its run dir
	// Href is the file's URL relative to the page's directory, so that the
	// page and the data dir can move together.
	Href string
	Size int64
}

// RunArtifacts are the files one attempt brought home.
type RunArtifacts struct {
	JobID, OrderID int64
	Attempt        int
	Host           string
	Files          []ArtifactLink
	// Pending counts the listed files not home yet (mljob dispatch
	// fetches them); OverCap says the run's files passed the cap and none
	// were copied.
	Pending int
	OverCap bool
}

// ReadArtifacts reads the artifacts of each outcome in rows that has a
// record, in job and attempt order. home(job, attempt) is the directory
// the attempt's files lie in (artifacts.Home under the data dir's
// artifacts dir); pageDir is the directory the page is written to, which
// the links are relative to. Attempts that owe none are left out.
func ReadArtifacts(ctx context.Context, src ArtifactReader, rows []db.OutcomeRow,
	home func(jobID int64, attempt int) string, pageDir string) ([]RunArtifacts, error) {
	base, err := filepath.Abs(pageDir)
	if err != nil {
		return nil, fmt.Errorf("read artifacts: %w", err)
	}
	var out []RunArtifacts
	seen := map[attemptKey]bool{}
	for _, row := range rows {
		k := attemptKey{row.OrderID, row.Attempt}
		if seen[k] {
			continue
		}
		seen[k] = true
		f, files, err := src.GetFetch(ctx, row.OrderID, row.Attempt)
		if errors.Is(err, db.ErrOrderNotFound) {
			continue // no run dir: nothing owed
		}
		if err != nil {
			return nil, fmt.Errorf("read artifacts: %w", err)
		}
		ra := RunArtifacts{JobID: f.JobID, OrderID: f.OrderID, Attempt: f.Attempt, Host: f.Host, OverCap: f.State == db.FetchOverCap}
		dir := home(f.JobID, f.Attempt)
		for _, x := range files {
			if !x.Done {
				ra.Pending++
				continue
			}
			href, err := relativeHref(base, filepath.Join(dir, filepath.FromSlash(x.Path)))
			if err != nil {
				return nil, fmt.Errorf("read artifacts: %w", err)
			}
			ra.Files = append(ra.Files, ArtifactLink{Path: x.Path, Href: href, Size: x.Size})
		}
		if len(ra.Files) > 0 || ra.Pending > 0 || ra.OverCap {
			out = append(out, ra)
		}
	}
	slices.SortFunc(out, func(a, b RunArtifacts) int {
		return cmp.Or(cmp.Compare(a.JobID, b.JobID), cmp.Compare(a.Attempt, b.Attempt))
	})
	return out, nil
}

// relativeHref is the URL of file relative to the directory base (both
// made absolute), its segments escaped; a file on another volume, which
// no relative path reaches, gets a file: URL.
func relativeHref(base, file string) (string, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(base, abs)
	if err != nil {
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
	}
	// url.URL escapes each segment, and writes "./" before a first
	// segment with a colon, which would otherwise read as a scheme.
	return (&url.URL{Path: filepath.ToSlash(rel)}).String(), nil
}

// CodeText is a job's code as the page shows it: the short commit, with
// "*" when the scripts dir had uncommitted changes (as Guild writes it);
// "not a git repo" and so on otherwise; "—" with no record.
func CodeText(c *db.Code) string {
	switch {
	case c == nil:
		return "—"
	case c.Repo == db.RepoNone:
		return "not a git repo"
	case c.Repo == db.RepoNoGit:
		return "git not found"
	case c.Repo == db.RepoError:
		return "git failed"
	case c.Commit == "":
		return "no commit yet"
	}
	s := c.Commit[:min(len(c.Commit), shortCommit)]
	if c.Dirty {
		s += "*"
	}
	return s
}

// ReadCode fills in the code of the runs of the top tables, reading each
// job's once.
func (r *Report) ReadCode(ctx context.Context, src CodeReader) error {
	texts := map[int64]string{}
	for i := range r.Groups {
		for j := range r.Groups[i].Top {
			run := &r.Groups[i].Top[j]
			text, ok := texts[run.JobID]
			if !ok {
				c, err := src.JobCode(ctx, run.JobID)
				if err != nil {
					return fmt.Errorf("read code: %w", err)
				}
				text = CodeText(c)
				texts[run.JobID] = text
			}
			run.Code = text
			r.Groups[i].ShowCode = r.Groups[i].ShowCode || text != "—"
		}
	}
	return nil
}

// linkArtifacts gives each top run the files its attempt brought home.
func linkArtifacts(groups []Group, arts []RunArtifacts) {
	byAttempt := map[attemptKey][]ArtifactLink{}
	for _, a := range arts {
		byAttempt[attemptKey{a.OrderID, a.Attempt}] = a.Files
	}
	for i := range groups {
		for j := range groups[i].Top {
			run := &groups[i].Top[j]
			run.Artifacts = byAttempt[attemptKey{run.OrderID, run.Attempt}]
			groups[i].ShowArtifacts = groups[i].ShowArtifacts || len(run.Artifacts) > 0
		}
	}
}
