package dispatch

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync/atomic"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/progress"
	"github.com/mljob/mljob/internal/prune"
)

// pruner judges one attempt's progress lines by its job's pruner rule
// (internal/prune) as they are saved, and stops the run it prunes. It is
// driven by the attempt's progressSink, one flush at a time, so its fields
// need no lock.
//
// Each point of the series judged is judged in the order printed, as
// Optuna judges each trial.report: a point at the step already judged is
// ignored (Optuna ignores a step reported twice), and for successive
// halving a point below the next rung's step is passed without a look at
// the queue. What a verdict rests on is written in the transaction that
// reaches it (db.JudgeRung, db.Prune), so a restarted dispatcher goes on
// from the same rungs.
type pruner struct {
	d        *dispatcher
	hs       *hostState
	o        db.Order
	k        *killer
	runID    string
	rule     prune.Rule
	obj      objective.Objective
	name     string // the metric judged: the rule's Metric, else the objective's
	series   string
	fixed    bool    // series is chosen
	nextRung int     // asha: the first rung not recorded
	lastStep float64 // the step judged last; NaN before the first
	best     prune.Point
	hasBest  bool
	// completed are the study's succeeded runs' curves read so far (the
	// median rule's): a finished run's curve does not change, so each is
	// read once.
	completed map[db.AttemptRef]map[float64]float64
	done      bool // pruned, or judging is broken: no more verdicts

	// nextAt is the step of the next rung (asha), as float64 bits, or +Inf
	// when no more verdicts come: read by due from the engine's delivery.
	nextAt atomic.Uint64
}

// due reports whether one of points reaches the next rung, so that it is
// to be judged at once. Safe to call beside judge.
func (p *pruner) due(points []progress.Watched) bool {
	if p.rule.Kind != prune.KindASHA {
		return false // the median rule judges every point: at each save
	}
	at := math.Float64frombits(p.nextAt.Load())
	for _, w := range points {
		if w.Step >= at {
			return true
		}
	}
	return false
}

// setNext records the next rung's step for due.
func (p *pruner) setNext() {
	at := math.Inf(1)
	if !p.done {
		at = p.rule.RungStep(p.nextRung)
	}
	p.nextAt.Store(math.Float64bits(at))
}

// newPruner returns c's pruner on hs, or nil when its job has none. An
// attempt attached again goes on from what the queue holds of it.
func (d *dispatcher) newPruner(hs *hostState, c *db.Claim, k *killer, runID string, resume bool) *pruner {
	rule := c.Job.Pruner
	if rule.IsZero() {
		return nil
	}
	p := &pruner{d: d, hs: hs, o: c.Order, k: k, runID: runID, rule: rule.WithDefaults(), obj: c.Job.Objective,
		lastStep: math.NaN()}
	if p.obj == (objective.Objective{}) {
		p.obj = objective.Default
	}
	p.name = rule.Judged(p.obj.Name)
	if rule.Series != "" {
		p.series, p.fixed = rule.Series, true
	}
	if resume {
		st, err := d.db.PruneState(d.saveCtx, c.Order.ID, c.Order.Attempt, p.name)
		if err != nil {
			d.warnf("order %d on %s: it is not pruned: %v", c.Order.ID, hs.cfg.Name, err)
			return nil
		}
		p.nextRung = st.NextRung
		if st.HasSeries && !p.fixed {
			p.series, p.fixed = st.Series, true
		}
		p.done = st.Pruned
	}
	p.setNext()
	return p
}

// judge judges the points read since the last call (progress.Ingest's
// Watched), after they were saved.
func (p *pruner) judge(points []progress.Watched) {
	var curves []map[float64]float64 // median: the completed runs', looked up once per call
	var read bool
	defer p.setNext()
	for _, w := range points {
		if p.done {
			return
		}
		if !p.fixed {
			p.series, p.fixed = w.Series, true
		}
		if w.Series != p.series || w.Step == p.lastStep {
			continue
		}
		p.lastStep = w.Step
		var err error
		switch p.rule.Kind {
		case prune.KindASHA:
			err = p.asha(w)
		case prune.KindMedian:
			if !read {
				curves, err = p.completedCurves()
				read = true
			}
			if err == nil {
				err = p.median(w, curves)
			}
		}
		if err != nil {
			p.done = true
			p.d.warnf("order %d on %s: it is no longer pruned: %v", p.o.ID, p.hs.cfg.Name, oneLine(err.Error()))
		}
	}
}

