//go:build bench

package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the reader's driver, as internal/db's
)

// Knobs of the progress benchmark (BENCH_ prefix, upper case).
const (
	defaultProgressRounds = 5       // rounds of the 100-lines-or-none comparison
	defaultProgressJobs   = 400     // trivial jobs per run of that comparison
	progressLinesPerJob   = 100     // progress lines each of those jobs prints
	defaultFloodLines     = 1000000 // lines of the flood run
	defaultFloodShort     = 160     // short jobs beside the flood
	defaultFloodRounds    = 3
	floodShortSleep       = 0.2  // seconds: each short job's sleep
	defaultLatencyLines   = 1000 // lines of the latency run
	latencyInterval       = 0.02 // seconds between two of them
	readerPoll            = 5 * time.Millisecond
)

// progressJob is a job of bench/testdata/progress.py, or of echo.py for
// the short jobs beside a flood.
type progressJob struct {
	Script       string  `json:"scriptName"`
	Project      string  `json:"projectName"`
	Payload      int     `json:"payload"`
	Lines        int     `json:"lines,omitempty"`
	Interval     float64 `json:"intervalSeconds,omitempty"`
	Plain        bool    `json:"plain,omitempty"`
	Clock        bool    `json:"clock,omitempty"`
	SleepSeconds float64 `json:"sleepSeconds,omitempty"`
}

// TestProgress measures the progress path (make bench-progress): the
// dispatch wall of 400 trivial jobs printing 100 progress lines each
// against the same jobs printing none, a run printing a million lines
// beside short jobs on the other slots, and the latency from a line
// printed on a host to its row in SQLite. It writes BENCHMARKS.md's
// progress section.
func TestProgress(t *testing.T) {
	tl := buildTools(t)
	src, err := os.ReadFile(filepath.Join("testdata", "progress.py"))
	if err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, filepath.Join(tl.scripts, "progress.py"), string(src), 0o644)
	l := startLab(t, tl.dir, defaultHosts, defaultSlots)
	rep := &progressReport{hosts: len(l.servers), slots: l.slots, machine: machineInfo(t)}
	t.Run("lines", func(t *testing.T) {
		rep.lines = tl.benchProgressLines(t, l, envInt("BENCH_PROGRESS_ROUNDS", defaultProgressRounds),
			envInt("BENCH_PROGRESS_JOBS", defaultProgressJobs))
	})
	t.Run("flood", func(t *testing.T) {
		rep.flood = tl.benchFlood(t, l, envInt("BENCH_FLOOD_ROUNDS", defaultFloodRounds),
			envInt("BENCH_FLOOD_LINES", defaultFloodLines), envInt("BENCH_FLOOD_SHORT", defaultFloodShort))
	})
	t.Run("latency", func(t *testing.T) {
		rep.latency = tl.benchProgressLatency(t, l, envInt("BENCH_PROGRESS_LATENCY_N", defaultLatencyLines))
	})
	md := rep.markdown()
	t.Logf("\n%s", md)
	if os.Getenv("BENCH_WRITE") != "0" {
		if err := writeSection(filepath.Join(repoRoot(t), "BENCHMARKS.md"), progressBegin, progressEnd, md); err != nil {
			t.Fatal(err)
		}
	}
}

// linesVariant is one side of the 100-lines-or-none comparison.
type linesVariant struct {
	name  string
	lines int
}

// linesResult is the comparison over its rounds.
type linesResult struct {
	jobs, rounds int
	variants     []linesVariant
	walls        map[string][]float64 // by variant, per round; 0 where the run failed
	cpuPerJob    map[string][]float64 // ms
	rss          map[string][]float64 // MB
	loads        []string             // /proc/loadavg at each round's start
	stored       []storedCount        // the 100-line variant's, per round
	problems     []string
}

// storedCount is what a run left in the metrics tables.
type storedCount struct{ rows, lines, skipped int64 }

