package jobinput

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/render"
)

// DryRunRow is a job a dry run would queue, as submit -o json prints it.
type DryRunRow struct {
	Index       int                        `json:"index"` // its place in the submit, from 1
	ProjectName string                     `json:"projectName"`
	ScriptName  string                     `json:"scriptName"`
	Values      map[string]json.RawMessage `json:"values,omitempty"`
	Input       string                     `json:"input"`
}

// QueuedRow is a job queued, as submit -o json prints it.
type QueuedRow struct {
	JobID       int64                      `json:"jobId"`
	OrderID     int64                      `json:"orderId"`
	ProjectName string                     `json:"projectName"`
	ScriptName  string                     `json:"scriptName"`
	SweepID     int64                      `json:"sweepId,omitempty"`
	SweepName   string                     `json:"sweepName,omitempty"`
	Values      map[string]json.RawMessage `json:"values,omitempty"`
	Input       string                     `json:"input"`
}

// Table is what submit prints of res, a db.Submit of b: the jobs queued,
// or with dryRun (res a dry run) the jobs it would queue, numbered; either
// way a column per sweep path, and without the jobs --dedupe skipped. rows
// is the -o json value, []DryRunRow or []QueuedRow, never nil.
func (b *Batch) Table(res db.SubmitResult, dryRun bool) (t render.Table, rows any) {
	if dryRun {
		return b.dryRunTable(res)
	}
	t = render.Table{
		Headers: append(append([]string{"JOB", "ORDER", "PROJECT", "SCRIPT"}, b.Paths...), "INPUT"),
		Keys:    append(append([]string{"jobId", "orderId", "projectName", "scriptName"}, b.Paths...), "input"),
		Numeric: map[int]bool{0: true, 1: true},
	}
	queued := []QueuedRow{}
	for i, s := range res.Jobs {
		j := b.Jobs[i]
		if s.Skipped {
			continue
		}
		r := QueuedRow{JobID: s.JobID, OrderID: s.OrderID, ProjectName: j.Project, ScriptName: j.Script,
			Values: valueMap(b.Paths, j.Values), Input: j.Where}
		if res.Sweep != nil {
			r.SweepID, r.SweepName = res.Sweep.ID, res.Sweep.Name
		}
		queued = append(queued, r)
		cells := []string{strconv.FormatInt(s.JobID, 10), strconv.FormatInt(s.OrderID, 10), j.Project, j.Script}
		t.Rows = append(t.Rows, append(append(cells, valueTexts(j.Values)...), j.Where))
	}
	return t, queued
}

// dryRunTable is Table of a dry run.
func (b *Batch) dryRunTable(res db.SubmitResult) (render.Table, any) {
	t := render.Table{
		Headers: append(append([]string{"#", "PROJECT", "SCRIPT"}, b.Paths...), "INPUT"),
		Keys:    append(append([]string{"index", "projectName", "scriptName"}, b.Paths...), "input"),
		Numeric: map[int]bool{0: true},
	}
	rows := []DryRunRow{}
	for i, j := range b.Jobs {
		if res.Jobs[i].Skipped {
			continue
		}
		rows = append(rows, DryRunRow{i + 1, j.Project, j.Script, valueMap(b.Paths, j.Values), j.Where})
		cells := []string{strconv.Itoa(i + 1), j.Project, j.Script}
		t.Rows = append(t.Rows, append(append(cells, valueTexts(j.Values)...), j.Where))
	}
	return t, rows
}

// valueTexts shows sweep values in a table: strings without their quotes.
func valueTexts(vals []json.RawMessage) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		var s string
		if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
			out[i] = s
		} else {
			out[i] = string(v)
		}
	}
	return out
}

// valueMap is a job's sweep values for -o json, by path.
func valueMap(paths []string, vals []json.RawMessage) map[string]json.RawMessage {
	if vals == nil {
		return nil
	}
	m := make(map[string]json.RawMessage, len(paths))
	for k, p := range paths {
		m[p] = vals[k]
	}
	return m
}

// Duplicate is a job of a submit identical to jobs already in the queue,
// or earlier in the submit, in the same project.
type Duplicate struct {
	Skipped bool   // --dedupe left it out
	Job     string // "job 12"; in a dry run, whose ids are not real, "this job"
	Of      string // the jobs it is identical to: "3, 4"; in a dry run "#2 of this submit" for a job of the submit
	Project string
}

// Duplicates lists the jobs of res (a db.Submit of b, a dry run with
// dryRun) that have duplicates, in order.
func (b *Batch) Duplicates(res db.SubmitResult, dryRun bool) []Duplicate {
	index := map[int64]int{} // job id → place in this submit, for a dry run
	if dryRun {
		for i, s := range res.Jobs {
			if !s.Skipped {
				index[s.JobID] = i + 1
			}
		}
	}
	var out []Duplicate
	for i, s := range res.Jobs {
		if len(s.Duplicates) == 0 {
			continue
		}
		ids := make([]string, len(s.Duplicates))
		for k, id := range s.Duplicates {
			if n, ok := index[id]; ok {
				ids[k] = "#" + strconv.Itoa(n) + " of this submit"
			} else {
				ids[k] = strconv.FormatInt(id, 10)
			}
		}
		d := Duplicate{Skipped: s.Skipped, Job: "job " + strconv.FormatInt(s.JobID, 10), Of: strings.Join(ids, ", "), Project: b.Jobs[i].Project}
		if dryRun {
			d.Job = "this job"
		}
		out = append(out, d)
	}
	return out
}
