package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/sshtest"
)

// The end-to-end tests run the mljob command (the copy of this test binary
// that testscript.Main puts on PATH, see TestMain) against real sshd
// daemons on 127.0.0.1, as a user would.

const (
	// e2eTimeout bounds one mljob command; a healthy one takes seconds.
	e2eTimeout = 2 * time.Minute
	// e2ePoll keeps the boredom probes quick.
	e2ePoll = "200ms"
	// hostPython is the interpreter that sees Debian's python3-* packages;
	// the python3 first on PATH may be a build that sees none of them.
	hostPython = "/usr/bin/python3"
)

// cli runs mljob with its own HOME and database.
type cli struct {
	tb      testing.TB
	bin     string
	dir     string // temp dir holding home, the db and test files
	db      string
	home    string
	scripts string // the repository's python-scripts
}

// result is what one mljob command did.
type result struct {
	stdout, stderr string
	code           int
}

// newCLI finds the mljob command and gives it a fresh HOME and database.
func newCLI(tb testing.TB) *cli {
	tb.Helper()
	bin, err := exec.LookPath("mljob")
	if err != nil {
		tb.Fatalf("mljob not on PATH (TestMain should have put it there): %v", err)
	}
	scripts, err := filepath.Abs(filepath.Join("..", "..", "python-scripts"))
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	c := &cli{tb: tb, bin: bin, dir: dir, db: filepath.Join(dir, "mljob.db"), home: filepath.Join(dir, "home"), scripts: scripts}
	if err := os.MkdirAll(c.home, 0o700); err != nil {
		tb.Fatal(err)
	}
	return c
}

// command builds an mljob command line. The environment is minimal on
// purpose: no ssh-agent (SSH_AUTH_SOCK), no user ssh config, so only the
// hosts file's identity and known_hosts count.
func (c *cli) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + c.home,
		"MLJOB_DB=" + c.db,
		"TMPDIR=" + os.TempDir(),
	}
	return cmd
}

// run runs mljob to its end and returns what it printed and its exit code.
func (c *cli) run(args ...string) result {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := c.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ctx.Err() == nil:
		r.code = ee.ExitCode()
	case err != nil:
		c.tb.Fatalf("mljob %s: %v\nstderr:\n%s", strings.Join(args, " "), err, r.stderr)
	}
	return r
}

