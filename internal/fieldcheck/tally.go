package fieldcheck

import "fmt"

// Warning is one distinct problem over many jobs: the first job that had
// it, and how many did.
type Warning struct {
	Msg   string // Problem.Msg
	First string // where the first job came from: "base.json: sweep job 1"
	Jobs  int
}

// String is the warning as submit prints it:
// `base.json: sweep job 1 (and 9999 more jobs): field "learningrate" is …`.
func (w Warning) String() string {
	if w.Jobs > 1 {
		return fmt.Sprintf("%s (and %d more job(s)): %s", w.First, w.Jobs-1, w.Msg)
	}
	return w.First + ": " + w.Msg
}

// Tally folds the problems of many jobs into Warnings, each distinct
// problem once, so that a typo in the base of a 10,000-job sweep is one
// line, not 10,000. The zero value is empty and ready; a Tally is not safe
// for concurrent use.
type Tally struct {
	warnings []Warning
	index    map[string]int // into warnings, by Msg
}

// Add counts p, a problem of the job from where.
func (t *Tally) Add(where string, p Problem) {
	if i, ok := t.index[p.Msg]; ok {
		t.warnings[i].Jobs++
		return
	}
	if t.index == nil {
		t.index = map[string]int{}
	}
	t.index[p.Msg] = len(t.warnings)
	t.warnings = append(t.warnings, Warning{Msg: p.Msg, First: where, Jobs: 1})
}

// Warnings returns each distinct problem added, in the order first seen.
func (t *Tally) Warnings() []Warning { return t.warnings }
