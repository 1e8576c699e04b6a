//go:build bench

package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"testing"
	"time"
)

// floodVariant is what the first job of a flood run prints.
type floodVariant struct {
	name  string
	lines int
	plain bool // plain text: the same work on the host, nothing for the progress path
}

// floodRun is one dispatch of a flood variant.
type floodRun struct {
	m           measured
	load        string
	floodTook   float64   // seconds, the first job's order from started to finished
	short       []float64 // seconds, each short job's order from started to finished
	shortBeside []float64 // those of short runs on the first job's host (its other slot)
	shortOthers []float64 // those on the other hosts
	shortSpan   float64   // seconds, the first short start to the last short end
	duringFlood int       // short runs that started while the first job's order ran
	dbGrowth    int64     // bytes: the database after the dispatch less after submit
	stored      storedCount
}

// floodResult is the flood runs over their rounds, by variant name.
type floodResult struct {
	lines, short, rounds int
	variants             []floodVariant
	runs                 map[string][]floodRun
	problems             []string
}

// benchFlood dispatches one job printing lines lines as fast as it can
// (claimed first: it has the higher priority) beside short short jobs
// (echo.py sleeping 0.2 s) on the other slots, in three variants taken in
// alternation: the lines are progress lines, the same lines as plain
// text, or no lines at all.
func (t *tools) benchFlood(tb testing.TB, l *lab, rounds, lines, short int) floodResult {
	tb.Helper()
	res := floodResult{lines: lines, short: short, rounds: rounds, runs: map[string][]floodRun{},
		variants: []floodVariant{{"progress lines", lines, false}, {"plain-text lines", lines, true}, {"no lines", 0, false}}}
	for r := range rounds {
		for k := range res.variants {
			v := res.variants[(r+k)%len(res.variants)]
			run, problem := t.floodOnce(tb, l, v, short)
			if problem != "" {
				res.problems = append(res.problems, fmt.Sprintf("round %d, %s: %s", r+1, v.name, problem))
				tb.Errorf("round %d, %s: %s", r+1, v.name, problem)
				continue
			}
			res.runs[v.name] = append(res.runs[v.name], run)
			o, b := summarise(run.shortOthers), summarise(run.shortBeside)
			tb.Logf("round %d %-17s wall %6.2fs  maxrss %5.1fMB  first job %6.2fs  short runs: other hosts %.3fs (max %.3f), its host %.3fs (max %.3f), span %.2fs, %d started during it; db +%d bytes, %d rows; load %s",
				r+1, v.name, run.m.wall.Seconds(), float64(run.m.maxRSS)/1024, run.floodTook, o.med, o.max, b.med, b.max,
				run.shortSpan, run.duringFlood, run.dbGrowth, run.stored.rows, run.load)
		}
	}
	return res
}

// floodOnce is one dispatch of variant v.
func (t *tools) floodOnce(tb testing.TB, l *lab, v floodVariant, short int) (floodRun, string) {
	tb.Helper()
	run := floodRun{load: loadAvg()}
	// The first job is submitted alone and at a higher priority, so it is
	// order 1 and claimed first, and the short jobs run beside it on the
	// other slots.
	first := []progressJob{{Script: "progress.py", Project: "flood", Payload: 0, Lines: v.lines, Plain: v.plain}}
	dbPath := t.submitFresh(tb, "flood-", first, "--priority", "1")
	rest := make([]progressJob, short)
	for i := range rest {
		rest[i] = progressJob{Script: "echo.py", Project: "flood", Payload: i + 1, SleepSeconds: floodShortSleep}
	}
	t.mustMljob(tb, dbPath, nil, "submit", "--scripts", t.scripts, jobsJSON(tb, t.dir, rest))
	before := dbBytes(dbPath)
	m, problem := t.dispatchChecked(tb, l, dbPath, short+1)
	run.m = m
	if problem != "" {
		return run, problem
	}
	run.dbGrowth = dbBytes(dbPath) - before
	run.stored = countStored(tb, dbPath)
	if want := int64(v.lines); !v.plain && run.stored.lines != want {
		return run, fmt.Sprintf("%d progress lines taken, want %d", run.stored.lines, want)
	}
	return run, t.floodTimes(tb, dbPath, &run)
}

