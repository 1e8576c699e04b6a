package artifacts

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"crypto/sha256"
)

//go:embed artifacts.py
var source string

// RunDirExec is what List and Fetch need of a host: ExecInRun runs argv
// there with run dir id as its cwd, its standard output copied to stdout
// (engine.Engine's ExecInRun: SSH hosts, this machine, a Slurm login node).
type RunDirExec interface {
	ExecInRun(ctx context.Context, id string, argv []string, stdout io.Writer) error
}

// File is one artifact: its path relative to the run dir, its size and
// the SHA-256 the host computed (hex; "" when the listing was over the
// cap and nothing was hashed).
type File struct {
	Path   string
	Size   int64
	SHA256 string
}

// Listing is what List found in a run dir.
type Listing struct {
	Files []File
	Total int64 // bytes, all files
	Over  bool  // Total is over the cap: the files were not hashed
}

// List matches globs and the run's artifacts/ dir in run dir id on the
// host, with python (the host's interpreter), and hashes each file unless
// their total passes limit. Its errors are ExecInRun's (the run dir is
// missing, the transport failed) or a listing it cannot read.
func List(ctx context.Context, x RunDirExec, python, id string, globs []string, limit int64) (Listing, error) {
	argv := append([]string{python, "-c", source, "mljob-artifacts", "list", strconv.FormatInt(limit, 10)}, globs...)
	var out bytes.Buffer
	if err := x.ExecInRun(ctx, id, argv, &out); err != nil {
		return Listing{}, fmt.Errorf("list the artifacts of %s: %w", id, err)
	}
	var l Listing
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	ended := false
	for sc.Scan() {
		var rec struct {
			P     *string `json:"p"`
			S     int64   `json:"s"`
			H     string  `json:"h"`
			Total *int64  `json:"total"`
			Over  bool    `json:"over"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return Listing{}, fmt.Errorf("list the artifacts of %s: unreadable line %q", id, clip(sc.Text()))
		}
		switch {
		case rec.Total != nil:
			l.Total, l.Over, ended = *rec.Total, rec.Over, true
		case rec.P != nil:
			// The host is not trusted with home's paths: one that could
			// leave the artifacts dir is refused here too.
			if !filepath.IsLocal(*rec.P) || strings.Contains(*rec.P, "\\") {
				return Listing{}, fmt.Errorf("list the artifacts of %s: the host named %q, which leaves the run dir", id, *rec.P)
			}
			if rec.S < 0 || (rec.H != "" && !isSHA256(rec.H)) {
				return Listing{}, fmt.Errorf("list the artifacts of %s: bad entry %q", id, clip(sc.Text()))
			}
			l.Files = append(l.Files, File{Path: *rec.P, Size: rec.S, SHA256: rec.H})
		}
	}
	if err := sc.Err(); err != nil {
		return Listing{}, fmt.Errorf("list the artifacts of %s: %w", id, err)
	}
	if !ended {
		return Listing{}, fmt.Errorf("list the artifacts of %s: the listing ended early", id)
	}
	return l, nil
}

// ErrMismatch is a file whose bytes did not hash to what its listing
// said: nothing of it is kept.
var ErrMismatch = errors.New("sha256 mismatch")

// ErrGone is a file the listing named that is no longer a plain file in
// the run dir.
var ErrGone = errors.New("no longer in the run dir")

// Fetch copies files from run dir id on the host into dir (each at its
// Path below dir) through one session, and calls done after each file is
// in place. A file is written to a temporary name beside its place and
// renamed only once its size and SHA-256 match its listing, so a file in
// dir is always whole; a stream cut short leaves nothing but the files
// already done. A mismatch or a file gone is reported with the rest still
// fetched (errors.Join of them, each matching ErrMismatch or ErrGone).
func Fetch(ctx context.Context, x RunDirExec, python, id string, files []File, dir string, done func(File) error) error {
	var problems []error
	for len(files) > 0 {
		// A few hundred paths a session keep argv far below ARG_MAX.
		n := min(len(files), 256)
		if err := fetch(ctx, x, python, id, files[:n], dir, done); err != nil {
			var mm mismatches
			if !errors.As(err, &mm) {
				return err
			}
			problems = append(problems, mm.errs...)
		}
		files = files[n:]
	}
	if len(problems) > 0 {
		return fmt.Errorf("fetch the artifacts of %s: %w", id, errors.Join(problems...))
	}
	return nil
}

// mismatches are the files of one session that did not come home whole.
type mismatches struct{ errs []error }

func (m mismatches) Error() string   { return errors.Join(m.errs...).Error() }
func (m mismatches) Unwrap() []error { return m.errs }

func fetch(ctx context.Context, x RunDirExec, python, id string, files []File, dir string, done func(File) error) error {
	argv := []string{python, "-c", source, "mljob-artifacts", "send"}
	for _, f := range files {
		argv = append(argv, f.Path)
	}
	pr, pw := io.Pipe()
	recv := make(chan error, 1)
	go func() {
		err := receive(pr, files, dir, done)
		pr.CloseWithError(err) // unblocks the session's writer once we stop reading
		recv <- err
	}()
	err := x.ExecInRun(ctx, id, argv, pw)
	pw.CloseWithError(cmpErr(err, io.EOF))
	rerr := <-recv
	var mm mismatches
	if errors.As(rerr, &mm) && err == nil {
		return mm
	}
	if rerr != nil {
		return fmt.Errorf("fetch the artifacts of %s: %w", id, rerr)
	}
	if err != nil {
		return fmt.Errorf("fetch the artifacts of %s: %w", id, err)
	}
	return nil
}

func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// receive reads send's frames, one per file in order.
func receive(r io.Reader, files []File, dir string, done func(File) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var problems []error
	for _, f := range files {
		head, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%s: stream ended before it: %w", f.Path, err)
		}
		head = strings.TrimSuffix(head, "\n")
		if head == "M" {
			problems = append(problems, fmt.Errorf("%s: %w", f.Path, ErrGone))
			continue
		}
		n, err := strconv.ParseInt(strings.TrimPrefix(head, "F "), 10, 64)
		if !strings.HasPrefix(head, "F ") || err != nil || n < 0 {
			return fmt.Errorf("%s: bad frame %q", f.Path, clip(head))
		}
		ok, err := receiveFile(br, n, f, dir)
		if err != nil {
			return err
		}
		if !ok {
			problems = append(problems, fmt.Errorf("%s: %w (listed %d bytes %s)", f.Path, ErrMismatch, f.Size, f.SHA256))
			continue
		}
		if err := done(f); err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return mismatches{problems}
	}
	return nil
}

// receiveFile copies n bytes of r to f's temporary name, and renames it
// into place when they are f. It reads all n bytes either way, so the
// next frame starts where it should.
func receiveFile(r io.Reader, n int64, f File, dir string) (bool, error) {
	if n != f.Size {
		// Not what was listed: none of it is written.
		_, err := io.CopyN(io.Discard, r, n)
		return false, err
	}
	dest := filepath.Join(dir, filepath.FromSlash(f.Path))
	return writeVerified(io.LimitReader(r, n), n, dest, f.SHA256)
}

// CopyVerified copies the file src to dest, which it takes only when its
// SHA-256 is want: false, with nothing at dest, when it is not. mljob fetch
// copies a data dir's artifacts out with it.
func CopyVerified(src, dest, want string) (bool, error) {
	in, err := os.Open(src)
	if err != nil {
		return false, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return false, err
	}
	return writeVerified(in, st.Size(), dest, want)
}

// writeVerified writes the n bytes r holds to a temporary name beside
// dest, hashing them as they pass, and renames it to dest only when they
// are all there and their SHA-256 is want: a partial or changed file is
// never taken for a whole one.
func writeVerified(r io.Reader, n int64, dest, want string) (bool, error) {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".part-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h := sha256.New()
	got, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err == nil && got < n {
		err = fmt.Errorf("%s: stream ended after %d of %d bytes", filepath.Base(dest), got, n)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, err
	}
	if hexSum(h) != want {
		return false, nil
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return false, err
	}
	return true, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// HashFile is the SHA-256 of the file at p, hex, as List writes it.
func HashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hexSum(h), nil
}

func isSHA256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
