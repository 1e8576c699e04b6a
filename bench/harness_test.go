//go:build bench

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/sshtest"
)

const (
	// hostPython is the interpreter that sees Debian's python3-* packages;
	// the python3 first on PATH may be a build that sees none of them.
	hostPython = "/usr/bin/python3"
	// cmdTimeout bounds one dispatcher run; a healthy one takes seconds to
	// a minute.
	cmdTimeout = 10 * time.Minute
)

// lab is the set of loopback hosts and the files every dispatcher needs
// to reach them: the mljob hosts file, the ssh config and one-word wrapper
// for GNU parallel, and the address list for the floor program.
type lab struct {
	servers    []*sshtest.Server
	keys       sshtest.Keys
	slots      int
	hostsYAML  string // for mljob dispatch --hosts
	sshWrapper string // one-word --ssh for GNU parallel
	sshlogins  string // parallel -S value: "2/h1,2/h2,..."
	floorHosts string // JSON array of host:port for bench/floor
}

// tools are the binaries built from the work tree for this run.
type tools struct {
	dir     string // temp dir holding everything below
	mljob   string
	floor   string
	scripts string // --scripts dir: echo.py (and data/)
	echo    string // absolute path of echo.py the raw-SSH dispatchers run
	home    string // HOME for the dispatchers: no user ssh config, no ~/.parallel
}

// repoRoot is the module root, one level above this package.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// buildTools builds mljob and the floor program from the work tree and
// lays out a scripts dir holding echo.py.
func buildTools(tb testing.TB) *tools {
	tb.Helper()
	root := repoRoot(tb)
	dir := tb.TempDir()
	t := &tools{
		dir:     dir,
		mljob:   filepath.Join(dir, "mljob"),
		floor:   filepath.Join(dir, "floor"),
		scripts: filepath.Join(dir, "scripts"),
		home:    filepath.Join(dir, "home"),
	}
	for _, b := range []struct{ out, pkg string }{{t.mljob, "./cmd/mljob"}, {t.floor, "./bench/floor"}} {
		// BENCH_BIN: a directory of mljob and floor built elsewhere, for a
		// machine without Go (go build -o DIR ./cmd/mljob ./bench/floor).
		if dir := os.Getenv("BENCH_BIN"); dir != "" {
			t.mljob, t.floor = filepath.Join(dir, "mljob"), filepath.Join(dir, "floor")
			break
		}
		cmd := exec.Command("go", "build", "-trimpath", "-o", b.out, b.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	for _, d := range []string{t.scripts, filepath.Join(t.scripts, "data"), t.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	src, err := os.ReadFile(filepath.Join(root, "python-scripts", "echo.py"))
	if err != nil {
		tb.Fatal(err)
	}
	t.echo = filepath.Join(t.scripts, "echo.py")
	if err := os.WriteFile(t.echo, src, 0o644); err != nil {
		tb.Fatal(err)
	}
	return t
}

// startLab starts n loopback sshd hosts with slots each. SkipBashrc sets
// SHLVL=1 in every session so the remote bash skips ~/.bashrc, as the
// issue's measurements did: a real user's .bashrc would add its own cost
// to every dispatcher alike and could print into the job's output.
func startLab(tb testing.TB, dir string, n, slots int) *lab {
	tb.Helper()
	servers, keys := sshtest.Start(tb, n, sshtest.Options{SkipBashrc: true})
	l := &lab{servers: servers, keys: keys, slots: slots}
	dir = mustMkdirTemp(tb, dir, "lab-")

	var y strings.Builder
	fmt.Fprintf(&y, "defaults:\n  user: %q\n  identity_file: %q\n  known_hosts: %q\n  python: %q\n  connect_timeout: 10s\n",
		keys.User, keys.IdentityFile, keys.KnownHosts, hostPython)
	y.WriteString("hosts:\n")
	var cfg strings.Builder
	var logins, addrs []string
	for _, s := range servers {
		fmt.Fprintf(&y, "  - name: %s\n    address: %s\n    port: %d\n    workdir: %q\n    lock_dir: %q\n    slots: %d\n", s.Name, s.Host, s.Port, s.Workdir, s.LockDir, slots)
		fmt.Fprintf(&cfg, "Host %s\n  HostName %s\n  Port %d\n", s.Name, s.Host, s.Port)
		logins = append(logins, fmt.Sprintf("%d/%s", slots, s.Name))
		addrs = append(addrs, fmt.Sprintf("%s:%d", s.Host, s.Port))
	}
	fmt.Fprintf(&cfg, "Host *\n  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
		keys.User, keys.IdentityFile, keys.KnownHosts)
	l.hostsYAML = mustWriteFile(tb, filepath.Join(dir, "hosts.yaml"), y.String(), 0o644)
	sshConfig := mustWriteFile(tb, filepath.Join(dir, "ssh_config"), cfg.String(), 0o644)
	// One word for --ssh: Debian's parallel 20221122 with --controlmaster
	// and a multi-word --ssh runs jobs twice and drops output.
	l.sshWrapper = mustWriteFile(tb, filepath.Join(dir, "ssh"), "#!/bin/sh\nexec ssh -F "+shQuote(sshConfig)+" \"$@\"\n", 0o755)
	l.sshlogins = strings.Join(logins, ",")
	b, err := json.Marshal(addrs)
	if err != nil {
		tb.Fatal(err)
	}
	l.floorHosts = mustWriteFile(tb, filepath.Join(dir, "hosts.json"), string(b), 0o644)
	return l
}

// measured is what one child process cost.
type measured struct {
	wall   time.Duration
	cpu    time.Duration // user + sys of the child and the children it waited for
	maxRSS int64         // kilobytes: the peak of the child or of one child it waited for
	stdout string
	stderr string
	err    error
}

// measure runs argv with stdin (may be nil) and env, and takes its wall
// time and rusage. ru_maxrss of wait4 is the child's own peak; the CPU
// figures include the children it waited for (parallel's ssh clients).
func measure(ctx context.Context, env []string, stdin io.Reader, argv ...string) measured {
	return measureWithin(ctx, cmdTimeout, env, stdin, argv...)
}

// measureWithin is measure with another bound than cmdTimeout, for the
// dispatches of real training runs, which take tens of minutes on a
// loaded 2-core machine.
func measureWithin(ctx context.Context, limit time.Duration, env []string, stdin io.Reader, argv ...string) measured {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Start()
	var hwm int64
	if err == nil {
		stop := make(chan struct{})
		watched := make(chan int64, 1)
		go func() { watched <- watchHWM(cmd.Process.Pid, stop) }()
		err = cmd.Wait()
		close(stop)
		hwm = <-watched
	}
	m := measured{wall: time.Since(start), stdout: out.String(), stderr: errOut.String(), err: err}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			m.maxRSS = ru.Maxrss
		}
	}
	// ru_maxrss of a child Go started is at least the Go process's own
	// peak: Go starts children with vfork semantics (CLONE_VM), and exec
	// carries the shared mm's high-water mark into the child's maxrss. So
	// the child's own peak comes from its VmHWM, read while it runs; the
	// children it waits for (parallel's ssh) are not in it, so the larger
	// of the two counts only where the child's own peak is unknown.
	if hwm > 0 {
		m.maxRSS = hwm
	}
	if err != nil {
		m.err = fmt.Errorf("%s: %w\nstderr:\n%s", strings.Join(argv, " "), err, tail(errOut.String(), 2000))
	}
	return m
}

// watchHWM reads the peak resident set (VmHWM, kB) of pid every 10 ms
// until stop closes, and returns the last value read (0 if none was). The
// peak only grows, so the last read misses at most the final 10 ms.
func watchHWM(pid int, stop <-chan struct{}) int64 {
	path := fmt.Sprintf("/proc/%d/status", pid)
	var last int64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			for line := range strings.Lines(string(b)) {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil && kb > last {
						last = kb
					}
				}
			}
		}
		select {
		case <-stop:
			return last
		case <-tick.C:
		}
	}
}

