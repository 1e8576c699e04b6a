package hostsview

import (
	"sort"
	"strconv"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/render"
)

// Row is one host of mljob hosts list, as -o json prints it.
type Row struct {
	Host           string     `json:"host"`
	Status         string     `json:"status"`
	Since          *time.Time `json:"since"`
	SeenAt         *time.Time `json:"seenAt"`
	Load           *float64   `json:"load"`
	Runs           int        `json:"runs"`
	Done           int        `json:"done"`
	Failed         int        `json:"failed"`
	Active         int        `json:"active"`
	MeanRunSeconds *float64   `json:"meanRunSeconds"`
	LastError      string     `json:"lastError"`
}

// Rows joins the recorded hosts with their attempt counts, by host name; a
// host with attempts but no record (an older queue) still gets a row.
func Rows(recs []db.HostRecord, runs []db.HostRuns) []Row {
	rows := []Row{}
	for _, h := range recs {
		rows = append(rows, Row{Host: h.Name, Status: h.Status, Since: timePtr(h.Since), SeenAt: timePtr(h.SeenAt), Load: h.Load, LastError: h.LastError})
	}
	byHost := map[string]*Row{}
	for i := range rows {
		byHost[rows[i].Host] = &rows[i]
	}
	var extra []Row
	for _, n := range runs {
		r := byHost[n.Host]
		if r == nil {
			extra = append(extra, Row{Host: n.Host})
			r = &extra[len(extra)-1]
		}
		r.Runs, r.Done, r.Failed, r.Active = n.Runs, n.Succeeded, n.Failed, n.Active
		if n.Timed > 0 {
			s := n.MeanRun.Seconds()
			r.MeanRunSeconds = &s
		}
	}
	rows = append(rows, extra...)
	sort.Slice(rows, func(i, j int) bool { return rows[i].Host < rows[j].Host })
	return rows
}

// ListTable is the hosts list table of rows in format: times and the mean
// run for people in a table, RFC 3339 UTC and seconds in CSV.
func ListTable(rows []Row, format string) render.Table {
	t := render.Table{
		Headers: []string{"HOST", "STATUS", "SINCE", "LAST SEEN", "LOAD", "RUNS", "DONE", "FAILED", "ACTIVE", "MEAN RUN", "LAST ERROR"},
		Keys:    []string{"host", "status", "since", "seenAt", "load", "runs", "done", "failed", "active", "meanRunSeconds", "lastError"},
		Numeric: map[int]bool{4: true, 5: true, 6: true, 7: true, 8: true, 9: true},
	}
	for _, r := range rows {
		mean := "-"
		if r.MeanRunSeconds != nil {
			mean = (time.Duration(*r.MeanRunSeconds * float64(time.Second))).Round(100 * time.Millisecond).String()
			if format == render.FormatCSV {
				mean = strconv.FormatFloat(*r.MeanRunSeconds, 'f', -1, 64)
			}
		}
		load := "-"
		if r.Load != nil {
			load = strconv.FormatFloat(*r.Load, 'f', 2, 64)
		}
		t.Rows = append(t.Rows, []string{r.Host, dash(r.Status), timeCell(r.Since, format), timeCell(r.SeenAt, format), load,
			strconv.Itoa(r.Runs), strconv.Itoa(r.Done), strconv.Itoa(r.Failed), strconv.Itoa(r.Active), mean, dash(r.LastError)})
	}
	return t
}

// timePtr is t, or nil for the zero time (JSON null).
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// timeCell shows a time in local time for people, RFC 3339 UTC in CSV.
func timeCell(t *time.Time, format string) string {
	if t == nil {
		return "-"
	}
	if format == render.FormatCSV {
		return t.UTC().Format(time.RFC3339)
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