// benchProgressLines runs the same 400 jobs printing 100 progress lines
// each and printing none, in alternation, and checks that every line was
// stored: one metrics row per line (each line has one metric, loss).
func (t *tools) benchProgressLines(tb testing.TB, l *lab, rounds, n int) linesResult {
	tb.Helper()
	res := linesResult{jobs: n, rounds: rounds, walls: map[string][]float64{}, cpuPerJob: map[string][]float64{},
		rss:      map[string][]float64{},
		variants: []linesVariant{{fmt.Sprintf("%d progress lines a job", progressLinesPerJob), progressLinesPerJob}, {"no progress lines", 0}}}
	for r := range rounds {
		res.loads = append(res.loads, loadAvg())
		for k := range res.variants {
			v := res.variants[(r+k)%len(res.variants)]
			jobs := make([]progressJob, n)
			for i := range jobs {
				jobs[i] = progressJob{Script: "progress.py", Project: "lines", Payload: i, Lines: v.lines}
			}
			dbPath := t.submitFresh(tb, "lines-", jobs)
			m, problem := t.dispatchChecked(tb, l, dbPath, n)
			if problem == "" && v.lines > 0 {
				c := countStored(tb, dbPath)
				res.stored = append(res.stored, c)
				if want := int64(n * v.lines); c.rows != want || c.lines != want || c.skipped != 0 {
					problem = fmt.Sprintf("stored %d metric rows and %d lines (%d skipped), want %d", c.rows, c.lines, c.skipped, want)
				}
			}
			if problem != "" {
				res.problems = append(res.problems, fmt.Sprintf("round %d, %s: %s", r+1, v.name, problem))
				tb.Errorf("round %d, %s: %s", r+1, v.name, problem)
				res.walls[v.name] = append(res.walls[v.name], 0)
				continue
			}
			res.walls[v.name] = append(res.walls[v.name], m.wall.Seconds())
			res.cpuPerJob[v.name] = append(res.cpuPerJob[v.name], float64(m.cpu.Microseconds())/1000/float64(n))
			res.rss[v.name] = append(res.rss[v.name], float64(m.maxRSS)/1024)
			tb.Logf("round %d %-26s wall %6.2fs  cpu/job %5.2fms  maxrss %5.1fMB  load %s", r+1, v.name, m.wall.Seconds(),
				float64(m.cpu.Microseconds())/1000/float64(n), float64(m.maxRSS)/1024, res.loads[r])
		}
	}
	return res
}

// submitFresh submits jobs to a new database, with submit's flags, and
// returns its path.
func (t *tools) submitFresh(tb testing.TB, prefix string, jobs any, flags ...string) string {
	tb.Helper()
	dbPath := filepath.Join(mustMkdirTemp(tb, t.dir, prefix), "mljob.db")
	args := append([]string{"submit", "--scripts", t.scripts}, flags...)
	t.mustMljob(tb, dbPath, nil, append(args, jobsJSON(tb, t.dir, jobs))...)
	return dbPath
}

// dispatchChecked times mljob dispatch over the lab until the queue is
// empty and checks its record: n jobs succeeded, each once.
func (t *tools) dispatchChecked(tb testing.TB, l *lab, dbPath string, n int, flags ...string) (measured, string) {
	tb.Helper()
	argv := append([]string{t.mljob, "dispatch", "--hosts", l.hostsYAML,
		"--scripts", t.scripts, "--poll", pollInterval.String()}, flags...)
	m := measure(context.Background(), t.mljobEnv(dbPath), nil, argv...)
	if m.err != nil {
		return m, m.err.Error()
	}
	return m, t.checkOutcomes(tb, dbPath, n)
}

// openRO opens the database file read-only, as a program reading what the
// dispatcher wrote would.
func openRO(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	conn, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		tb.Fatal(err)
	}
	return conn
}

// countStored counts the metric rows, the progress lines taken and those
// skipped, over every attempt of the database.
func countStored(tb testing.TB, path string) storedCount {
	tb.Helper()
	conn := openRO(tb, path)
	defer conn.Close()
	var c storedCount
	for _, q := range []struct {
		sql string
		dst *int64
	}{
		{"SELECT COUNT(*) FROM metrics", &c.rows},
		{"SELECT COALESCE(SUM(lines), 0) FROM progress", &c.lines},
		{"SELECT COALESCE(SUM(count), 0) FROM progress_skipped", &c.skipped},
	} {
		if err := conn.QueryRow(q.sql).Scan(q.dst); err != nil {
			tb.Fatalf("%s: %v", q.sql, err)
		}
	}
	return c
}

// loadAvg is /proc/loadavg's first three fields.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
