package report

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/outcomeview"
)

// The bounds of the learning curves a page holds. The queue keeps up to
// about 20,000 points per curve (internal/progress); a page needs far
// fewer to draw one, and must stay small enough to open.
const (
	// maxCurvePoints bounds the points of one run's curve on the page.
	maxCurvePoints = 500
	// minCurvePoints is the fewest a curve is thinned to, however many
	// runs share maxPagePoints.
	minCurvePoints = 50
	// maxPagePoints is the points all curves of a page share, down to
	// minCurvePoints each.
	maxPagePoints = 200_000
	// topCurves is how many of the best runs are drawn in colour.
	topCurves = 5
	// maxConfigText bounds a curve's config text in its hover.
	maxConfigText = 240
)

// MetricReader reads what the queue stored of an attempt's progress lines;
// *db.DB is one.
type MetricReader interface {
	// MetricCurves lists the attempt's curves (series and metric name).
	MetricCurves(ctx context.Context, orderID int64, attempt int) ([]db.MetricCurve, error)
	// Metrics returns the attempt's points, by series and step.
	Metrics(ctx context.Context, f db.MetricFilter) ([]db.MetricPoint, error)
}

// CurveSet is what ReadCurves read: per objective, the metric its
// learning-curve chart draws, and each run's curve of it.
type CurveSet struct {
	metric map[objective.Objective]string
	runs   map[attemptKey]curve
}

type attemptKey struct {
	order   int64
	attempt int
}

// curve is one run's learning curve as the page draws it: [step, value]
// pairs by step, the mean over series at each step.
type curve struct {
	series int // the series averaged (CV folds), 1 for a plain curve
	points [][2]float64
}

// ReadCurves reads the learning curves of rows' succeeded and pruned runs
// (baselines and superseded attempts aside) from src: a pruned run's
// curve ends where its pruner stopped it. Per objective it draws one
// metric: the objective itself when the runs' progress lines carry it,
// else (see pickMetric) the validation curve they print. A run with
// several series (nn.py's CV folds) is drawn as the mean over its series
// at each step, of those that reached the step. Each curve is thinned to
// at most maxCurvePoints (fewer when many runs share maxPagePoints),
// keeping its first, last, lowest and highest point.
func ReadCurves(ctx context.Context, src MetricReader, rows []db.OutcomeRow) (*CurveSet, error) {
	set := &CurveSet{metric: map[objective.Objective]string{}, runs: map[attemptKey]curve{}}
	byObj := map[objective.Objective][]db.OutcomeRow{}
	var order []objective.Objective
	n := 0
	for _, row := range rows {
		if !row.Succeeded && !row.Pruned || row.Superseded != "" || isBaseline(row.Spec, outcomeFields(row.JSON)) {
			continue
		}
		o := row.Objective
		if o.Name == "" {
			o = objective.Default
		}
		if _, seen := byObj[o]; !seen {
			order = append(order, o)
		}
		byObj[o] = append(byObj[o], row)
		n++
	}
	limit := curveLimit(n)
	for _, o := range order {
		if err := set.read(ctx, src, o, byObj[o], limit); err != nil {
			return nil, fmt.Errorf("read learning curves: %w", err)
		}
	}
	return set, nil
}

// read picks objective o's curve metric from its runs' curves and reads
// each run's curve of it.
func (s *CurveSet) read(ctx context.Context, src MetricReader, o objective.Objective, rows []db.OutcomeRow, limit int) error {
	has := make([]map[string]bool, len(rows))
	var names []string
	for i, row := range rows {
		curves, err := src.MetricCurves(ctx, row.OrderID, row.Attempt)
		if err != nil {
			return err
		}
		has[i] = map[string]bool{}
		for _, c := range curves {
			if !has[i][c.Name] {
				has[i][c.Name] = true
				names = append(names, c.Name)
			}
		}
	}
	name := pickMetric(o, names)
	if name == "" {
		return nil
	}
	s.metric[o] = name
	for i, row := range rows {
		if !has[i][name] {
			continue
		}
		pts, err := src.Metrics(ctx, db.MetricFilter{OrderID: row.OrderID, Attempt: row.Attempt, Name: name})
		if err != nil {
			return err
		}
		if c := meanCurve(pts); len(c.points) > 0 {
			c.points = thinCurve(c.points, limit)
			s.runs[attemptKey{row.OrderID, row.Attempt}] = c
		}
	}
	return nil
}

// pickMetric is the metric a learning-curve chart of objective o draws
// from the names the runs' progress lines carry: o's name; else a
// validation curve, the held-out error closest to a held-out objective
// (valLoss, then val_loss, then the first name that starts with "val");
// else loss; else the first name in alphabetical order. "" for none.
func pickMetric(o objective.Objective, names []string) string {
	if len(names) == 0 {
		return ""
	}
	for _, want := range []string{o.Name, "valLoss", "val_loss"} {
		if slices.Contains(names, want) {
			return want
		}
	}
	sorted := slices.Sorted(slices.Values(names))
	for _, n := range sorted {
		if strings.HasPrefix(strings.ToLower(n), "val") {
			return n
		}
	}
	if slices.Contains(sorted, "loss") {
		return "loss"
	}
	return sorted[0]
}

// curveLimit is the points each of n curves may keep on the page.
func curveLimit(n int) int {
	if n == 0 {
		return maxCurvePoints
	}
	return min(maxCurvePoints, max(minCurvePoints, maxPagePoints/n))
}

