package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engines"
	"github.com/mljob/mljob/internal/render"
)

type statusOptions struct {
	app    *app
	output string
	now    func() time.Time
}

func newStatusCmd(a *app) *cobra.Command {
	opts := &statusOptions{app: a, now: time.Now}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Count orders per state and list the running ones",
		Long: `Status prints, per project, how many orders are in each state, then the
orders assigned or running, with their host and elapsed time. For each host
entry with runs handed to Slurm, a last line counts those Slurm has yet to
start and those it is running ("campus: Slurm 12 pending, 4 running"). In
JSON, an active order handed to Slurm has "slurm": {"jobId", "arrayIndex",
"state"}.

Exit codes: 0 ok, 1 error, 2 usage error.`,
		Example: `  mljob status
  mljob status -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd.Context(), opts)
		},
	}
	addOutputFlag(cmd, &opts.output)
	return cmd
}

type projectStatus struct {
	ProjectName string         `json:"projectName"`
	Counts      map[string]int `json:"counts"`
	Total       int            `json:"total"`
	Active      []activeOrder  `json:"active"`
}

type activeOrder struct {
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
	Slurm *showSlurm `json:"slurm,omitempty"`
}

func runStatus(ctx context.Context, opts *statusOptions) error {
	store, err := opts.app.openDB(ctx, db.ReadOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	st, err := store.Status(ctx)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	projects, activeRows := statusRows(st, opts.now())
	t := statusTable(projects)
	if opts.output != render.FormatTable {
		return render.Write(opts.app.io.Out, opts.output, t, projects)
	}
	if len(projects) == 0 {
		fmt.Fprintln(opts.app.io.ErrOut, "The queue is empty. Add jobs with: mljob submit job.json")
		return nil
	}
	if err := render.WriteTable(opts.app.io.Out, t); err != nil {
		return err
	}
	if len(activeRows) > 0 {
		fmt.Fprintln(opts.app.io.Out)
		if err := render.WriteTable(opts.app.io.Out, render.Table{
			Headers: []string{"ORDER", "JOB", "PROJECT", "STATE", "HOST", "SLOT", "ELAPSED"},
			Rows:    activeRows,
			Numeric: map[int]bool{0: true, 1: true, 6: true},
		}); err != nil {
			return err
		}
	}
	return writeSlurmCounts(opts.app.io.Out, engines.QueueCounts(st.Active))
}

// statusRows are st's projects as the JSON form shows them, each with its
// active orders, and the table rows of the active orders, elapsed at now.
func statusRows(st db.QueueStatus, now time.Time) ([]*projectStatus, [][]string) {
	projects := []*projectStatus{}
	byName := map[string]*projectStatus{}
	for _, c := range st.Projects {
		p := &projectStatus{ProjectName: c.Project, Counts: map[string]int{}, Total: c.Total, Active: []activeOrder{}}
		for s, n := range c.Counts {
			p.Counts[string(s)] = n
		}
		byName[c.Project] = p
		projects = append(projects, p)
	}
	var rows [][]string
	for _, o := range st.Active {
		elapsed := now.Sub(o.Since())
		if p := byName[o.Project]; p != nil {
			p.Active = append(p.Active, activeOrder{OrderID: o.ID, JobID: o.JobID, State: string(o.State), Host: o.Host,
				Slot: o.Slot, Attempt: o.Attempt, ElapsedSeconds: elapsed.Seconds(), HostStatus: st.HostStatus[o.Host],
				Slurm: newShowSlurm(o.Slurm)})
		}
		state := string(o.State)
		if st.HostStatus[o.Host] == "down" {
			// The run goes on there as far as anyone knows; it is given up
			// only after dispatch --lost-after.
			state += " (host unreachable)"
		}
		rows = append(rows, []string{strconv.FormatInt(o.ID, 10), strconv.FormatInt(o.JobID, 10),
			o.Project, state, o.Host, o.Slot, elapsed.Round(time.Second).String()})
	}
	return projects, rows
}

// statusTable is the counts table: a row per project, a column per state.
func statusTable(projects []*projectStatus) render.Table {
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

// writeSlurmCounts writes, after a blank line, one line per host entry with
// Slurm tasks, by host name: "campus: Slurm 12 pending, 4 running". With no
// host entry it writes nothing, so the output without Slurm is as before.
func writeSlurmCounts(w io.Writer, counts map[string]engines.QueueCount) error {
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
