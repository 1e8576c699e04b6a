//go:build bench

package bench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
)

// Knobs, each overridable by an environment variable of the same name in
// upper case with a BENCH_ prefix (BENCH_ROUNDS=5 make bench).
const (
	defaultRounds     = 3   // rounds of the dispatcher comparison, each running every contender once
	defaultJobs       = 400 // trivial jobs per comparison run
	defaultHosts      = 4
	defaultSlots      = 2
	defaultScaleHosts = 100 // the RSS test: hosts × 4 slots
	defaultLatencyN   = 20  // submissions timed for the --follow latency
	defaultOutcomes   = 100_000
	utilJobs          = 100
	utilSleep         = 0.2       // seconds per job in the utilisation test
	cacheFileBytes    = 100 << 20 // the shared data file of the upload-cache test
	pollInterval      = 200 * time.Millisecond
)

// dispatcher is one contender of the comparison.
type dispatcher struct {
	name    string
	command string // as shown in BENCHMARKS.md
	run     func(tb testing.TB, jobs []benchJob) (measured, string)
}

// result is what a contender did over the rounds.
type result struct {
	walls, cpuPerJob, rss []float64 // seconds, ms, MB, of the clean runs
	byRound               []float64 // wall per round, 0 where the run failed
	problems              []string
	phases                []phases // from dispatch -v's timeline, where it printed one
}

func TestCompare(t *testing.T) {
	rounds := envInt("BENCH_ROUNDS", defaultRounds)
	nJobs := envInt("BENCH_JOBS", defaultJobs)
	tl := buildTools(t)
	l := startLab(t, tl.dir, envInt("BENCH_HOSTS", defaultHosts), envInt("BENCH_SLOTS", defaultSlots))
	rep := &report{rounds: rounds, jobs: nJobs, hosts: len(l.servers), slots: l.slots}
	rep.machine = machineInfo(t)
	t.Logf("machine:\n%s", rep.machine)

	ds := []dispatcher{
		{
			name:    "mljob",
			command: fmt.Sprintf("mljob submit jobs.json; mljob dispatch --hosts hosts.yaml --poll %s", pollInterval),
			run: func(tb testing.TB, jobs []benchJob) (measured, string) {
				return tl.runMljob(tb, l, jobs)
			},
		},
		{
			name:    "parallel (plain)",
			command: fmt.Sprintf("parallel --ssh ./ssh -S %s < commands.txt", l.sshlogins),
			run: func(tb testing.TB, jobs []benchJob) (measured, string) {
				return tl.runRaw(tb, jobs, "parallel", "--will-cite", "--ssh", l.sshWrapper, "-S", l.sshlogins)
			},
		},
		{
			name:    "parallel -M",
			command: fmt.Sprintf("parallel -M --ssh ./ssh -S %s < commands.txt", l.sshlogins),
			run: func(tb testing.TB, jobs []benchJob) (measured, string) {
				return tl.runRaw(tb, jobs, "parallel", "--will-cite", "-M", "--ssh", l.sshWrapper, "-S", l.sshlogins)
			},
		},
		{
			name:    "floor",
			command: fmt.Sprintf("floor -hosts hosts.json -slots %d < commands.txt", l.slots),
			run: func(tb testing.TB, jobs []benchJob) (measured, string) {
				return tl.runRaw(tb, jobs, tl.floor, "-hosts", l.floorHosts, "-user", l.keys.User,
					"-identity", l.keys.IdentityFile, "-known-hosts", l.keys.KnownHosts, "-slots", strconv.Itoa(l.slots))
			},
		},
	}
	// The same dispatcher with its two speed-ups taken away, one at a
	// time: a new interpreter per run (--cold-start), then no host agent
	// at all, one shell session per run (--no-agent).
	for _, flag := range []string{"--cold-start", "--no-agent"} {
		ds = append(ds, dispatcher{
			name:    "mljob " + flag,
			command: fmt.Sprintf("mljob submit jobs.json; mljob dispatch --hosts hosts.yaml --poll %s %s", pollInterval, flag),
			run: func(tb testing.TB, jobs []benchJob) (measured, string) {
				return tl.runMljob(tb, l, jobs, flag)
			},
		})
	}
	rep.dispatchers = ds

	t.Run("compare", func(t *testing.T) {
		rep.compare = alternate(t, ds, rounds, makeJobs("bench", nJobs, 0))
	})
	t.Run("utilisation", func(t *testing.T) {
		// -v: the timeline that splits mljob's wall time into phases.
		verbose := func(name string, flags ...string) dispatcher {
			return dispatcher{name: name, run: func(tb testing.TB, jobs []benchJob) (measured, string) {
				return tl.runMljob(tb, l, jobs, append(flags, "-v")...)
			}}
		}
		util := []dispatcher{verbose("mljob"), verbose("mljob --cold-start", "--cold-start")}
		rep.util = alternate(t, append(util, pick(t, ds, "floor")...), rounds, makeJobs("util", utilJobs, utilSleep))
	})
	t.Run("submit", func(t *testing.T) {
		rep.submit = tl.benchSubmit(t, rounds)
	})
	t.Run("outcomes", func(t *testing.T) {
		rep.outcomes = tl.benchOutcomes(t, rounds, envInt("BENCH_OUTCOMES", defaultOutcomes))
	})
	t.Run("gobench", func(t *testing.T) {
		rep.gobench = goBenchmarks(t)
	})
	t.Run("latency", func(t *testing.T) {
		rep.latency = tl.benchLatency(t, l, envInt("BENCH_LATENCY_N", defaultLatencyN))
	})
	t.Run("uploadcache", func(t *testing.T) {
		rep.cache = tl.benchUploadCache(t, l)
	})
	t.Run("scale", func(t *testing.T) {
		rep.scale = tl.benchScale(t, envInt("BENCH_SCALE_HOSTS", defaultScaleHosts))
	})

	md := rep.markdown()
	t.Logf("\n%s", md)
	if os.Getenv("BENCH_WRITE") != "0" {
		if err := writeGenerated(filepath.Join(repoRoot(t), "BENCHMARKS.md"), md); err != nil {
			t.Fatal(err)
		}
	}
}

