package pyexec

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/run"
)

// MaxOutcomeLine bounds the Outcome line: a longer last line that begins
// with "{" fails the run with a message that says so, rather than being
// read into the dispatcher's memory and the database.
const MaxOutcomeLine = 16 << 20

// findOutcomeSource is the outcome search run on a host, as
// "python -c findOutcomeSource": see the comment at its top.
//
//go:embed findoutcome.py
var findOutcomeSource string

// RunDirExec is what SearchOutcome needs of a host: ExecInRun runs argv
// there with run dir id as its cwd, its standard output copied to stdout.
// sshworker.Host satisfies it; its errors (no such run dir, a non-zero
// exit, the transport's) come back wrapped, as they are.
type RunDirExec interface {
	ExecInRun(ctx context.Context, id string, argv []string, stdout io.Writer) error
}

// NeedsSearch reports whether the Outcome may lie above the stdout tail
// that came back: the tail holds no line that is a JSON object, and stdout
// is longer than the tail (a summary printed after the outcome, or an
// outcome line longer than StdoutFetch). SearchOutcome then reads the whole
// stdout on the host.
func NeedsSearch(res run.Result) bool {
	if res.StdoutSize <= int64(len(res.Stdout)) {
		return false
	}
	line, _ := lastObject(completeLines(res))
	return line == nil
}

// Search is what SearchOutcome found in a run's whole stdout.
type Search struct {
	// Line is the last stdout line that is a JSON object; nil when none is.
	Line []byte
	// Oversize, when above 0, is the length of the last line that begins
	// with "{": over MaxOutcomeLine, so it was not read.
	Oversize int64
}

// SearchOutcome reads the whole stdout of run id on its host, from its
// end, for its last line that is a JSON object, with python (the host's
// interpreter): only that line comes back, however long the output. Its
// errors are the transport's: the run's outcome is still unknown.
func SearchOutcome(ctx context.Context, x RunDirExec, python, id string) (Search, error) {
	argv := []string{python, "-c", findOutcomeSource, "mljob-find-outcome", "stdout", strconv.Itoa(MaxOutcomeLine)}
	var out bytes.Buffer
	if err := x.ExecInRun(ctx, id, argv, &limitWriter{w: &out, n: MaxOutcomeLine + 64}); err != nil {
		return Search{}, fmt.Errorf("search the stdout of %s for its outcome: %w", id, err)
	}
	head, body, _ := bytes.Cut(out.Bytes(), []byte("\n"))
	word, num, _ := strings.Cut(string(head), " ")
	n, _ := strconv.ParseInt(num, 10, 64)
	switch {
	case word == "none" && num == "":
		return Search{}, nil
	case word == "found" && n == int64(len(body)):
		return Search{Line: body}, nil
	case word == "oversize" && n > 0:
		return Search{Oversize: n}, nil
	}
	return Search{}, fmt.Errorf("search the stdout of %s for its outcome: unexpected answer %q (%d bytes after it)", id, clip(string(head), 80), len(body))
}

// limitWriter keeps the first n bytes written to w and drops the rest, so a
// host that answers at length cannot grow the dispatcher's memory.
type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		l.n -= k
	}
	return len(p), nil
}
