// Package statusview is what mljob status prints of the queue: per
// project, the count of orders in each state, the progress of each sweep
// (and of the project's jobs outside sweeps) with its best run by its
// objective, and the active orders (their host, slot and elapsed time, and
// the Slurm task of one handed to Slurm), as tables or as JSON; and the
// line per host entry counting the tasks Slurm has yet to start and is
// running (engines.QueueCounts). It builds rows from a db.QueueStatus and
// writes them (Write); cmd/mljob reads the queue. Pruned orders are
// counted apart from failed ones.
package statusview

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engines"
	"github.com/mljob/mljob/internal/outcomeview"
	"github.com/mljob/mljob/internal/render"
)

// Project is one project of mljob status -o json: its counts by state,
// its active orders and its sweeps' progress.
type Project struct {
	ProjectName string         `json:"projectName"`
	Counts      map[string]int `json:"counts"`
	Total       int            `json:"total"`
	Active      []ActiveOrder  `json:"active"`
	Sweeps      []Sweep        `json:"sweeps"`
}

// ActiveOrder is an order assigned or running, in mljob status -o json.
type ActiveOrder struct {
	OrderID        int64   `json:"orderId"`
	JobID          int64   `json:"jobId"`
	State          string  `json:"state"`
	Host           string  `json:"host"`
	Slot           string  `json:"slot"`
	Attempt        int     `json:"attempt"`
	ElapsedSeconds float64 `json:"elapsedSeconds"`
	HostStatus     string  `json:"hostStatus,omitempty"`
	// Slurm is nil, and left out, for an order not handed to Slurm. JSON
	// gives each order's task rather than per-host counts: the output is
	// an array of projects, with no place for a map of hosts.
	Slurm *outcomeview.Slurm `json:"slurm,omitempty"`
}

// Build returns st's projects as the JSON form shows them, each with its
// active orders, and the table of the active orders, elapsed at now.
func Build(st db.QueueStatus, now time.Time) ([]*Project, render.Table) {
	projects := []*Project{}
	byName := map[string]*Project{}
	for _, c := range st.Projects {
		p := &Project{ProjectName: c.Project, Counts: map[string]int{}, Total: c.Total, Active: []ActiveOrder{}, Sweeps: []Sweep{}}
		for s, n := range c.Counts {
			p.Counts[string(s)] = n
		}
		byName[c.Project] = p
		projects = append(projects, p)
	}
	active := render.Table{
		Headers: []string{"ORDER", "JOB", "PROJECT", "STATE", "HOST", "SLOT", "ELAPSED"},
		Numeric: map[int]bool{0: true, 1: true, 6: true},
	}
	for _, sp := range st.Sweeps {
		p := byName[sp.Project]
		if p == nil {
			// A project whose only sweep is a tpe sweep with no trial
			// yet (registered, not dispatched) has no order to count;
			// it is shown with zero counts, so that status tells of it.
			p = &Project{ProjectName: sp.Project, Counts: map[string]int{}, Active: []ActiveOrder{}, Sweeps: []Sweep{}}
			for _, s := range db.OrderStates {
				p.Counts[string(s)] = 0
			}
			byName[sp.Project] = p
			projects = append(projects, p)
		}
		p.Sweeps = append(p.Sweeps, NewSweep(sp))
	}
	for _, o := range st.Active {
		elapsed := now.Sub(o.Since())
		if p := byName[o.Project]; p != nil {
			p.Active = append(p.Active, ActiveOrder{OrderID: o.ID, JobID: o.JobID, State: string(o.State), Host: o.Host,
				Slot: o.Slot, Attempt: o.Attempt, ElapsedSeconds: elapsed.Seconds(), HostStatus: st.HostStatus[o.Host],
				Slurm: outcomeview.NewSlurm(o.Slurm)})
		}
		state := string(o.State)
		if st.HostStatus[o.Host] == "down" {
			// The run goes on there as far as anyone knows; it is given up
			// only after dispatch --lost-after.
			state += " (host unreachable)"
		}
		active.Rows = append(active.Rows, []string{strconv.FormatInt(o.ID, 10), strconv.FormatInt(o.JobID, 10),
			o.Project, state, o.Host, o.Slot, elapsed.Round(time.Second).String()})
	}
	return projects, active
}

// CountsTable is the counts table: a row per project, a column per state.
func CountsTable(projects []*Project) render.Table {
	t := render.Table{Headers: []string{"PROJECT"}, Keys: []string{"projectName"}, Numeric: map[int]bool{}}
	for i, s := range db.OrderStates {
		t.Headers = append(t.Headers, string(s))
		t.Keys = append(t.Keys, string(s))
		t.Numeric[i+1] = true
	}
	t.Headers = append(t.Headers, "total")
	t.Keys = append(t.Keys, "total")
	t.Numeric[len(db.OrderStates)+1] = true
	for _, p := range projects {
		row := []string{p.ProjectName}
		for _, s := range db.OrderStates {
			row = append(row, strconv.Itoa(p.Counts[string(s)]))
		}
		t.Rows = append(t.Rows, append(row, strconv.Itoa(p.Total)))
	}
	return t
}

// WriteSlurmCounts writes, after a blank line, one line per host entry with
// Slurm tasks, by host name: "campus: Slurm 12 pending, 4 running". With no
// host entry it writes nothing, so the output without Slurm is as before.
func WriteSlurmCounts(w io.Writer, counts map[string]engines.QueueCount) error {
	if len(counts) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("\n")
	for _, host := range slices.Sorted(maps.Keys(counts)) {
		c := counts[host]
		fmt.Fprintf(&b, "%s: Slurm %d pending, %d running\n", host, c.Pending, c.Running)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write slurm counts: %w", err)
	}
	return nil
}

// Write writes what mljob status prints of st in format: as JSON or CSV
// the counts (JSON with each project's sweeps and active orders); as
// tables the counts, the sweeps' progress, the active orders and the
// Slurm counts, or on errW, for an empty queue, how to fill it.
func Write(w, errW io.Writer, st db.QueueStatus, now time.Time, format string) error {
	projects, active := Build(st, now)
	t := CountsTable(projects)
	if format != render.FormatTable {
		return render.Write(w, format, t, projects)
	}
	if len(projects) == 0 {
		fmt.Fprintln(errW, "The queue is empty. Add jobs with: mljob submit job.json")
		return nil
	}
	tables := []render.Table{t, SweepsTable(projects)}
	if len(active.Rows) > 0 {
		tables = append(tables, active)
	}
	for i, t := range tables {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return fmt.Errorf("write status: %w", err)
			}
		}
		if err := render.WriteTable(w, t); err != nil {
			return err
		}
	}
	return WriteSlurmCounts(w, engines.QueueCounts(st.Active))
}
