package run

import "bytes"

// MaxProgressLine bounds a progress line (see Progress): a longer
// candidate is delivered cut to its first MaxProgressLine+1 bytes, so that
// the reader knows it for too long without holding all of it.
const MaxProgressLine = 64 << 10

// Progress asks an engine to deliver a run's progress lines, the stdout
// lines that may be progress reports, as the run prints them (see
// engine.Engine for the contract). The zero value asks for none.
type Progress struct {
	// From is the stdout offset read so far, at a line's start: 0 for a
	// new run, where the last reader stopped for a run attached again.
	From int64
	// Lines gets the candidate lines read from From on (see
	// IsProgressCandidate), each ending in a newline, in order, each once;
	// end is the stdout offset just past the last line read, delivered or
	// not. lines may be empty (end moved past other output), and is the
	// engine's again once Lines returns. Calls come one at a time; Lines
	// must return promptly and not call the engine.
	Lines func(lines []byte, end int64)
}

// On reports whether progress lines are asked for.
func (p Progress) On() bool { return p.Lines != nil }

// IsProgressCandidate reports whether a stdout line, given by its first
// MaxProgressLine+1 bytes (all of it when shorter, without its newline),
// may be a progress report: it begins with "{" and holds "step" (quotes
// included). It is the cheap test engines apply before delivering a line;
// the reader parses what it gets (pyexec.ParseProgress). agent.py's
// progress_candidate is its twin.
func IsProgressCandidate(head []byte) bool {
	return len(head) > 0 && head[0] == '{' && bytes.Contains(head, []byte(`"step"`))
}

// ProgressScanner finds the progress candidates in a run's stdout, fed to
// it in pieces from a line's start, with bounded memory however long a
// line is.
type ProgressScanner struct {
	off  int64  // the offset of the next byte to feed
	end  int64  // the offset just past the last complete line
	head []byte // the current line's first MaxProgressLine+1 bytes
}

// NewProgressScanner returns a scanner of stdout from offset from, a
// line's start.
func NewProgressScanner(from int64) *ProgressScanner {
	return &ProgressScanner{off: from, end: from}
}

// Feed scans b, the next bytes of stdout, and appends to dst each
// candidate among the lines it completes, cut to MaxProgressLine+1 bytes,
// with a newline.
func (s *ProgressScanner) Feed(dst, b []byte) []byte {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		part := b
		if i >= 0 {
			part = b[:i]
		}
		if room := MaxProgressLine + 1 - len(s.head); room > 0 {
			s.head = append(s.head, part[:min(room, len(part))]...)
		}
		if i < 0 {
			s.off += int64(len(b))
			return dst
		}
		s.off += int64(i + 1)
		s.end = s.off
		dst = s.take(dst)
		b = b[i+1:]
	}
	return dst
}

func (s *ProgressScanner) take(dst []byte) []byte {
	if IsProgressCandidate(s.head) {
		dst = append(append(dst, s.head...), '\n')
	}
	s.head = s.head[:0]
	return dst
}

// Finish ends the stream (the run has ended): a last line without a
// newline is complete. It appends it to dst when it is a candidate.
func (s *ProgressScanner) Finish(dst []byte) []byte {
	if s.off > s.end {
		s.end = s.off
		dst = s.take(dst)
	}
	return dst
}

// End is the offset just past the last complete line fed.
func (s *ProgressScanner) End() int64 { return s.end }
