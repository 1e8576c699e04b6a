package jobinput

import (
	"fmt"
	"io"
	"strings"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/fieldcheck"
)

// maxListed is how many undeclared fields, and duplicate jobs of each
// kind, the notes name one by one before they only count them.
const maxListed = 10

// WriteNotes writes on w what a submit of b did, or in a dry run would
// do, beside its table of n jobs (Table): the undeclared fields, the
// duplicate jobs (each up to maxListed, then counted), and the count
// queued.
func (b *Batch) WriteNotes(w io.Writer, res db.SubmitResult, dryRun bool, n int) {
	writeFieldWarnings(w, b.Warnings)
	writeDuplicates(w, b.Duplicates(res, dryRun))
	if b.Study != nil {
		b.writeStudy(w, res, dryRun)
		return
	}
	switch {
	case dryRun && n == 0:
		fmt.Fprintln(w, "Dry run: would queue 0 job(s): every job is in the queue already; nothing was written.")
	case dryRun && b.Sweep != nil:
		fmt.Fprintf(w, "Dry run: would queue %d job(s) in a new sweep; nothing was written.\n", n)
	case dryRun:
		fmt.Fprintf(w, "Dry run: would queue %d job(s); nothing was written.\n", n)
	case n == 0:
		fmt.Fprintln(w, "Nothing queued: every job is in the queue already.")
	default:
		if res.Sweep != nil {
			fmt.Fprintf(w, "Sweep %d %q: %d job(s).\n", res.Sweep.ID, res.Sweep.Name, res.Sweep.Jobs)
		}
		fmt.Fprintf(w, "Queued %d job(s). Run them with: mljob dispatch [--hosts hosts.yaml]\n", n)
	}
}

// writeFieldWarnings writes each distinct undeclared field (up to
// maxListed), then how many more, then what to do.
func writeFieldWarnings(w io.Writer, warnings []fieldcheck.Warning) {
	for i, warning := range warnings {
		if i == maxListed {
			fmt.Fprintf(w, "Warning: and %d more undeclared field(s)\n", len(warnings)-i)
			break
		}
		fmt.Fprintf(w, "Warning: %s\n", warning)
	}
	if len(warnings) > 0 {
		fmt.Fprintln(w, "Warning: a script ignores the fields its <stem>.fields.yaml does not declare; fix their names, or pass --strict to refuse such jobs")
	}
}

// writeDuplicates writes a line for each job identical to one in the
// queue or earlier in the submit (up to maxListed of each kind), and the
// counts.
func writeDuplicates(w io.Writer, dups []Duplicate) {
	var warned, skipped int
	for _, d := range dups {
		if d.Skipped {
			if skipped++; skipped <= maxListed {
				fmt.Fprintf(w, "Skipped a job identical to job %s in project %s\n", d.Of, d.Project)
			}
		} else if warned++; warned <= maxListed {
			fmt.Fprintf(w, "Warning: %s is identical to job %s in project %s\n", d.Job, d.Of, d.Project)
		}
	}
	if warned > maxListed {
		fmt.Fprintf(w, "Warning: and %d more\n", warned-maxListed)
	}
	if warned > 0 {
		fmt.Fprintf(w, "Warning: %d job(s) were already in the queue; --dedupe skips such jobs\n", warned)
	}
	if skipped > maxListed {
		fmt.Fprintf(w, "Skipped %d more\n", skipped-maxListed)
	}
	if skipped > 0 {
		fmt.Fprintf(w, "Skipped %d job(s) already in the queue (--dedupe).\n", skipped)
	}
}

// writeStudy says what a tpe sweep's submit did, or would do: register
// the sweep and its budget, and queue nothing.
func (b *Batch) writeStudy(w io.Writer, res db.SubmitResult, dryRun bool) {
	st := b.Study
	par := "as many at once as there are free slots"
	if st.Parallel > 0 {
		par = fmt.Sprintf("at most %d at once", st.Parallel)
	}
	if st.ConstantLiar {
		par += ", constant liar (a trial in flight counts as the worst value)"
	}
	what := fmt.Sprintf("method tpe, %d trial(s), %s, seed %d, searching %s; no job is queued now: mljob dispatch proposes each trial from the outcomes before it when a slot is free for it",
		st.Budget, par, st.Seed, strings.Join(b.Paths, ", "))
	if dryRun {
		fmt.Fprintf(w, "Dry run: would register a sweep: %s; nothing was written.\n", what)
		return
	}
	if res.Sweep != nil {
		fmt.Fprintf(w, "Sweep %d %q: %s.\n", res.Sweep.ID, res.Sweep.Name, what)
	}
	fmt.Fprintln(w, "Run it with: mljob dispatch [--hosts hosts.yaml]")
}
