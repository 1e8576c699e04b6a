package live

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/objective"
)

// RunSnapshot is a run in flight that has reported progress: its last
// progress line's series and step, and one value: the job's objective
// when its progress lines carry a metric of that name, else the first
// metric (by name) it reported.
type RunSnapshot struct {
	Order, Job int64
	Host       string
	Series     string
	Step       float64
	// Metric is "" when the run's lines carry no metric, only steps.
	Metric string
	Value  float64
}

// Best is the best run so far of a group: a sweep's runs, or a project's
// runs outside sweeps, of one objective (runs of two objectives are never
// ranked together). Sweep is "" for the project's runs outside sweeps.
type Best struct {
	Project, Sweep string
	Objective      objective.Objective
	// HasValue is false while no succeeded run of the group has a value of
	// Objective; Value and Job are then unset.
	HasValue bool
	Value    float64
	Job      int64
	// Budget is a tpe sweep's trials in all, 0 for other groups; Done is
	// then how many of its trials ended (before the dispatch and in it).
	Budget, Done int
}

// runProgress is what is known of one run's progress.
type runProgress struct {
	job       int64
	host      string
	series    string
	step      float64
	objective string
	first     string             // the first metric name it reported
	values    map[string]float64 // the latest value of each metric, by name
}

// observe applies an OrderProgress event.
func (r *runProgress) observe(e dispatch.Event) {
	r.job, r.host, r.series, r.step = e.Job, e.Host, e.Series, e.Step
	if e.Objective.Name != "" {
		r.objective = e.Objective.Name
	}
	for _, m := range e.Metrics {
		if r.first == "" {
			r.first = m.Name
		}
		r.values[m.Name] = m.Value
	}
}

// snapshot is r as shown for order.
func (r *runProgress) snapshot(order int64) RunSnapshot {
	s := RunSnapshot{Order: order, Job: r.job, Host: r.host, Series: r.series, Step: r.step}
	for _, name := range []string{r.objective, r.first} {
		if v, ok := r.values[name]; ok && name != "" {
			s.Metric, s.Value = name, v
			break
		}
	}
	return s
}

// runBook keeps the progress of the runs in flight that reported some.
type runBook map[int64]*runProgress

// observe applies e; it returns the run's state after an OrderProgress.
func (b runBook) observe(e dispatch.Event) *runProgress {
	switch e.Kind {
	case dispatch.OrderProgress:
		r := b[e.Order]
		if r == nil {
			r = &runProgress{values: map[string]float64{}}
			b[e.Order] = r
		}
		r.observe(e)
		return r
	case dispatch.OrderEnded, dispatch.OrderSucceeded, dispatch.OrderFailed, dispatch.OrderPruned,
		dispatch.OrderReleased, dispatch.OrderAbandoned, dispatch.OrderDetached:
		delete(b, e.Order)
	}
	return nil
}

// snapshot lists the runs by order id.
func (b runBook) snapshot() []RunSnapshot {
	out := make([]RunSnapshot, 0, len(b))
	for order, r := range b {
		out = append(out, r.snapshot(order))
	}
	slices.SortFunc(out, func(a, b RunSnapshot) int { return cmp.Compare(a.Order, b.Order) })
	return out
}

// groupKey names a Best's group.
type groupKey struct {
	project, sweep string
	objective      objective.Objective
}

// bestBook keeps the best run of each group this dispatch has run a job
// of, starting from the queue's best runs before it (seed).
type bestBook struct {
	seed   map[groupKey]Best
	groups map[groupKey]*Best
	order  []groupKey // the groups in the order first seen
}

func newBestBook() *bestBook {
	return &bestBook{seed: map[groupKey]Best{}, groups: map[groupKey]*Best{}}
}