// alternate runs every dispatcher on the same jobs, round after round,
// starting each round with the next one so that none always runs first
// (after another's leftovers) or last. A run that loses or duplicates
// jobs is recorded as a problem and its time is not counted.
func alternate(t *testing.T, ds []dispatcher, rounds int, jobs []benchJob) map[string]*result {
	res := map[string]*result{}
	for _, d := range ds {
		res[d.name] = &result{}
	}
	for r := range rounds {
		for k := range ds {
			d := ds[(r+k)%len(ds)]
			m, problem := d.run(t, jobs)
			out := res[d.name]
			if m.err != nil && problem == "" {
				problem = m.err.Error()
			}
			if problem != "" {
				out.byRound = append(out.byRound, 0)
				out.problems = append(out.problems, fmt.Sprintf("round %d: %s", r+1, problem))
				t.Errorf("%s, round %d: %s", d.name, r+1, problem)
				continue
			}
			if p, ok := parsePhases(m.stderr, m.wall); ok {
				out.phases = append(out.phases, p)
			}
			out.walls = append(out.walls, m.wall.Seconds())
			out.byRound = append(out.byRound, m.wall.Seconds())
			out.cpuPerJob = append(out.cpuPerJob, float64(m.cpu.Microseconds())/1000/float64(len(jobs)))
			out.rss = append(out.rss, float64(m.maxRSS)/1024)
			t.Logf("round %d %-17s wall %6.2fs  cpu/job %6.2fms  maxrss %5.1fMB", r+1, d.name, m.wall.Seconds(),
				float64(m.cpu.Microseconds())/1000/float64(len(jobs)), float64(m.maxRSS)/1024)
		}
	}
	return res
}

// runMljob submits jobs to a fresh database and times mljob dispatch over
// the lab until the queue is empty; submit is not part of the figure.
func (t *tools) runMljob(tb testing.TB, l *lab, jobs []benchJob, flags ...string) (measured, string) {
	tb.Helper()
	return t.dispatchChecked(tb, l, t.submitFresh(tb, "db-", jobs), len(jobs), flags...)
}