// floodTimes reads the orders' start and end times into run.
func (t *tools) floodTimes(tb testing.TB, path string, run *floodRun) string {
	tb.Helper()
	conn := openRO(tb, path)
	defer conn.Close()
	// Order 1 is the first job's: rows come in id order.
	rows, err := conn.Query("SELECT id, host, started_at, finished_at FROM orders ORDER BY id")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var floodStart, floodEnd, firstShort, lastShort time.Time
	var floodHost string
	var starts []time.Time
	for rows.Next() {
		var id int64
		var host, started, finished string
		if err := rows.Scan(&id, &host, &started, &finished); err != nil {
			return fmt.Sprintf("read orders: %v", err)
		}
		s, err1 := time.Parse(time.RFC3339Nano, started)
		f, err2 := time.Parse(time.RFC3339Nano, finished)
		if err1 != nil || err2 != nil {
			return fmt.Sprintf("order %d: times %q, %q", id, started, finished)
		}
		if id == 1 {
			floodStart, floodEnd, floodHost = s, f, host
			continue
		}
		starts = append(starts, s)
		took := f.Sub(s).Seconds()
		run.short = append(run.short, took)
		if host == floodHost {
			run.shortBeside = append(run.shortBeside, took)
		} else {
			run.shortOthers = append(run.shortOthers, took)
		}
		if firstShort.IsZero() || s.Before(firstShort) {
			firstShort = s
		}
		if f.After(lastShort) {
			lastShort = f
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Sprintf("read orders: %v", err)
	}
	run.floodTook = floodEnd.Sub(floodStart).Seconds()
	run.shortSpan = lastShort.Sub(firstShort).Seconds()
	for _, s := range starts {
		if s.After(floodStart) && s.Before(floodEnd) {
			run.duringFlood++
		}
	}
	return ""
}

// dbBytes is the size of the database file and its WAL.
func dbBytes(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// latencyLines is the latency of the progress lines of one run: per line,
// from printed on the host (sentAt) to read by the dispatcher (the row's
// at) and to visible in the database file (seen by the reader).
type latencyLines struct {
	n, rows                       int
	interval                      float64
	total, toDispatcher, toCommit []float64 // seconds
	load                          string
	rss                           float64 // MB
	problem                       string
}

// benchProgressLatency runs one job printing n progress lines, one every
// latencyInterval, each with the wall-clock time it was printed at
// (sentAt), while a reader polls the database file read-only every
// readerPoll and notes when each line's row appears. Loopback hosts share
// the machine's clock.
func (t *tools) benchProgressLatency(tb testing.TB, l *lab, n int) latencyLines {
	tb.Helper()
	res := latencyLines{n: n, interval: latencyInterval, load: loadAvg()}
	job := progressJob{Script: "progress.py", Project: "latency", Payload: 0, Lines: n, Interval: latencyInterval, Clock: true}
	dbPath := t.submitFresh(tb, "latency-", []progressJob{job})
	conn := openRO(tb, dbPath)
	defer conn.Close()
	done := make(chan measured, 1)
	go func() {
		done <- measure(context.Background(), t.mljobEnv(dbPath), nil, t.mljob, "dispatch", "--hosts", l.hostsYAML,
			"--scripts", t.scripts, "--poll", pollInterval.String())
	}()
	var m measured
	finished := false
	for next := int64(0); ; {
		polled := time.Now()
		got, err := readSentAt(conn, next, polled)
		if err != nil {
			tb.Fatal(err)
		}
		for _, p := range got {
			res.total = append(res.total, p.seen.Sub(p.sent).Seconds())
			res.toDispatcher = append(res.toDispatcher, p.at.Sub(p.sent).Seconds())
			res.toCommit = append(res.toCommit, p.seen.Sub(p.at).Seconds())
		}
		next += int64(len(got))
		if finished || next >= int64(n) {
			break
		}
		select {
		case m = <-done:
			finished = true // one more read: rows saved as the run ended
		case <-time.After(readerPoll):
		}
	}
	if !finished {
		m = <-done
	}
	res.rows, res.rss = len(res.total), float64(m.maxRSS)/1024
	switch {
	case m.err != nil:
		res.problem = m.err.Error()
	case res.rows != n:
		res.problem = fmt.Sprintf("%d rows seen, want %d", res.rows, n)
	default:
		res.problem = t.checkOutcomes(tb, dbPath, 1)
	}
	if res.problem != "" {
		tb.Errorf("latency: %s", res.problem)
	}
	return res
}

// seenPoint is one sentAt row as the reader saw it.
type seenPoint struct{ sent, at, seen time.Time }

// readSentAt reads the sentAt rows from idx from on; seen is when the
// read began: a row it finds was committed before then, and was not when
// the read before began.
func readSentAt(conn *sql.DB, from int64, seen time.Time) ([]seenPoint, error) {
	rows, err := conn.Query("SELECT value, at FROM metrics WHERE name = 'sentAt' AND idx >= ? ORDER BY idx", from)
	if err != nil {
		return nil, fmt.Errorf("read sentAt rows: %w", err)
	}
	defer rows.Close()
	var out []seenPoint
	for rows.Next() {
		var sent float64
		var readAt string
		if err := rows.Scan(&sent, &readAt); err != nil {
			return nil, fmt.Errorf("read sentAt rows: %w", err)
		}
		t, err := time.Parse(time.RFC3339Nano, readAt)
		if err != nil {
			return nil, fmt.Errorf("read sentAt rows: at %q: %w", readAt, err)
		}
		sec := math.Floor(sent)
		out = append(out, seenPoint{sent: time.Unix(int64(sec), int64((sent-sec)*1e9)), at: t, seen: seen})
	}
	return out, rows.Err()
}