// asha judges one point by successive halving.
func (p *pruner) asha(w progress.Watched) error {
	if w.Step < p.rule.RungStep(p.nextRung) {
		return nil // Optuna's first test: below the next rung, nothing to judge
	}
	judge := func(competing func(int) ([]float64, error)) (prune.Decision, error) {
		return p.rule.ASHA(p.obj.Goal, p.nextRung, w.Step, w.Value, competing)
	}
	var d prune.Decision
	var pruned bool
	err := p.d.save(fmt.Sprintf("order %d: judge its rung", p.o.ID), func(ctx context.Context) error {
		var err error
		d, pruned, err = p.d.db.JudgeRung(ctx, db.Pruning{OrderID: p.o.ID, Attempt: p.o.Attempt, Series: p.series}, p.reason, judge)
		return err
	})
	if err != nil {
		return err
	}
	if n := len(d.Records); n > 0 {
		p.nextRung = d.Records[n-1].Rung + 1
	}
	if pruned {
		p.stop(d)
	} else if d.Prune {
		p.done = true // the order moved on (cancelled, finished) before the verdict
	}
	return nil
}

// completedCurves adds the curves of the runs of the study that succeeded
// since the last call to those read before, and returns them all.
func (p *pruner) completedCurves() ([]map[float64]float64, error) {
	fresh, err := p.d.db.StudyCurves(p.d.saveCtx, p.o.ID, p.series, p.name, p.completed)
	if err != nil {
		return nil, err
	}
	if p.completed == nil {
		p.completed = map[db.AttemptRef]map[float64]float64{}
	}
	maps.Copy(p.completed, fresh)
	return slices.Collect(maps.Values(p.completed)), nil
}

// median judges one point by the median rule against the succeeded runs'
// curves.
func (p *pruner) median(w progress.Watched, completed []map[float64]float64) error {
	if !math.IsNaN(w.Value) && (!p.hasBest || p.obj.Beats(w.Value, p.best.Value)) {
		p.best, p.hasBest = prune.Point{Step: w.Step, Value: w.Value}, true
	}
	// The best point so far and the newest stand for the whole curve: the
	// rule reads only its best value and its newest step.
	curve := []prune.Point{{Step: w.Step, Value: w.Value}}
	if p.hasBest {
		curve = []prune.Point{p.best, {Step: w.Step, Value: w.Value}}
	}
	d := p.rule.Median(p.obj.Goal, curve, completed)
	if !d.Prune {
		return nil
	}
	var pruned bool
	err := p.d.save(fmt.Sprintf("order %d: prune", p.o.ID), func(ctx context.Context) error {
		var err error
		pruned, err = p.d.db.Prune(ctx, db.Pruning{OrderID: p.o.ID, Attempt: p.o.Attempt, Series: p.series, Decision: d, Reason: p.reason(d)})
		return err
	})
	if err != nil {
		return err
	}
	p.done = true
	if pruned {
		p.stop(d)
	}
	return nil
}

// stop kills the pruned run; its outcome, once recorded, is reported
// pruned (see record).
func (p *pruner) stop(d prune.Decision) {
	p.done = true
	run := prunedRun{step: d.Step, series: p.series}
	if !math.IsNaN(d.Value) {
		run.value = &d.Value
	}
	p.d.markPruned(p.o, run)
	p.d.kill(p.d.saveCtx, p.hs, p.k, p.runID, p.reason(d))
}

// reason is the verdict in words: the order's last error and its
// outcome's.
func (p *pruner) reason(d prune.Decision) string {
	return "pruned " + prune.Verdict(p.rule, p.name, p.series, d)
}

// prunedRun is what the OrderPruned event of a run this dispatcher
// pruned says of the point it was judged on.
type prunedRun struct {
	step   float64
	series string
	value  *float64
}

// markPruned notes that o's attempt was pruned, so that its outcome is
// reported as such (see record).
func (d *dispatcher) markPruned(o db.Order, r prunedRun) {
	d.jobs.mu.Lock()
	defer d.jobs.mu.Unlock()
	if d.jobs.pruned == nil {
		d.jobs.pruned = map[attemptKey]prunedRun{}
	}
	d.jobs.pruned[keyOf(o)] = r
}

// takePruned returns, once, what markPruned noted of o's attempt.
func (d *dispatcher) takePruned(o db.Order) (prunedRun, bool) {
	d.jobs.mu.Lock()
	defer d.jobs.mu.Unlock()
	k := keyOf(o)
	r, ok := d.jobs.pruned[k]
	delete(d.jobs.pruned, k)
	return r, ok
}
