package provenance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/pyexec"
)

// MaxDiff is the most of a repository's uncommitted diff that is stored:
// a diff past it is cut there, and the code's note says so with its size.
const MaxDiff = 4 << 20

// Capture reads the git state of the repository holding dir: HEAD's
// commit, whether `git status --porcelain` lists anything (dirty), and
// `git diff HEAD` (changes to tracked files, staged or not), at most
// maxDiff bytes of it. Outside a repository the code's Repo is
// db.RepoNone; without git, db.RepoNoGit; when git fails otherwise,
// db.RepoError with git's words in Note. It never fails: what it could
// not read is what the record says.
func Capture(ctx context.Context, dir string, maxDiff int) db.Code {
	out, err := git(ctx, dir, nil, "rev-parse", "--is-inside-work-tree")
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return db.Code{Repo: db.RepoNoGit, Note: "git was not found on PATH"}
	case err != nil && strings.Contains(err.Error(), "not a git repository"):
		return db.Code{Repo: db.RepoNone}
	case err != nil:
		return db.Code{Repo: db.RepoError, Note: err.Error()}
	case strings.TrimSpace(string(out)) != "true":
		return db.Code{Repo: db.RepoNone, Note: "inside a git directory, not a work tree"}
	}
	c := db.Code{Repo: db.RepoGit}
	if out, err := git(ctx, dir, nil, "rev-parse", "--verify", "-q", "HEAD^{commit}"); err == nil {
		c.Commit = strings.TrimSpace(string(out))
	}
	status, err := git(ctx, dir, nil, "status", "--porcelain", "--untracked-files=normal")
	if err != nil {
		return db.Code{Repo: db.RepoError, Commit: c.Commit, Note: err.Error()}
	}
	var notes []string
	untracked := 0
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "??") {
			untracked++
		}
	}
	c.Dirty = len(bytes.TrimSpace(status)) > 0
	if c.Commit == "" {
		notes = append(notes, "no commit yet")
	} else if c.Dirty {
		var buf cappedBuffer
		buf.max = maxDiff
		if _, err := git(ctx, dir, &buf, "diff", "HEAD", "--no-color", "--no-ext-diff", "--binary"); err != nil {
			return db.Code{Repo: db.RepoError, Commit: c.Commit, Dirty: true, Note: err.Error()}
		}
		if buf.total > 0 {
			c.Diff, c.DiffSize = buf.buf.Bytes(), buf.total
			if buf.total > int64(buf.buf.Len()) {
				notes = append(notes, fmt.Sprintf("diff cut at %d of its %d bytes", buf.buf.Len(), buf.total))
			}
		}
	}
	if untracked > 0 {
		notes = append(notes, fmt.Sprintf("%d untracked file(s), not in the diff", untracked))
	}
	c.Note = strings.Join(notes, "; ")
	return c
}

// git runs git in dir with args, as an argv (no shell); its stdout goes
// to w when given, else is returned. The error holds git's stderr.
func git(ctx context.Context, dir string, w io.Writer, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	// Optional locks off: status would otherwise refresh the index, a write
	// in the user's repository that can race their own git.
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C")
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	if w != nil {
		cmd.Stdout = w
	}
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, err
		}
		msg := strings.Join(strings.Fields(errb.String()), " ")
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return nil, fmt.Errorf("git %s: %v: %s", args[0], err, msg)
	}
	return out.Bytes(), nil
}

// cappedBuffer keeps the first max bytes written to it and counts them
// all. The buffer is a field, not embedded: an embedded bytes.Buffer's
// ReadFrom would let io.Copy bypass Write.
type cappedBuffer struct {
	buf   bytes.Buffer
	max   int
	total int64
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.total += int64(len(p))
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// Stamp gives each job the code it is submitted with: the repository of
// scriptsDir as Capture reads it (once for all of them), and the SHA-256
// of its script and data file, hashed as the dispatcher hashes them for
// the upload cache (pyexec.Files: each file read once).
func Stamp(ctx context.Context, scriptsDir, dataDir string, jobs []db.NewJob) error {
	repo := Capture(ctx, scriptsDir, MaxDiff)
	var files pyexec.Files
	for i := range jobs {
		c := repo
		s, err := files.File(jobs[i].Script, filepath.Join(scriptsDir, jobs[i].Script))
		if err != nil {
			return fmt.Errorf("hash script %s: %w", jobs[i].Script, err)
		}
		c.ScriptHash = s.Hash
		if jobs[i].DataFile != "" {
			d, err := files.File(jobs[i].DataFile, filepath.Join(dataDir, jobs[i].DataFile))
			if err != nil {
				return fmt.Errorf("hash data file %s: %w", jobs[i].DataFile, err)
			}
			c.DataHash = d.Hash
		}
		jobs[i].Code = &c
	}
	return nil
}
