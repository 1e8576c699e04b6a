package replicate

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/mljob/mljob/internal/fieldcheck"
	"github.com/mljob/mljob/internal/jobfields"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/sweep"
)

// DefaultSeedField is the seed field of a script that declares none.
const DefaultSeedField = "seed"

// SeedFields are the fields a replicate gets new values of: those decl
// names under seeds, else DefaultSeedField (decl nil: no declaration).
func SeedFields(decl *fieldcheck.Decl) []fieldcheck.Seed {
	if decl != nil && len(decl.Seeds) > 0 {
		return decl.Seeds
	}
	return []fieldcheck.Seed{{Path: DefaultSeedField}}
}

// Specs makes n copies of spec, the i-th (from 1) with each seed field
// set to its value in spec (else its declared default, else 0) plus
// skip+i: skip is the number of replicates made of spec before, so that
// seeds never repeat across groups. A seed field spec holds that is not a
// whole number is an error naming it; one spec lacks is added.
func Specs(spec []byte, seeds []fieldcheck.Seed, skip, n int) ([][]byte, error) {
	plan := &sweep.Plan{AllowNew: true, Points: make([][]json.RawMessage, n)}
	bases := make([]int64, len(seeds))
	for k, s := range seeds {
		path, err := sweep.ParsePath(s.Path)
		if err != nil {
			return nil, fmt.Errorf("seed field %s: %w", s.Path, err)
		}
		plan.Paths = append(plan.Paths, path)
		parts, err := jobfields.ParsePath(s.Path)
		if err != nil {
			return nil, fmt.Errorf("seed field %s: %w", s.Path, err)
		}
		if raw, ok := jobfields.Lookup(spec, parts); ok {
			v, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("seed field %s is %s, not a whole number", s.Path, raw)
			}
			bases[k] = v
		} else if s.Default != nil {
			bases[k] = *s.Default
		}
	}
	for i := range n {
		pt := make([]json.RawMessage, len(seeds))
		for k := range seeds {
			pt[k] = json.RawMessage(strconv.FormatInt(bases[k]+int64(skip+i+1), 10))
		}
		plan.Points[i] = pt
	}
	return plan.Apply(spec)
}

// Config is one configuration of a replicate group, summed up.
type Config struct {
	// Source is the job whose configuration it is; Rank its rank when the
	// group was made (1 the best), RankByMean its rank now by Mean.
	Source     int64
	Rank       int
	RankByMean int
	// Values are the objective's values of the source's run and of each
	// replicate that has one, in that order; Jobs names whose each is.
	Values []float64
	Jobs   []int64
	// Missing counts the replicates without a value yet (queued, running,
	// failed, or no number).
	Missing int
	// Mean and SD are the values' mean and sample standard deviation (n-1;
	// 0 with one value); N is len(Values).
	Mean, SD float64
	N        int
}

// Summary is a replicate group summed up: its configurations by their
// original rank, and whether ranking them by mean gives the same order.
type Summary struct {
	Objective objective.Objective
	Configs   []Config
	Holds     bool
}

// Summarize sums up the configurations of a group: for each, its source
// job and its replicate jobs, and values, each job's value of obj (nil:
// none). Configurations without any value are ranked last by mean.
func Summarize(obj objective.Objective, sources []Source, values map[int64]*float64) Summary {
	s := Summary{Objective: obj, Configs: make([]Config, len(sources)), Holds: true}
	for i, src := range sources {
		c := Config{Source: src.JobID, Rank: src.Rank}
		for _, j := range append([]int64{src.JobID}, src.Jobs...) {
			if v := values[j]; v != nil && !math.IsNaN(*v) {
				c.Values = append(c.Values, *v)
				c.Jobs = append(c.Jobs, j)
			} else if j != src.JobID {
				c.Missing++
			}
		}
		c.N = len(c.Values)
		c.Mean, c.SD = meanSD(c.Values)
		s.Configs[i] = c
	}
	order := make([]int, len(s.Configs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ca, cb := s.Configs[a], s.Configs[b]
		switch {
		case ca.N == 0 || cb.N == 0:
			return boolInt(ca.N == 0) - boolInt(cb.N == 0)
		case obj.Beats(ca.Mean, cb.Mean):
			return -1
		case obj.Beats(cb.Mean, ca.Mean):
			return 1
		}
		return ca.Rank - cb.Rank
	})
	for r, i := range order {
		s.Configs[i].RankByMean = r + 1
	}
	slices.SortStableFunc(s.Configs, func(a, b Config) int { return a.Rank - b.Rank })
	for i, c := range s.Configs {
		if c.RankByMean != i+1 {
			s.Holds = false
		}
	}
	return s
}

// Source is a configuration of a group as Summarize takes it: its source
// job, its rank then, and its replicate jobs.
type Source struct {
	JobID int64
	Rank  int
	Jobs  []int64
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// meanSD is the mean and sample standard deviation of vs (0, 0 for none;
// SD 0 for one).
func meanSD(vs []float64) (mean, sd float64) {
	if len(vs) == 0 {
		return 0, 0
	}
	for _, v := range vs {
		mean += v
	}
	mean /= float64(len(vs))
	if len(vs) == 1 {
		return mean, 0
	}
	var ss float64
	for _, v := range vs {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(vs)-1))
}