// meanCurve averages pts (one metric of one attempt, by series and step)
// over its series at each step, to six significant digits: a step only
// some series reached (a fold that stopped early) is the mean of those.
func meanCurve(pts []db.MetricPoint) curve {
	type acc struct {
		sum float64
		n   int
	}
	bySteps := map[float64]*acc{}
	series := map[string]bool{}
	for _, p := range pts {
		series[p.Series] = true
		a := bySteps[p.Step]
		if a == nil {
			a = &acc{}
			bySteps[p.Step] = a
		}
		a.sum += p.Value
		a.n++
	}
	c := curve{series: len(series), points: make([][2]float64, 0, len(bySteps))}
	for step, a := range bySteps {
		c.points = append(c.points, [2]float64{step, sixDigits(a.sum / float64(a.n))})
	}
	slices.SortFunc(c.points, func(a, b [2]float64) int { return cmp.Compare(a[0], b[0]) })
	return c
}

// sixDigits rounds v to six significant digits: a chart cannot show
// more, and the page's JSON is a third the size.
func sixDigits(v float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// thinCurve keeps at most limit (at least 4) of pts, evenly spaced by
// index, always with the first, the last, the lowest and the highest.
func thinCurve(pts [][2]float64, limit int) [][2]float64 {
	limit = max(limit, 4)
	if len(pts) <= limit {
		return pts
	}
	keep := make([]bool, len(pts))
	lo, hi := 0, 0
	for i, p := range pts {
		if p[1] < pts[lo][1] {
			lo = i
		}
		if p[1] > pts[hi][1] {
			hi = i
		}
	}
	keep[lo], keep[hi] = true, true
	slots := limit - 2 // the grid, first and last included
	last := len(pts) - 1
	for k := range slots {
		keep[int(math.Round(float64(k)*float64(last)/float64(slots-1)))] = true
	}
	out := make([][2]float64, 0, limit)
	for i, p := range pts {
		if keep[i] {
			out = append(out, p)
		}
	}
	return out
}

// CurveInfo says what a group's learning-curve chart draws, for the
// page's text.
type CurveInfo struct {
	// Metric is the curve drawn; IsObjective when it is the objective.
	Metric      string
	IsObjective bool
	Runs        int // succeeded runs with a curve
	// Pruned counts the pruned runs with a curve, drawn dashed.
	Pruned int
	// MaxSeries is the most series (CV folds) a run's curve averages.
	MaxSeries int
}

// Curves is what a group's learning-curve chart draws.
type Curves struct {
	Metric      string  `json:"metric"`
	IsObjective bool    `json:"isObjective"`
	Runs        []Curve `json:"runs"`
}

// Curve is one run's learning curve on the page.
type Curve struct {
	JobID   int64 `json:"job"`
	OrderID int64 `json:"order"`
	// Rank is the run's place among the group's runs with a curve, by
	// the objective, for the topCurves best (drawn in colour); 0 for the
	// rest (drawn faint).
	Rank int `json:"rank"`
	// Objective is the run's final value of the objective, as text.
	Objective string `json:"objective"`
	// Config is the run's values of the varying job fields.
	Config string       `json:"config"`
	Series int          `json:"series"`
	Points [][2]float64 `json:"points"`
	// Pruned is, for a run its pruner stopped, the verdict (drawn dashed
	// and faint, never ranked); "" for a run that ran to its end.
	Pruned string `json:"pruned,omitempty"`
}

// forGroup is what the learning-curve chart of objective o draws of runs
// (the group's succeeded candidates), best first by o, then of pruned
// (its pruned candidates), by job; nil when none of them has a curve.
func (s *CurveSet) forGroup(o objective.Objective, params []Param, runs, pruned []run) (*CurveInfo, *Curves) {
	name := s.metric[o]
	ranked, stopped := s.withCurves(runs), s.withCurves(pruned)
	if name == "" || len(ranked)+len(stopped) == 0 {
		return nil, nil
	}
	rankObjective(ranked)
	info := &CurveInfo{Metric: name, IsObjective: name == o.Name, Runs: len(ranked), Pruned: len(stopped)}
	cs := &Curves{Metric: name, IsObjective: info.IsObjective, Runs: make([]Curve, len(ranked), len(ranked)+len(stopped))}
	for _, x := range stopped {
		c := s.runs[attemptKey{x.row.OrderID, x.row.Attempt}]
		info.MaxSeries = max(info.MaxSeries, c.series)
		cs.Runs = append(cs.Runs, Curve{JobID: x.row.JobID, OrderID: x.row.OrderID, Objective: x.obj.Text,
			Config: configText(params, x), Series: c.series, Points: c.points,
			Pruned: cmp.Or(outcomeview.OneLine(x.row.Error, outcomeview.FormatCSV), "pruned")})
	}
	for i, x := range ranked {
		c := s.runs[attemptKey{x.row.OrderID, x.row.Attempt}]
		info.MaxSeries = max(info.MaxSeries, c.series)
		cs.Runs[i] = Curve{JobID: x.row.JobID, OrderID: x.row.OrderID, Objective: x.obj.Text,
			Config: configText(params, x), Series: c.series, Points: c.points}
		if i < topCurves && x.obj.Finite {
			cs.Runs[i].Rank = i + 1
		}
	}
	return info, cs
}

// withCurves is those of runs that have a curve, in their order.
func (s *CurveSet) withCurves(runs []run) []run {
	var out []run
	for _, x := range runs {
		if _, ok := s.runs[attemptKey{x.row.OrderID, x.row.Attempt}]; ok {
			out = append(out, x)
		}
	}
	return out
}

// configText is a run's values of the varying fields: "learningRate=0.01,
// optimizer=adam", cut at maxConfigText.
func configText(params []Param, x run) string {
	parts := make([]string, len(params))
	for i, p := range params {
		parts[i] = p.Path + "=" + x.fields[p.Path].text()
	}
	s := strings.Join(parts, ", ")
	if r := []rune(s); len(r) > maxConfigText {
		s = string(r[:maxConfigText-1]) + "…"
	}
	return s
}
