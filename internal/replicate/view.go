package replicate

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/render"
)

// GroupView is one replicate group as outcomes --replicates shows it.
type GroupView struct {
	GroupID   int64        `json:"groupId"`
	Project   string       `json:"projectName"`
	SweepID   *int64       `json:"sweepId"` // null when the jobs were named
	Objective string       `json:"objective"`
	Goal      string       `json:"goal"`
	Seeds     int          `json:"seeds"`
	Holds     bool         `json:"rankingHolds"`
	Configs   []ConfigView `json:"configurations"`
}

// ConfigView is one configuration of a group: its source job, its rank
// when the group was made and by mean now, and the values.
type ConfigView struct {
	JobID      int64     `json:"jobId"`
	Rank       int       `json:"rank"`
	RankByMean int       `json:"rankByMean"`
	Mean       *float64  `json:"mean"` // null without values
	SD         *float64  `json:"sd"`   // null with fewer than two values
	N          int       `json:"n"`
	Values     []float64 `json:"values"`
	Jobs       []int64   `json:"jobs"`
	Missing    int       `json:"missing"`
}

// NewGroupView sums up g from values, each job's value of the group's
// objective (nil: none yet).
func NewGroupView(g db.ReplicateGroup, values map[int64]*float64) GroupView {
	sources := make([]Source, len(g.Sources))
	for i, s := range g.Sources {
		sources[i] = Source{JobID: s.JobID, Rank: s.Rank, Jobs: s.Jobs}
	}
	sum := Summarize(g.Objective, sources, values)
	v := GroupView{GroupID: g.ID, Project: g.Project, Objective: g.Objective.Name, Goal: string(g.Objective.Goal),
		Seeds: g.Seeds, Holds: sum.Holds, Configs: make([]ConfigView, len(sum.Configs))}
	if g.SweepID != 0 {
		id := g.SweepID
		v.SweepID = &id
	}
	for i, c := range sum.Configs {
		cv := ConfigView{JobID: c.Source, Rank: c.Rank, RankByMean: c.RankByMean, N: c.N, Values: c.Values, Jobs: c.Jobs, Missing: c.Missing}
		if cv.Values == nil {
			cv.Values, cv.Jobs = []float64{}, []int64{}
		}
		if c.N > 0 {
			m := c.Mean
			cv.Mean = &m
		}
		if c.N > 1 {
			sd := c.SD
			cv.SD = &sd
		}
		v.Configs[i] = cv
	}
	return v
}

// Table is the groups as one table (and its CSV): a row per configuration.
func Table(groups []GroupView) render.Table {
	t := render.Table{
		Headers: []string{"GROUP", "OBJECTIVE", "RANK", "JOB", "MEAN", "SD", "N", "VALUES", "BY MEAN", "MISSING"},
		Keys:    []string{"groupId", "objective", "rank", "jobId", "mean", "sd", "n", "values", "rankByMean", "missing"},
		Numeric: map[int]bool{0: true, 2: true, 3: true, 4: true, 5: true, 6: true, 8: true, 9: true},
	}
	for _, g := range groups {
		for _, c := range g.Configs {
			vals := make([]string, len(c.Values))
			for i, x := range c.Values {
				vals[i] = number(x)
			}
			t.Rows = append(t.Rows, []string{strconv.FormatInt(g.GroupID, 10), g.Objective + ":" + goalWord(g.Goal),
				strconv.Itoa(c.Rank), strconv.FormatInt(c.JobID, 10), optNumber(c.Mean), optNumber(c.SD),
				strconv.Itoa(c.N), strings.Join(vals, " "), strconv.Itoa(c.RankByMean), strconv.Itoa(c.Missing)})
		}
	}
	return t
}

// WriteNotes writes, per group, whether the ranking by mean holds, to w
// (stderr): what a table cannot say in a column.
func WriteNotes(w io.Writer, groups []GroupView) error {
	for _, g := range groups {
		var err error
		if g.Holds {
			_, err = fmt.Fprintf(w, "Group %d: the ranking by mean %s holds over %d configuration(s).\n", g.GroupID, g.Objective, len(g.Configs))
		} else {
			first := g.Configs[0]
			for _, c := range g.Configs {
				if c.RankByMean == 1 {
					first = c
				}
			}
			_, err = fmt.Fprintf(w, "Group %d: the ranking by mean %s does not hold: job %d (rank %d) is first by mean.\n",
				g.GroupID, g.Objective, first.JobID, first.Rank)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func goalWord(goal string) string {
	if goal == "maximize" {
		return "max"
	}
	return "min"
}

// number shows a value with six significant digits, as outcomes shows a
// loss; CSV readers that want every digit read -o json.
func number(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }

func optNumber(x *float64) string {
	if x == nil {
		return ""
	}
	return number(*x)
}
