package sshworker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshconn"
)

// maxProgressFrame bounds a frame of progress lines from the host:
// agent.py's PROGRESS_FRAME plus one cut line, with room to spare.
const maxProgressFrame = 1 << 20

// finishProgress delivers a finished run's progress lines from p.From to
// the end of its stdout, before its result is returned (see the engine
// contract): from the stdout that came back when it reaches back to
// p.From, else read on the host by agent.py's progress filter, one
// session. A filter that cannot run there (no python) leaves the rest
// undelivered rather than fail the run: progress never does.
func (h *Host) finishProgress(ctx context.Context, id string, res run.Result, p run.Progress) error {
	if !p.On() || res.Lost && res.StdoutSize == 0 {
		return nil
	}
	if first := res.StdoutSize - int64(len(res.Stdout)); first <= p.From && p.From <= res.StdoutSize {
		sc := run.NewProgressScanner(p.From)
		lines := sc.Finish(sc.Feed(nil, res.Stdout[p.From-first:]))
		p.Lines(lines, sc.End())
		return nil
	}
	err := h.ReadProgress(ctx, id, h.Python(), p, true)
	var ee *sshconn.ExitError
	if errors.As(err, &ee) && ee.Code == 127 && h.Python() != DefaultPython {
		// A Slurm entry's python is its nodes'; the login node may lack it.
		err = h.ReadProgress(ctx, id, DefaultPython, p, true)
	}
	if errors.As(err, &ee) {
		return nil
	}
	return err
}

// ReadProgress reads the stdout of run id on the host, from p.From, with
// agent.py's progress filter run by python in the run dir, and hands the
// candidate lines to p.Lines as they come. final: the run has ended (a
// last line without a newline is complete, and all of stdout is read);
// otherwise one call reads at most agent.py's PROGRESS_READ bytes. Errors
// are ExecInRun's: ErrNotStarted, an *sshconn.ExitError, the transport's.
func (h *Host) ReadProgress(ctx context.Context, id, python string, p run.Progress, final bool) error {
	fin := "0"
	if final {
		fin = "1"
	}
	fw := &ProgressFrames{From: p.From, Lines: p.Lines}
	argv := []string{python, "-c", agentSource, "mljob-progress", "stdout", strconv.FormatInt(p.From, 10), fin}
	if err := h.ExecInRun(ctx, id, argv, fw); err != nil {
		return fmt.Errorf("read progress of %s on %s: %w", id, h.name, err)
	}
	return fw.Close()
}

// ProgressFrames reads the frames of agent.py's progress filter ("P END
// N\n" and N bytes of lines) as they are written, and hands each to Lines
// with its end. A frame that is malformed, too big or moves the end back
// ends the stream with an error.
type ProgressFrames struct {
	From  int64 // the offset the filter was asked to read from
	Lines func(lines []byte, end int64)
	buf   []byte
	err   error
}

// Write takes the next bytes of the filter's output.
func (f *ProgressFrames) Write(b []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	f.buf = append(f.buf, b...)
	for {
		nl := bytes.IndexByte(f.buf, '\n')
		if nl < 0 {
			if len(f.buf) > 64 {
				f.err = fmt.Errorf("progress filter: bad frame %q", clipBytes(f.buf, 40))
			}
			return len(b), f.err
		}
		var end, n int64
		if _, err := fmt.Sscanf(string(f.buf[:nl]), "P %d %d", &end, &n); err != nil || n < 0 || n > maxProgressFrame || end < f.From {
			f.err = fmt.Errorf("progress filter: bad frame %q", clipBytes(f.buf[:nl], 40))
			return 0, f.err
		}
		if int64(len(f.buf)-nl-1) < n {
			return len(b), nil
		}
		lines := f.buf[nl+1 : nl+1+int(n)]
		f.From = end
		f.Lines(lines, end)
		f.buf = append(f.buf[:0], f.buf[nl+1+int(n):]...)
	}
}

// Close reports a frame cut short.
func (f *ProgressFrames) Close() error {
	if f.err == nil && len(f.buf) > 0 {
		f.err = fmt.Errorf("progress filter: %d bytes of a frame cut short", len(f.buf))
	}
	return f.err
}

func clipBytes(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// ProgressProgram is agent.py, for a batch engine's poller: run as
// "python -c ProgressProgram() mljob-progress-runs WORKDIR (ID FROM
// FINAL)..." it reads, per run dir, at most 4 MiB of its stdout from FROM
// (FINAL 1: the run has ended, so a last line without a newline counts)
// and writes frames "R ID END N\n" and N bytes of candidate lines, which
// ReadRunFrames reads.
func ProgressProgram() string { return agentSource }

// ReadRunFrames hands each frame of out (see ProgressProgram) to deliver,
// in order, and stops at the first frame cut short or malformed (an
// output cut at its limit): what was not delivered is read again from
// where the last frame of its run ended.
func ReadRunFrames(out []byte, deliver func(id string, lines []byte, end int64)) {
	for len(out) > 0 {
		nl := bytes.IndexByte(out, '\n')
		if nl < 0 {
			return
		}
		f := strings.Fields(string(out[:nl]))
		if len(f) != 4 || f[0] != "R" {
			return
		}
		end, err1 := strconv.ParseInt(f[2], 10, 64)
		n, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || n < 0 || n > len(out)-nl-1 {
			return
		}
		deliver(f[1], out[nl+1:nl+1+n], end)
		out = out[nl+1+n:]
	}
}