// mljobEnv is the environment of an mljob command: its own HOME and
// database, and no ssh-agent, so only the hosts file's identity counts.
func (t *tools) mljobEnv(db string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.home, "MLJOB_DB=" + db, "TMPDIR=" + os.TempDir()}
}

// rawEnv is the environment of parallel and the floor.
func (t *tools) rawEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.home, "TMPDIR=" + os.TempDir(), "LC_ALL=C"}
}

// mustMljob runs mljob and fails unless it exits 0.
func (t *tools) mustMljob(tb testing.TB, db string, stdin io.Reader, args ...string) measured {
	tb.Helper()
	m := measure(context.Background(), t.mljobEnv(db), stdin, append([]string{t.mljob}, args...)...)
	if m.err != nil {
		tb.Fatalf("mljob: %v", m.err)
	}
	return m
}

// benchJob is one job of a benchmark list. Payload numbers the job: echo.py
// echoes it back, so every dispatcher's output can be checked for each
// job exactly once.
type benchJob struct {
	Script       string  `json:"scriptName"`
	Project      string  `json:"projectName"`
	X            float64 `json:"x"`
	Payload      int     `json:"payload"`
	SleepSeconds float64 `json:"sleepSeconds,omitempty"`
	DataFile     string  `json:"dataFileName,omitempty"`
}

// makeJobs returns n echo.py jobs numbered 0..n-1.
func makeJobs(project string, n int, sleep float64) []benchJob {
	jobs := make([]benchJob, n)
	for i := range jobs {
		jobs[i] = benchJob{Script: "echo.py", Project: project, X: float64(i), Payload: i, SleepSeconds: sleep}
	}
	return jobs
}

