package live

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/mljob/mljob/internal/dispatch"
)

// maxFailuresListed bounds the failures (and the bests) the summary names
// one by one; the rest are counted (mljob outcomes lists them all).
const maxFailuresListed = 20

// reasonWidth is where a failure's reason is clipped, to keep it on one line.
const reasonWidth = 100

// Summary is what the dispatch did, printed when it ends.
type Summary struct {
	Wall               time.Duration
	Succeeded, Failed  int
	Cancelled          int // of Failed
	Pruned             int // stopped by their pruner: apart from Failed
	Requeued, Detached int
	Adopted            int
	Failures           []Failure
	// Unsaved are the finished attempts whose outcome the database refused:
	// counted nowhere above.
	Unsaved []dispatch.Unsaved
	// Bests are the best runs so far of each group (sweep, or project
	// outside sweeps, and objective) the dispatch ran a job of.
	Bests []Best
	// CPUSeconds and GPUSeconds are what the runs that ended cost, Costed
	// of them with a known cost; the line is left out when none has one.
	CPUSeconds, GPUSeconds float64
	Costed                 int
}

// WriteSummary prints s: the counts (pruned runs apart from failures, and
// only when there were some), wall time and rate, the best run so
// far of each group the dispatch ran a job of, then each failure with its
// reason and the mljob logs command that shows its output.
func WriteSummary(w io.Writer, s Summary) error {
	ew := &errWriter{w: w}
	ew.printf("Dispatched in %s: %d succeeded, %d failed", s.Wall.Round(time.Millisecond), s.Succeeded, s.Failed)
	if s.Pruned > 0 {
		ew.printf(", %d pruned", s.Pruned)
	}
	if s.Requeued > 0 {
		ew.printf(", %d requeued", s.Requeued)
	}
	ew.printf(".\n")
	rate := 0.0
	if s.Wall > 0 {
		rate = float64(s.Succeeded+s.Failed+s.Pruned) / s.Wall.Minutes()
	}
	ew.printf("Rate %.1f runs/min; %d cancelled, %d left running.\n", rate, s.Cancelled, s.Detached)
	if s.Costed > 0 {
		ew.printf("Cost of %d run(s): %s CPU-hours (%.1f CPU-s), %s GPU-hours.\n", s.Costed,
			strconv.FormatFloat(s.CPUSeconds/3600, 'f', 3, 64), s.CPUSeconds, strconv.FormatFloat(s.GPUSeconds/3600, 'f', 3, 64))
	}
	if s.Adopted > 0 {
		ew.printf("Adopted %d run(s) left by an earlier dispatcher.\n", s.Adopted)
	}
	if s.Detached > 0 {
		ew.printf("%d run(s) left running on their hosts; run mljob dispatch again (with the same hosts) to collect their outcomes.\n", s.Detached)
	}
	for i, b := range s.Bests {
		if i == maxFailuresListed {
			ew.printf("… and %d more\n", len(s.Bests)-i)
			break
		}
		ew.printf("%s\n", FormatBest(b))
	}
	if len(s.Failures) > 0 {
		ew.printf("Failures:\n")
		for i, f := range s.Failures {
			if i == maxFailuresListed {
				ew.printf("  … and %d more\n", len(s.Failures)-i)
				break
			}
			ew.printf("  order %d (job %d) on %s, attempt %d: %s\n", f.Order, f.Job, f.Host, f.Attempt, clip(f.Reason, reasonWidth))
			ew.printf("    mljob logs %d --attempt %d --stderr\n", f.Job, f.Attempt)
		}
	}
	if s.Failed > 0 {
		ew.printf("See the failures with: mljob outcomes --output json\n")
	}
	if len(s.Unsaved) > 0 {
		ew.printf("%d outcome(s) not saved (the database refused them: %s):\n", len(s.Unsaved),
			clip(s.Unsaved[len(s.Unsaved)-1].Err.Error(), reasonWidth))
		for i, u := range s.Unsaved {
			if i == maxFailuresListed {
				ew.printf("  … and %d more\n", len(s.Unsaved)-i)
				break
			}
			ew.printf("  order %d attempt %d on %s\n", u.Order, u.Attempt, u.Host)
		}
		ew.printf("Their runs are finished and kept on their hosts; run mljob dispatch again (with the same hosts) once the database takes writes, and it records them.\n")
	}
	return ew.err
}

// errWriter keeps the first write error so that a summary checks it once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}