// mustRun runs mljob and fails the test unless it exits 0.
func (c *cli) mustRun(args ...string) result {
	c.tb.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.tb.Fatalf("mljob %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// submitted is one row of submit -o json.
type submitted struct {
	JobID   int64 `json:"jobId"`
	OrderID int64 `json:"orderId"`
}

// submit queues jobs (each marshalled to JSON) and returns their ids in order.
func (c *cli) submit(scripts string, jobs ...any) []submitted {
	c.tb.Helper()
	data, err := json.Marshal(jobs)
	if err != nil {
		c.tb.Fatal(err)
	}
	return c.submitFiles(scripts, mustWrite(c.tb, c.dir, "jobs-*.json", data))
}

// submitFiles queues the job files and returns the ids in order.
func (c *cli) submitFiles(scripts string, files ...string) []submitted {
	c.tb.Helper()
	r := c.mustRun(append([]string{"submit", "--scripts", scripts, "-o", "json"}, files...)...)
	var subs []submitted
	if err := json.Unmarshal([]byte(r.stdout), &subs); err != nil {
		c.tb.Fatalf("submit -o json: %v\n%s", err, r.stdout)
	}
	return subs
}

// outcomeRow is the part of outcomes -o json these tests read: mljob's own
// fields and the ones echo.py adds.
type outcomeRow struct {
	JobID              int64           `json:"jobId"`
	OrderID            int64           `json:"orderId"`
	Attempt            int             `json:"attempt"`
	State              string          `json:"state"`
	Status             json.Number     `json:"status"`
	Loss               *float64        `json:"loss"`
	Metric             *float64        `json:"metric"`
	Host               string          `json:"host"`
	ExitCode           *int            `json:"exitCode"`
	Error              string          `json:"error"`
	ArgSha256          string          `json:"argSha256"`
	ArgBytes           int             `json:"argBytes"`
	Payload            json.RawMessage `json:"payload"`
	CudaVisibleDevices *string         `json:"cudaVisibleDevices"`
}

// outcomes returns outcomes -o json.
func (c *cli) outcomes() []outcomeRow {
	c.tb.Helper()
	r := c.mustRun("outcomes", "-o", "json")
	var rows []outcomeRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		c.tb.Fatalf("outcomes -o json: %v\n%s", err, r.stdout)
	}
	return rows
}

// byJob indexes outcomes by job id, failing on a job with two outcomes.
func byJob(tb testing.TB, rows []outcomeRow) map[int64]outcomeRow {
	tb.Helper()
	m := map[int64]outcomeRow{}
	for _, o := range rows {
		if prev, dup := m[o.JobID]; dup {
			tb.Errorf("job %d has two outcomes: orders %d and %d", o.JobID, prev.OrderID, o.OrderID)
		}
		m[o.JobID] = o
	}
	return m
}

// statusCounts returns status -o json's counts, summed over projects.
func (c *cli) statusCounts() map[string]int {
	c.tb.Helper()
	r := c.mustRun("status", "-o", "json")
	var ps []struct {
		Counts map[string]int `json:"counts"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ps); err != nil {
		c.tb.Fatalf("status -o json: %v\n%s", err, r.stdout)
	}
	sum := map[string]int{}
	for _, p := range ps {
		for k, v := range p.Counts {
			sum[k] += v
		}
	}
	return sum
}

// shown is the part of show -o json these tests read.
type shown struct {
	Attempts []struct {
		OrderID int64  `json:"orderId"`
		Attempt int    `json:"attempt"`
		State   string `json:"state"`
		Host    string `json:"host"`
		Slot    string `json:"slot"`
	} `json:"attempts"`
	Outcomes []outcomeRow `json:"outcomes"`
}

func (c *cli) show(jobID int64) shown {
	c.tb.Helper()
	r := c.mustRun("show", fmt.Sprint(jobID), "-o", "json")
	var s shown
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		c.tb.Fatalf("show -o json: %v\n%s", err, r.stdout)
	}
	return s
}

// hostsOptions shape the hosts file written for a set of test servers.
type hostsOptions struct {
	slots      int
	gpus       []string
	knownHosts string // default keys.KnownHosts
}

// writeHosts writes a hosts file naming each server, reached as keys.User
// with keys.IdentityFile, and returns its path.
func writeHosts(tb testing.TB, dir string, servers []*sshtest.Server, keys sshtest.Keys, o hostsOptions) string {
	tb.Helper()
	if o.knownHosts == "" {
		o.knownHosts = keys.KnownHosts
	}
	var b strings.Builder
	fmt.Fprintf(&b, "defaults:\n  user: %q\n  identity_file: %q\n  known_hosts: %q\n  python: %q\n  connect_timeout: 10s\n",
		keys.User, keys.IdentityFile, o.knownHosts, hostPython)
	b.WriteString("hosts:\n")
	for _, s := range servers {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    workdir: %q\n", s.Name, s.Host, s.Port, s.Workdir)
		if len(o.gpus) > 0 {
			fmt.Fprintf(&b, "    gpus: [")
			for i, g := range o.gpus {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%q", g)
			}
			b.WriteString("]\n")
		} else if o.slots > 0 {
			fmt.Fprintf(&b, "    slots: %d\n", o.slots)
		}
	}
	return mustWrite(tb, dir, "hosts-*.yaml", []byte(b.String()))
}

// mustWrite writes data to a new file in dir named after pattern (as
// os.CreateTemp) and returns its path.
func mustWrite(tb testing.TB, dir, pattern string, data []byte) string {
	tb.Helper()
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return f.Name()
}

// startHosts starts n sshd hosts whose sessions skip ~/.bashrc.
func startHosts(tb testing.TB, n int) ([]*sshtest.Server, sshtest.Keys) {
	tb.Helper()
	return sshtest.Start(tb, n, sshtest.Options{SkipBashrc: true})
}

// dispatchArgs is a dispatch command line over hostsFile.
func dispatchArgs(hostsFile, scripts string, extra ...string) []string {
	return append([]string{"dispatch", "--hosts", hostsFile, "--scripts", scripts, "--poll", e2ePoll}, extra...)
}

// TestE2EManyJobsManyHosts: 60 jobs over 3 hosts with 2 slots each all
// succeed, each with its own result, spread over the hosts.
func TestE2EManyJobsManyHosts(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 3)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	const n = 60
	jobs := make([]any, n)
	xs := map[int64]float64{}
	for i := range jobs {
		jobs[i] = map[string]any{"scriptName": "echo.py", "projectName": "many", "x": float64(i) - 29.5}
	}
	subs := c.submit(c.scripts, jobs...)
	if len(subs) != n {
		t.Fatalf("submitted %d jobs, want %d", len(subs), n)
	}
	for i, s := range subs {
		xs[s.JobID] = float64(i) - 29.5
	}

	r := c.mustRun(dispatchArgs(hostsFile, c.scripts)...)
	if !strings.Contains(r.stderr, fmt.Sprintf("%d succeeded, 0 failed", n)) {
		t.Errorf("dispatch summary: want %d succeeded, 0 failed; stderr:\n%s", n, r.stderr)
	}
	got := byJob(t, c.outcomes())
	if len(got) != n {
		t.Fatalf("outcomes for %d jobs, want %d", len(got), n)
	}
	hostsUsed := map[string]int{}
	for id, x := range xs {
		o, ok := got[id]
		switch {
		case !ok:
			t.Errorf("job %d: no outcome", id)
			continue
		case o.State != "succeeded":
			t.Errorf("job %d: state %s (%s), want succeeded", id, o.State, o.Error)
		case o.Loss == nil || *o.Loss != x*x:
			t.Errorf("job %d: loss %v, want %v", id, o.Loss, x*x)
		case o.Metric == nil || *o.Metric != x:
			t.Errorf("job %d: metric %v, want %v", id, o.Metric, x)
		}
		hostsUsed[o.Host]++
	}
	if len(hostsUsed) < 2 {
		t.Errorf("hosts used: %v, want at least 2 of 3", hostsUsed)
	}
	for _, s := range servers {
		if _, ok := hostsUsed[s.Name]; !ok {
			t.Logf("host %s ran no job (%v)", s.Name, hostsUsed)
		}
	}
}
