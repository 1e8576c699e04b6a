package report

import (
	"sort"

	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/replicate"
)

// ChartData is what the page's script reads; it holds finite numbers only.
type ChartData struct {
	Groups    []GroupChart `json:"groups"`
	HostTimes []HostTimes  `json:"hostTimes"`
	// Replicates are the replicate groups (mljob replicate), as
	// outcomes --replicates sums them up.
	Replicates []replicate.GroupView `json:"replicates"`
}

// GroupChart is what one objective's charts draw: its runs only.
type GroupChart struct {
	ID        string `json:"id"`
	Objective string `json:"objective"`
	// Better is "lower is better" or "higher is better"; every chart of
	// the group says it, and colours its best runs as good by it.
	Better         string    `json:"better"`
	HigherIsBetter bool      `json:"higherIsBetter"`
	Params         []Param   `json:"params"`
	Points         []Point   `json:"points"`
	Baseline       *Baseline `json:"baseline"`
	// Curves are the learning curves; nil when there are none.
	Curves *Curves `json:"curves"`
	// History is the optimisation history (the runs in the order they
	// ended, with the best so far) and Importance the parameters by how
	// much of the objective's variance they explain; both nil with fewer
	// than minHistory charted runs.
	History    []HistoryPoint `json:"history"`
	Importance []Importance   `json:"importance"`
	// Cost is the objective against each run's cost; nil when no charted
	// run has a recorded cost.
	Cost *CostChart `json:"cost"`
}

// Point is one charted run: a succeeded run, not a baseline, with a
// finite objective.
type Point struct {
	JobID   int64 `json:"job"`
	OrderID int64 `json:"order"`
	// Values are the run's Params in order: a float64 for a numeric field,
	// the category text otherwise.
	Values []any    `json:"values"`
	Loss   *float64 `json:"loss"` // nil unless finite
	Value  float64  `json:"value"`
	// Spread is the objective's standard deviation over folds, drawn as
	// an error bar of ±Spread; nil when the run reports none.
	Spread *float64 `json:"spread,omitempty"`
}

// HostTimes are the durations of one host's succeeded runs.
type HostTimes struct {
	Host    string     `json:"host"`
	Seconds []float64  `json:"seconds"`
	Box     [5]float64 `json:"box"`
	Failed  int        `json:"failed"`
}

// groupChart gathers the finite numbers g's charts draw from its
// succeeded runs that are not baselines, and counts g.OffChart.
func groupChart(g *Group, ok []run) GroupChart {
	c := GroupChart{
		ID: g.ID, Objective: g.Objective.Name, Better: g.Objective.Better(),
		HigherIsBetter: g.Objective.Goal == objective.Maximize, Baseline: g.Baseline, Points: []Point{},
	}
	for _, x := range ok {
		if !x.obj.Finite {
			g.OffChart++
			continue
		}
		p := Point{JobID: x.row.JobID, OrderID: x.row.OrderID, Value: x.obj.F, Spread: x.spread, Values: make([]any, len(g.Params))}
		if x.loss.Finite {
			p.Loss = &x.loss.F
		}
		for j, prm := range g.Params {
			if f, isNum := x.fields[prm.Path].number(); prm.Numeric && isNum {
				p.Values[j] = f
			} else {
				p.Values[j] = x.fields[prm.Path].text()
			}
		}
		c.Points = append(c.Points, p)
	}
	for j := range g.Params {
		prm := &g.Params[j]
		if prm.Numeric {
			continue
		}
		byCat := map[string][]float64{}
		for _, p := range c.Points {
			cat := p.Values[j].(string)
			byCat[cat] = append(byCat[cat], p.Value)
		}
		for cat := range byCat {
			prm.Categories = append(prm.Categories, cat)
		}
		sortCategories(prm.Categories)
		for _, cat := range prm.Categories {
			prm.Boxes = append(prm.Boxes, fiveNumbers(byCat[cat]))
		}
	}
	c.Params = g.Params
	return c
}

// hostTimes gathers each host's run times of succeeded runs and its
// failures, whatever their objective: time is not ranked.
func hostTimes(r *Report, runs []run) []HostTimes {
	out := []HostTimes{}
	byHost := map[string]*HostTimes{}
	for _, h := range r.Hosts {
		byHost[h] = &HostTimes{Host: h, Seconds: []float64{}}
	}
	for _, x := range runs {
		if h := byHost[x.row.Host]; h != nil && x.row.Succeeded && isFinite(x.row.DurationSeconds) {
			h.Seconds = append(h.Seconds, x.row.DurationSeconds)
		}
	}
	for _, f := range r.Failures {
		if h := byHost[f.Host]; h != nil {
			h.Failed++
		}
	}
	for _, h := range r.Hosts {
		ht := byHost[h]
		sort.Float64s(ht.Seconds)
		if len(ht.Seconds) > 0 {
			ht.Box = fiveNumbers(ht.Seconds)
		}
		out = append(out, *ht)
	}
	return out
}