// seedFrom takes the best runs the queue held before the dispatch. A tpe
// sweep is shown from the start, with its trials done of its budget, even
// before it has a best: its trials are made as the dispatch goes.
func (b *bestBook) seedFrom(ps []db.SweepProgress) {
	for _, p := range ps {
		if p.Best == nil && p.Budget == 0 {
			continue
		}
		k := groupKey{p.Project, p.Sweep, p.Objective}
		s := Best{Project: p.Project, Sweep: p.Sweep, Objective: p.Objective, Budget: p.Budget}
		if p.Budget > 0 {
			s.Done = p.Done()
		}
		if p.Best != nil {
			s.HasValue, s.Value, s.Job = true, p.Best.Value, p.Best.JobID
		}
		b.seed[k] = s
		if p.Budget > 0 {
			b.group(k)
		}
	}
}

// group returns k's group, made from its seed when first seen.
func (b *bestBook) group(k groupKey) *Best {
	g := b.groups[k]
	if g == nil {
		g = &Best{Project: k.project, Sweep: k.sweep, Objective: k.objective}
		if s, ok := b.seed[k]; ok {
			*g = s
		}
		b.groups[k] = g
		b.order = append(b.order, k)
	}
	return g
}

// observe applies e; it returns the group's best when e made it better.
func (b *bestBook) observe(e dispatch.Event) (Best, bool) {
	if e.Objective.Name == "" {
		return Best{}, false // not an order event, or its job is not known
	}
	g := b.group(groupKey{e.Project, e.Sweep, e.Objective})
	if g.Budget > 0 {
		switch e.Kind {
		case dispatch.OrderSucceeded, dispatch.OrderFailed, dispatch.OrderPruned:
			g.Done++
		case dispatch.OrderRequeued: // it follows the failure it takes back
			g.Done--
		}
	}
	if e.Kind != dispatch.OrderSucceeded || e.Value == nil {
		return Best{}, false
	}
	if g.HasValue && !e.Objective.Beats(*e.Value, g.Value) {
		return Best{}, false
	}
	g.HasValue, g.Value, g.Job = true, *e.Value, e.Job
	return *g, true
}

// snapshot lists the groups in the order first seen.
func (b *bestBook) snapshot() []Best {
	out := make([]Best, len(b.order))
	for i, k := range b.order {
		out[i] = *b.groups[k]
	}
	return out
}

// FormatBest is a group's line: "best cvMse (lower is better): 24901.3 —
// job 17 (sweep wine-lr)", or "… none yet (project wine)" before a run
// of the group has a value; a tpe sweep's adds its trials done of its
// budget, "(sweep wine-tpe, 12/40 trials)".
func FormatBest(b Best) string {
	where := "sweep " + b.Sweep
	if b.Sweep == "" {
		where = "project " + b.Project
	}
	if b.Budget > 0 {
		where += fmt.Sprintf(", %d/%d trials", b.Done, b.Budget)
	}
	if !b.HasValue {
		return fmt.Sprintf("best %s (%s): none yet (%s)", b.Objective.Name, b.Objective.Better(), where)
	}
	return fmt.Sprintf("best %s (%s): %s — job %d (%s)", b.Objective.Name, b.Objective.Better(), formatValue(b.Value), b.Job, where)
}

// formatRun is a run's progress, "job 12 fold2 step 37 valLoss 0.41".
func formatRun(r RunSnapshot) string {
	return fmt.Sprintf("job %d %s", r.Job, formatStep(r))
}

// formatStep is a run's progress without its job: "fold2 step 37 valLoss
// 0.41" (no series for a run with one curve, no value for steps alone).
func formatStep(r RunSnapshot) string {
	var b strings.Builder
	if r.Series != "" {
		b.WriteString(r.Series + " ")
	}
	b.WriteString("step " + strconv.FormatFloat(r.Step, 'g', -1, 64))
	if r.Metric != "" {
		b.WriteString(" " + r.Metric + " " + formatValue(r.Value))
	}
	return b.String()
}

// formatValue shows a value with six significant digits, as the outcomes
// table and mljob status do, so that the numbers can be matched.
func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