// jobsJSON writes jobs (a slice of job structs) as one JSON array, the
// fastest form for submit.
func jobsJSON(tb testing.TB, dir string, jobs any) string {
	tb.Helper()
	b, err := json.Marshal(jobs)
	if err != nil {
		tb.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "jobs-*.json")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return f.Name()
}

// commandLines renders jobs as the remote command lines parallel and the
// floor run: /usr/bin/python3 echo.py '<json>', the JSON as argv[1] as
// mljob passes it.
func commandLines(tb testing.TB, echo string, jobs []benchJob) string {
	tb.Helper()
	var b strings.Builder
	for _, j := range jobs {
		spec, err := json.Marshal(j)
		if err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %s\n", hostPython, shQuote(echo), shQuote(string(spec)))
	}
	return b.String()
}

// checkLines checks a raw dispatcher's stdout: one Outcome line per job,
// every payload 0..n-1 exactly once. It returns "" when all is well, else
// what went wrong.
func checkLines(stdout string, n int) string {
	var payloads []int
	for line := range strings.Lines(stdout) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var o struct {
			Status  int  `json:"status"`
			Payload *int `json:"payload"`
		}
		if err := json.Unmarshal([]byte(line), &o); err != nil || o.Payload == nil {
			return fmt.Sprintf("unreadable outcome line %q", tail(line, 200))
		}
		payloads = append(payloads, *o.Payload)
	}
	return checkOnce(payloads, n)
}

// checkOnce reports jobs missing or seen more than once.
func checkOnce(payloads []int, n int) string {
	seen := make([]int, n)
	var bad []string
	for _, p := range payloads {
		if p < 0 || p >= n {
			bad = append(bad, fmt.Sprintf("unknown job %d", p))
			continue
		}
		seen[p]++
	}
	missing, dup := 0, 0
	for _, c := range seen {
		switch {
		case c == 0:
			missing++
		case c > 1:
			dup += c - 1
		}
	}
	if missing > 0 {
		bad = append(bad, fmt.Sprintf("%d jobs lost", missing))
	}
	if dup > 0 {
		bad = append(bad, fmt.Sprintf("%d duplicate runs", dup))
	}
	if len(payloads) != n && missing == 0 && dup == 0 {
		bad = append(bad, fmt.Sprintf("%d outcome lines for %d jobs", len(payloads), n))
	}
	return strings.Join(bad, ", ")
}

// outcomeRow is the part of mljob outcomes -o json the harness checks.
type outcomeRow struct {
	JobID   int64  `json:"jobId"`
	State   string `json:"state"`
	Payload *int   `json:"payload"`
	Error   string `json:"error"`
}

// checkOutcomes checks mljob's record: n succeeded outcomes, one per job,
// every payload once. It returns "" when all is well.
func (t *tools) checkOutcomes(tb testing.TB, db string, n int) string {
	tb.Helper()
	m := t.mustMljob(tb, db, nil, "outcomes", "-o", "json")
	var rows []outcomeRow
	if err := json.Unmarshal([]byte(m.stdout), &rows); err != nil {
		return fmt.Sprintf("outcomes -o json: %v", err)
	}
	var payloads []int
	failed := 0
	jobs := map[int64]bool{}
	var bad []string
	for _, r := range rows {
		if jobs[r.JobID] {
			bad = append(bad, fmt.Sprintf("job %d has two outcomes", r.JobID))
		}
		jobs[r.JobID] = true
		if r.State != "succeeded" {
			failed++
			if failed == 1 {
				bad = append(bad, fmt.Sprintf("job %d %s: %s", r.JobID, r.State, r.Error))
			}
			continue
		}
		if r.Payload != nil {
			payloads = append(payloads, *r.Payload)
		}
	}
	if failed > 0 {
		bad = append(bad, fmt.Sprintf("%d outcomes not succeeded", failed))
	}
	if s := checkOnce(payloads, n); s != "" {
		bad = append(bad, s)
	}
	return strings.Join(bad, ", ")
}

// stats summarises repeated measurements of one quantity.
type stats struct{ med, min, max float64 }

// summarise returns the median, min and max of xs (0s when empty).
func summarise(xs []float64) stats {
	if len(xs) == 0 {
		return stats{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{med: med, min: s[0], max: s[len(s)-1]}
}

// envInt reads a positive integer knob from the environment.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// shQuote single-quotes s for a POSIX shell.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func mustWriteFile(tb testing.TB, path, data string, perm os.FileMode) string {
	tb.Helper()
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		tb.Fatal(err)
	}
	return path
}

func mustMkdirTemp(tb testing.TB, dir, pattern string) string {
	tb.Helper()
	d, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}