// pick returns the dispatchers of ds with the given names, in that order,
// so a step names its contenders as the report looks them up.
func pick(tb testing.TB, ds []dispatcher, names ...string) []dispatcher {
	tb.Helper()
	var out []dispatcher
	for _, n := range names {
		i := slices.IndexFunc(ds, func(d dispatcher) bool { return d.name == n })
		if i < 0 {
			tb.Fatalf("no dispatcher named %q", n)
		}
		out = append(out, ds[i])
	}
	return out
}

// runRaw times a dispatcher that reads remote command lines on stdin and
// prints each job's stdout, then checks that output.
func (t *tools) runRaw(tb testing.TB, jobs []benchJob, argv ...string) (measured, string) {
	tb.Helper()
	lines := commandLines(tb, t.echo, jobs)
	m := measure(context.Background(), t.rawEnv(), strings.NewReader(lines), argv...)
	if m.err != nil {
		return m, m.err.Error()
	}
	return m, checkLines(m.stdout, len(jobs))
}

// submitResult is the submit timings by sweep size.
type submitResult map[int][]float64

// benchSubmit times mljob submit of a generated 10,000- and 100,000-job
// array into a fresh database, rounds times each.
func (t *tools) benchSubmit(tb testing.TB, rounds int) submitResult {
	tb.Helper()
	res := submitResult{}
	for _, n := range []int{10_000, 100_000} {
		file := jobsJSON(tb, t.dir, makeJobs("sweep", n, 0))
		for range rounds {
			dbPath := filepath.Join(mustMkdirTemp(tb, t.dir, "submit-"), "mljob.db")
			m := t.mustMljob(tb, dbPath, nil, "submit", "--scripts", t.scripts, file)
			res[n] = append(res[n], m.wall.Seconds())
			tb.Logf("submit %d jobs: %.2fs", n, m.wall.Seconds())
		}
	}
	return res
}

// outcomesResult is the outcomes timings by output form.
type outcomesResult struct {
	rows  int
	seed  time.Duration
	forms []string
	walls map[string][]float64
}

// benchOutcomes fills a database with n outcomes through the db package's
// own API (claim, then record: the path a dispatcher takes, without SSH)
// and times mljob outcomes over it.
func (t *tools) benchOutcomes(tb testing.TB, rounds, n int) outcomesResult {
	tb.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(mustMkdirTemp(tb, t.dir, "outcomes-"), "mljob.db")
	t.mustMljob(tb, dbPath, nil, "submit", "--scripts", t.scripts, jobsJSON(tb, t.dir, makeJobs("sweep", n, 0)))
	start := time.Now()
	store, err := db.Open(ctx, dbPath)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		c, err := store.ClaimOrder(ctx, "seed", "0", "bench")
		if err != nil || c == nil {
			tb.Fatalf("claim %d: %v, %v", i, c, err)
		}
		loss, metric, status, code := float64(i%1000)/1000, float64(i%997)/997, 200, 0
		spec := fmt.Appendf(nil, `{"status":200,"loss":%g,"metric":%g,"payload":%d}`, loss, metric, i)
		if _, err := store.RecordOutcome(ctx, db.Outcome{
			OrderID: c.Order.ID, Attempt: c.Order.Attempt, Succeeded: true, Status: &status, Loss: &loss,
			Metric: &metric, ExitCode: &code, DurationSeconds: 0.05, JSON: spec, StdoutTail: string(spec) + "\n",
		}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		tb.Fatal(err)
	}
	res := outcomesResult{rows: n, seed: time.Since(start), walls: map[string][]float64{},
		forms: []string{"outcomes", "outcomes -o json", "outcomes --sort loss --top 20"}}
	tb.Logf("seeded %d outcomes in %v", n, res.seed)
	for range rounds {
		for _, form := range res.forms {
			m := t.mustMljob(tb, dbPath, nil, strings.Fields(form)...)
			if form == "outcomes -o json" {
				var rows []json.RawMessage
				if err := json.Unmarshal([]byte(m.stdout), &rows); err != nil || len(rows) != n {
					tb.Fatalf("outcomes -o json: %d rows, %v", len(rows), err)
				}
			}
			res.walls[form] = append(res.walls[form], m.wall.Seconds())
			tb.Logf("%s over %d rows: %.2fs", form, n, m.wall.Seconds())
		}
	}
	return res
}

