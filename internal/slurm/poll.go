package slurm

import (
	"strconv"
	"strings"
	"time"
)

// runReport is one run dir as pollScript saw it.
type runReport struct {
	task       string // "" when the run dir names none
	dir        string // done, fenced, started, prepared, missing
	start, end time.Time
}

// pollReport is one pollScript answer.
type pollReport struct {
	runs map[string]runReport
	// tasks maps "JOB_INDEX" to squeue's state; nil when squeue was not
	// asked, or failed (squeueErr says how).
	tasks     map[string]string
	squeueErr string
}

// parsePoll reads pollScript's output.
func parsePoll(out string) pollReport {
	r := pollReport{runs: map[string]runReport{}}
	inSqueue := false
	var squeue []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case inSqueue && len(f) == 2 && f[0] == "squeue-end":
			inSqueue = false
			status, _ := strconv.Atoi(f[1])
			r.tasks = map[string]string{}
			if status != 0 {
				text := strings.Join(squeue, " ")
				// Every job asked for is gone from the controller's memory:
				// squeue fails instead of printing nothing.
				if !strings.Contains(text, "Invalid job id") {
					r.squeueErr = strings.TrimSpace(text)
					r.tasks = nil
				}
				continue
			}
			for _, l := range squeue {
				if g := strings.Fields(l); len(g) == 2 {
					r.tasks[g[0]] = g[1]
				}
			}
		case inSqueue:
			squeue = append(squeue, line)
		case len(f) == 1 && f[0] == "squeue":
			inSqueue = true
		case len(f) >= 4 && f[0] == "run":
			rr := runReport{dir: f[3]}
			if f[2] != "-" {
				rr.task = f[2]
			}
			if len(f) >= 6 {
				rr.start, rr.end = epoch(f[4]), epoch(f[5])
			}
			r.runs[f[1]] = rr
		}
	}
	return r
}

// epoch reads seconds since the epoch with an optional fraction; "-" or
// anything else unreadable is the zero time.
func epoch(s string) time.Time {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}
	}
	var ns int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
			ns = 0
		}
	}
	return time.Unix(n, ns)
}

// parseSacct reads "JOBID|STATE" lines; a state may carry words after it
// ("CANCELLED by 1000").
func parseSacct(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		id, state, ok := strings.Cut(strings.TrimSpace(line), "|")
		if !ok || id == "" {
			continue
		}
		if f := strings.Fields(state); len(f) > 0 {
			m[id] = f[0]
		}
	}
	return m
}
