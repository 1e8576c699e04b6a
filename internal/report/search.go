package report

import (
	"cmp"
	"slices"
	"sort"

	"github.com/mljob/mljob/internal/objective"
)

// minHistory is the fewest charted runs a section needs for its
// optimisation history and parameter importance: with fewer there is no
// history to read and no variance to split.
const minHistory = 3

// maxBins bounds the quantile bins of a numeric parameter's importance:
// with few runs per bin, every bin mean is noise, and eta squared grows
// with the number of bins whatever the parameter does.
const maxBins = 5

// HistoryPoint is one run of the optimisation history, in the order the
// runs ended.
type HistoryPoint struct {
	N     int     `json:"n"` // 1 for the first run to end
	JobID int64   `json:"job"`
	Value float64 `json:"value"`
	Best  float64 `json:"best"` // the best value of runs 1…N by the goal
}

// Importance is how much of the objective's variance one parameter's
// values explain (see importance).
type Importance struct {
	Param string `json:"param"`
	// EtaSq is the share of the objective's variance between the means of
	// the parameter's bins: 0 (the bins have one mean) to 1 (every run is
	// at its bin's mean).
	EtaSq float64 `json:"etaSq"`
	// Share is EtaSq over the sum of every parameter's, so the shares sum
	// to 1; 0 when no parameter explains anything.
	Share float64 `json:"share"`
	Bins  int     `json:"bins"`
}

// history is the charted runs in the order their outcomes were recorded
// (the order they ended), with the best value so far by o's goal.
func history(o objective.Objective, ok []run) []HistoryPoint {
	var xs []run
	for _, x := range ok {
		if x.obj.Finite {
			xs = append(xs, x)
		}
	}
	slices.SortStableFunc(xs, func(a, b run) int {
		return cmp.Or(a.row.CreatedAt.Compare(b.row.CreatedAt), cmp.Compare(a.row.ID, b.row.ID))
	})
	out := make([]HistoryPoint, len(xs))
	for i, x := range xs {
		best := x.obj.F
		if i > 0 && !o.Beats(best, out[i-1].Best) {
			best = out[i-1].Best
		}
		out[i] = HistoryPoint{N: i + 1, JobID: x.row.JobID, Value: x.obj.F, Best: best}
	}
	return out
}

// importance ranks params by eta squared, most important first. For each
// parameter the charted points are split into bins: a category each for a
// non-numeric field, for a number each distinct value when there are at
// most maxBins of them, else maxBins bins of about equal count by rank
// (quantiles; equal values always share a bin). Eta squared is the sum of
// squares between the bin means over the total sum of squares of the
// objective: the share of its variance the bins explain. Shares are the
// eta squares normalised to sum 1. Interactions between parameters are
// not seen, and with few runs per bin every parameter explains some
// variance by chance.
func importance(params []Param, points []Point) []Importance {
	if len(points) < 2 || len(params) == 0 {
		return nil
	}
	var mean float64
	for _, p := range points {
		mean += p.Value
	}
	mean /= float64(len(points))
	var total float64
	for _, p := range points {
		total += (p.Value - mean) * (p.Value - mean)
	}
	out := make([]Importance, len(params))
	var sum float64
	for j, prm := range params {
		bins := binOf(prm, j, points)
		sums, counts := map[int]float64{}, map[int]int{}
		for i, p := range points {
			sums[bins[i]] += p.Value
			counts[bins[i]]++
		}
		var between float64
		for b, n := range counts {
			m := sums[b] / float64(n)
			between += float64(n) * (m - mean) * (m - mean)
		}
		out[j] = Importance{Param: prm.Path, Bins: len(counts)}
		if total > 0 {
			out[j].EtaSq = min(between/total, 1)
		}
		sum += out[j].EtaSq
	}
	for j := range out {
		if sum > 0 {
			out[j].Share = out[j].EtaSq / sum
		}
	}
	slices.SortStableFunc(out, func(a, b Importance) int { return cmp.Compare(b.EtaSq, a.EtaSq) })
	return out
}

// binOf assigns each point its bin of parameter j (see importance).
func binOf(prm Param, j int, points []Point) []int {
	bins := make([]int, len(points))
	if !prm.Numeric {
		index := map[string]int{}
		for i, p := range points {
			s, _ := p.Values[j].(string)
			if _, seen := index[s]; !seen {
				index[s] = len(index)
			}
			bins[i] = index[s]
		}
		return bins
	}
	vals := make([]float64, len(points))
	for i, p := range points {
		vals[i], _ = p.Values[j].(float64)
	}
	distinct := slices.Clone(vals)
	sort.Float64s(distinct)
	distinct = slices.Compact(distinct)
	if len(distinct) <= maxBins {
		for i, v := range vals {
			bins[i], _ = slices.BinarySearch(distinct, v)
		}
		return bins
	}
	// Rank each value among all (ties by their lowest rank), and cut the
	// ranks into maxBins equal ranges: equal values share a bin.
	sorted := slices.Clone(vals)
	sort.Float64s(sorted)
	for i, v := range vals {
		rank, _ := slices.BinarySearch(sorted, v)
		bins[i] = rank * maxBins / len(sorted)
	}
	return bins
}

// CostPoint is one run of the objective-against-cost chart.
type CostPoint struct {
	JobID   int64   `json:"job"`
	Attempt int     `json:"attempt"`
	Cost    float64 `json:"cost"` // CPU-seconds, or GPU-seconds (see CostChart.Unit)
	Value   float64 `json:"value"`
}

// CostChart is the objective against what each run cost.
type CostChart struct {
	// Unit is "GPU-seconds" when any run held a GPU, else "CPU-seconds":
	// where GPUs were used they are what a run costs.
	Unit   string      `json:"unit"`
	Points []CostPoint `json:"points"`
}

// costs is the objective against cost of the runs with a finite
// objective and a recorded cost (db.Outcome.Cost); nil when none has one.
func costs(ok []run) *CostChart {
	var xs []run
	gpu := false
	for _, x := range ok {
		if x.obj.Finite && x.row.Cost != nil {
			xs = append(xs, x)
			gpu = gpu || x.row.Cost.GPUSeconds() > 0
		}
	}
	if len(xs) == 0 {
		return nil
	}
	c := &CostChart{Unit: "CPU-seconds", Points: make([]CostPoint, len(xs))}
	if gpu {
		c.Unit = "GPU-seconds"
	}
	for i, x := range xs {
		v := x.row.Cost.CPUSeconds()
		if gpu {
			v = x.row.Cost.GPUSeconds()
		}
		c.Points[i] = CostPoint{JobID: x.row.JobID, Attempt: x.row.Attempt, Cost: v, Value: x.obj.F}
	}
	return c
}