// goBench is one line of go test -bench output.
type goBench struct{ name, nsPerOp, extra string }

// benchLine matches "BenchmarkX/sub-2  	 123	 456 ns/op	 7 ns/job".
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$`)

// goBenchmarks runs internal/db's benchmarks (claim at 1k/10k/100k queued,
// submit, outcome recording, the outcomes query) and parses their lines.
func goBenchmarks(tb testing.TB) []goBench {
	tb.Helper()
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", ".", "-count", "1", "./internal/db/")
	cmd.Dir = repoRoot(tb)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("go test -bench ./internal/db/: %v\n%s", err, out)
	}
	var res []goBench
	for line := range strings.Lines(string(out)) {
		if m := benchLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			res = append(res, goBench{name: m[1], nsPerOp: m[2], extra: strings.TrimSpace(m[3])})
		}
	}
	if len(res) == 0 {
		tb.Fatalf("no benchmark lines in:\n%s", out)
	}
	return res
}

// latencyResult is the --follow start latencies, in seconds.
type latencyResult struct{ samples []float64 }

// benchLatency runs mljob dispatch --follow with its default boredom
// interval, lets it go idle, then submits n single jobs one after another
// and takes, for each, the time from submit returning to the run's
// started_at (set by the dispatcher once the remote run has started).
func (t *tools) benchLatency(tb testing.TB, l *lab, n int) latencyResult {
	tb.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(mustMkdirTemp(tb, t.dir, "follow-"), "mljob.db")
	// An empty queue first: dispatch --follow needs the database to exist,
	// and only submit or internal/db's Open creates one.
	store, err := db.Open(ctx, dbPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer store.Close()
	cmd := exec.Command(t.mljob, "dispatch", "--follow", "--hosts", l.hostsYAML, "--scripts", t.scripts)
	cmd.Env = t.mljobEnv(dbPath)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-exited
			tb.Errorf("dispatch --follow did not stop within a minute of SIGINT")
		}
	}
	defer stop()

	var res latencyResult
	// The first job warms the connections and the script cache; it is not
	// counted.
	for i := range n + 1 {
		file := jobsJSON(tb, t.dir, makeJobs("follow", 1, 0))
		m := t.mustMljob(tb, dbPath, nil, "submit", "--scripts", t.scripts, "-o", "json", file)
		submitted := time.Now()
		var subs []struct {
			JobID int64 `json:"jobId"`
		}
		if err := json.Unmarshal([]byte(m.stdout), &subs); err != nil || len(subs) != 1 {
			tb.Fatalf("submit -o json: %v: %s", err, m.stdout)
		}
		o := waitOrder(tb, store, subs[0].JobID, exited, &errOut)
		if i == 0 {
			continue
		}
		lat := o.StartedAt.Sub(submitted).Seconds()
		res.samples = append(res.samples, lat)
		tb.Logf("submission %d: started %.3fs after submit returned", i, lat)
	}
	stop()
	return res
}

// waitOrder polls the job's order until it has finished and returns it.
// The poll is the measurement's resolution, not a stand-in for an event:
// started_at is the dispatcher's own timestamp.
func waitOrder(tb testing.TB, store *db.DB, jobID int64, exited <-chan error, errOut *strings.Builder) db.Order {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		orders, err := store.OrdersForJob(context.Background(), jobID)
		if err != nil {
			tb.Fatal(err)
		}
		if len(orders) == 1 && !orders[0].FinishedAt.IsZero() {
			if orders[0].StartedAt.IsZero() {
				tb.Fatalf("job %d finished (%s) without a start time", jobID, orders[0].State)
			}
			return orders[0]
		}
		select {
		case err := <-exited:
			tb.Fatalf("dispatch --follow exited: %v\n%s", err, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("job %d not finished after 2 minutes", jobID)
		}
	}
}

// cacheResult is what the two dispatches of the upload-cache test moved.
type cacheResult struct {
	fileBytes       int64
	jobs            int
	received        [2]int64 // bytes the sshd side received per dispatch, all hosts
	hostsLogged     [2]int   // hosts that logged a Transferred line per dispatch
	cacheUnchanged  bool     // the cached copies kept their mtime and size across the second dispatch
	cachedCopies    int
	cacheDescriptor string
}

// transferred matches sshd's VERBOSE line at the end of a connection; the
// server's "received" is what the client sent.
var transferred = regexp.MustCompile(`Transferred: sent (\d+), received (\d+) bytes`)

// benchUploadCache dispatches jobs sharing a 100 MB data file twice (new
// jobs the second time, same database and hosts) and counts the bytes each
// dispatch sent to the hosts, from the sshd logs.
func (t *tools) benchUploadCache(tb testing.TB, l *lab) cacheResult {
	tb.Helper()
	data := filepath.Join(t.scripts, "data", "shared-100mb.bin")
	f, err := os.Create(data)
	if err != nil {
		tb.Fatal(err)
	}
	// Random bytes: nothing on the way can compress them.
	if _, err := io.CopyN(f, rand.Reader, cacheFileBytes); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	defer os.Remove(data)
	res := cacheResult{fileBytes: cacheFileBytes, jobs: 2 * len(l.servers) * l.slots}
	dbPath := filepath.Join(mustMkdirTemp(tb, t.dir, "cache-"), "mljob.db")
	var before map[string]os.FileInfo
	for pass := range 2 {
		jobs := makeJobs("cache", res.jobs, 0)
		for i := range jobs {
			jobs[i].DataFile = "shared-100mb.bin"
			jobs[i].Payload = pass*res.jobs + i
		}
		t.mustMljob(tb, dbPath, nil, "submit", "--scripts", t.scripts, jobsJSON(tb, t.dir, jobs))
		offsets := make([]int, len(l.servers))
		for i, s := range l.servers {
			offsets[i] = len(s.Log())
		}
		if pass == 1 {
			before = bigCachedFiles(tb, l)
		}
		m := measure(context.Background(), t.mljobEnv(dbPath), nil, t.mljob, "dispatch", "--hosts", l.hostsYAML,
			"--scripts", t.scripts, "--poll", pollInterval.String())
		if m.err != nil {
			tb.Fatalf("dispatch pass %d: %v", pass+1, m.err)
		}
		for i, s := range l.servers {
			// sshd logs the line when the connection closes, which may
			// come a moment after the client exits.
			deadline := time.Now().Add(10 * time.Second)
			var match [][]string
			for {
				match = transferred.FindAllStringSubmatch(s.Log()[offsets[i]:], -1)
				if len(match) > 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond) // a poll on a log file: no event to wait on
			}
			if len(match) > 0 {
				res.hostsLogged[pass]++
			}
			for _, mm := range match {
				n, _ := strconv.ParseInt(mm[2], 10, 64)
				res.received[pass] += n
			}
		}
		tb.Logf("upload cache pass %d: %d jobs in %.2fs, hosts received %d bytes (%d hosts logged)", pass+1,
			res.jobs, m.wall.Seconds(), res.received[pass], res.hostsLogged[pass])
	}
	if s := t.checkOutcomes(tb, dbPath, 2*res.jobs); s != "" {
		tb.Errorf("upload cache outcomes: %s", s)
	}
	after := bigCachedFiles(tb, l)
	res.cachedCopies = len(after)
	res.cacheUnchanged = len(after) > 0 && len(after) == len(before)
	for p, fi := range after {
		b, ok := before[p]
		if !ok || !b.ModTime().Equal(fi.ModTime()) || b.Size() != fi.Size() {
			res.cacheUnchanged = false
		}
	}
	res.cacheDescriptor = fmt.Sprintf("%d files of %d bytes under the hosts' workdirs", len(after), int64(cacheFileBytes))
	return res
}

// bigCachedFiles finds the copies of the shared file in the hosts' cache
// dirs (by size, in any dir named cache).
func bigCachedFiles(tb testing.TB, l *lab) map[string]os.FileInfo {
	tb.Helper()
	out := map[string]os.FileInfo{}
	for _, s := range l.servers {
		err := filepath.Walk(s.Workdir, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			// Only the cache: run dirs hold hard links to the same file,
			// one more per job, which are no upload.
			if fi.Mode().IsRegular() && fi.Size() == cacheFileBytes && filepath.Base(filepath.Dir(p)) == "cache" {
				out[p] = fi
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// scaleResult is the many-hosts run.
type scaleResult struct {
	hosts, slots, jobs int
	m                  measured
	problem            string
}

// benchScale runs 400 trivial jobs over n loopback hosts of 4 slots each
// and takes mljob's peak RSS and CPU.
func (t *tools) benchScale(tb testing.TB, n int) scaleResult {
	tb.Helper()
	const slots = 4
	l := startLab(tb, t.dir, n, slots)
	res := scaleResult{hosts: n, slots: slots, jobs: n * slots}
	res.m, res.problem = t.runMljob(tb, l, makeJobs("scale", res.jobs, 0))
	if res.problem != "" {
		tb.Errorf("scale: %s", res.problem)
	}
	tb.Logf("scale %d hosts × %d slots, %d jobs: wall %.2fs cpu %v maxrss %.1fMB", n, slots, res.jobs,
		res.m.wall.Seconds(), res.m.cpu, float64(res.m.maxRSS)/1024)
	return res
}

// machineInfo describes the machine and the versions of everything timed.
func machineInfo(tb testing.TB) string {
	tb.Helper()
	first := func(argv ...string) string {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			return "unknown (" + err.Error() + ")"
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	readTrim := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return "unknown"
		}
		return strings.TrimSpace(string(b))
	}
	rows := [][2]string{
		{"CPUs (nproc)", first("nproc")},
		{"CPU model", model},
		{"memory", first("sh", "-c", "grep MemTotal /proc/meminfo")},
		{"kernel", readTrim("/proc/sys/kernel/osrelease")},
		{"OS", first("sh", "-c", ". /etc/os-release && echo \"$PRETTY_NAME\"")},
		{"OpenSSH", first("ssh", "-V")},
		{"Go", first("go", "version")},
		{"Python", first(hostPython, "--version")},
		{"GNU parallel", first("parallel", "--version")},
		{"mljob", first("git", "-C", repoRoot(tb), "describe", "--tags", "--always", "--dirty")},
		{"load average at start", readTrim("/proc/loadavg")},
	}
	var b strings.Builder
	b.WriteString("| | |\n|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s |\n", r[0], strings.ReplaceAll(r[1], "|", "\\|"))
	}
	return b.String()
}

// phases is where one dispatch's wall time went, in seconds from the
// process's start, as dispatch -v's timeline prints them.
type phases struct {
	opened, firstUp, lastUp, firstStart, lastEnd, done, exit float64
	inRun                                                    float64 // percent of slot time in a run, first start to last end
	runTook, slotWait                                        float64 // seconds: a run's average, a slot's average wait between runs
}

var (
	timelineLine = regexp.MustCompile(`Timeline: queue open and checked at ([\d.]+) s; hosts up ([\d.]+) s–([\d.]+) s; first run started at ([\d.]+) s; last run ended at ([\d.]+) s; done at ([\d.]+) s\.`)
	slotsLine    = regexp.MustCompile(`in a run (\d+) % of the time \(a run took ([\d.]+) s on average; a slot waited ([\d.]+) s`)
)

// parsePhases reads the timeline from a dispatch's stderr; wall is the
// process's wall time as the harness measured it.
func parsePhases(stderr string, wall time.Duration) (phases, bool) {
	m, s := timelineLine.FindStringSubmatch(stderr), slotsLine.FindStringSubmatch(stderr)
	if m == nil || s == nil {
		return phases{}, false
	}
	f := func(x string) float64 {
		v, _ := strconv.ParseFloat(x, 64)
		return v
	}
	return phases{opened: f(m[1]), firstUp: f(m[2]), lastUp: f(m[3]), firstStart: f(m[4]), lastEnd: f(m[5]), done: f(m[6]),
		exit: wall.Seconds(), inRun: f(s[1]), runTook: f(s[2]), slotWait: f(s[3])}, true
}
