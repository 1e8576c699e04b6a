package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/sshtest"
	"github.com/mljob/mljob/internal/testutil"
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
	// Cost is what the attempt cost; nil when its run dir held none.
	Cost *struct {
		WallSeconds float64 `json:"wallSeconds"`
		CPUSeconds  float64 `json:"cpuSeconds"`
	} `json:"cost"`
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
		RunDir  string `json:"runDir"`
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
	writeDefaults(&b, keys, o.knownHosts)
	for _, s := range servers {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    workdir: %q\n", s.Name, s.Host, s.Port, s.Workdir)
		// Each test server is a host of its own: its own lock dir, not the
		// machine's, which every test server shares.
		fmt.Fprintf(&b, "    lock_dir: %q\n", s.LockDir)
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

// writeDefaults starts a hosts file: defaults that reach the test servers
// as keys.User with keys.IdentityFile, checked against knownHosts; then the
// hosts: key.
func writeDefaults(b *strings.Builder, keys sshtest.Keys, knownHosts string) {
	fmt.Fprintf(b, "defaults:\n  user: %q\n  identity_file: %q\n  known_hosts: %q\n  python: %q\n  connect_timeout: 10s\n",
		keys.User, keys.IdentityFile, knownHosts, hostPython)
	b.WriteString("hosts:\n")
}

// ownLockDirs fails tb if an entry of a hosts file that runs things
// (one with a workdir, not of kind slurm) has no lock_dir: the default is
// the machine's, shared by every test package's sshd hosts at once, whose
// leases would then slow or refuse each other's runs.
func ownLockDirs(tb testing.TB, hostsYAML string) {
	tb.Helper()
	for _, e := range strings.Split(hostsYAML, "\n  - name: ")[1:] {
		if strings.Contains(e, "\n    workdir: ") && !strings.Contains(e, "\n    kind: slurm") && !strings.Contains(e, "\n    lock_dir: ") {
			tb.Fatalf("hosts entry %q has no lock_dir of its own (use sshtest.Server.LockDir)", strings.SplitN(e, "\n", 2)[0])
		}
	}
}

// mustWrite writes data to a new file in dir named after pattern (as
// os.CreateTemp) and returns its path.
func mustWrite(tb testing.TB, dir, pattern string, data []byte) string {
	tb.Helper()
	if strings.HasPrefix(pattern, "hosts") {
		ownLockDirs(tb, string(data))
	}
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

// TestE2EAdversarialJSON: whatever a job's strings hold, the script gets
// the submitted bytes verbatim (plus the spliced ids) and no shell ever
// interprets them.
func TestE2EAdversarialJSON(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	mark := filepath.Join(c.dir, "pwned")
	big := strings.Repeat("0123456789abcdef\"\\'$`\n", 100<<10/23+1)
	// Each case is the text of one job file, exactly as submitted.
	cases := []struct {
		name string
		text string
	}{
		{"quotes", `{"scriptName":"echo.py","projectName":"adv","payload":"it's \"quoted\" '' \"\" \\\" \\'"}`},
		{"command substitution", `{"scriptName":"echo.py","projectName":"adv","payload":"$(touch ` + mark + `) ${IFS} $HOME"}`},
		{"backticks", `{"scriptName":"echo.py","projectName":"adv","payload":"` + "`touch " + mark + "`" + `"}`},
		{"semicolon rm", `{"scriptName":"echo.py","projectName":"adv","payload":"; rm -rf mljob-no-such-dir; touch ` + mark + ` #"}`},
		{"pipes and redirects", `{"scriptName":"echo.py","projectName":"adv","payload":"| touch ` + mark + ` && touch ` + mark + ` > ` + mark + ` & "}`},
		{"globs", `{"scriptName":"echo.py","projectName":"adv","payload":"* ? [a-z]* ~ ~root /*/*"}`},
		{"leading dashes", `{"scriptName":"echo.py","projectName":"adv","payload":"--help","x":-1,"-rf":"-"}`},
		{"escaped newlines and controls", `{"scriptName":"echo.py","projectName":"adv","payload":"line1\nline2\r\n\ttab\u0000nul\u001b[31m"}`},
		{"raw newlines between fields", "{\n  \"scriptName\": \"echo.py\",\n\n  \"projectName\": \"adv\",\r\n\t\"payload\": \"multi-line file\"\n}"},
		{"unicode", `{"scriptName":"echo.py","projectName":"adv","payload":"héllo ☃ 𝄞 日本語 ` + "\u2028 \u2029" + ` \u2028 \ud83d\ude00"}`},
		{"empty strings and nesting", `{"scriptName":"echo.py","projectName":"adv","payload":{"a":["",null,{"b":"'\""}],"c":{}}}`},
		{"duplicate ids in spec", `{"scriptName":"echo.py","projectName":"adv","jobId":"stale","assignmentId":-7,"payload":"ids"}`},
		{"100 KB payload", `{"scriptName":"echo.py","projectName":"adv","payload":` + mustJSON(t, big) + `}`},
	}
	files := make([]string, len(cases))
	for i, tc := range cases {
		files[i] = mustWrite(t, c.dir, "adv-*.json", []byte(tc.text+"\n"))
	}
	subs := c.submitFiles(c.scripts, files...)
	if len(subs) != len(cases) {
		t.Fatalf("submitted %d jobs, want %d", len(subs), len(cases))
	}
	r := c.mustRun(dispatchArgs(hostsFile, c.scripts)...)
	got := byJob(t, c.outcomes())
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, ok := got[subs[i].JobID]
			if !ok {
				t.Fatalf("no outcome for job %d; dispatch stderr:\n%s", subs[i].JobID, r.stderr)
			}
			if o.State != "succeeded" {
				t.Fatalf("state %s: %s", o.State, o.Error)
			}
			want := splice(t, []byte(tc.text), subs[i].JobID, subs[i].OrderID)
			if o.ArgSha256 != sha256Hex(want) || o.ArgBytes != len(want) {
				t.Errorf("script got %d bytes, sha256 %s; want the %d bytes %.200q… (sha256 %s)",
					o.ArgBytes, o.ArgSha256, len(want), want, sha256Hex(want))
			}
			var sent struct {
				Payload any `json:"payload"`
			}
			if err := json.Unmarshal([]byte(tc.text), &sent); err != nil {
				t.Fatal(err)
			}
			var back any
			if err := json.Unmarshal(o.Payload, &back); err != nil {
				t.Fatalf("payload %s: %v", o.Payload, err)
			}
			if !jsonEqual(sent.Payload, back) {
				t.Errorf("payload came back as %.200s, want %.200s", mustJSON(t, back), mustJSON(t, sent.Payload))
			}
		})
	}
	if _, err := os.Stat(mark); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (stat: %v): a job field reached a shell", mark, err)
	}
	for _, s := range servers {
		if _, err := os.Stat(filepath.Join(s.Workdir, "pwned")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a marker file appeared in %s", s.Workdir)
		}
	}
}

// splice is the Job JSON the script must receive: the submitted object,
// byte for byte, with the ids added before its final brace.
func splice(tb testing.TB, text []byte, jobID, orderID int64) []byte {
	tb.Helper()
	s := bytes.TrimSpace(text)
	if len(s) == 0 || s[len(s)-1] != '}' {
		tb.Fatalf("not a JSON object: %q", s)
	}
	return fmt.Appendf(bytes.Clone(s[:len(s)-1]), `,"jobId":%d,"assignmentId":%d}`, jobID, orderID)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// jsonEqual compares two decoded JSON values.
func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// TestE2EBadScripts: scripts that misbehave each give a failed outcome
// saying why, while the good jobs in the same queue succeed.
func TestE2EBadScripts(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	scripts := filepath.Join(c.dir, "scripts")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	echo, err := os.ReadFile(filepath.Join(c.scripts, "echo.py"))
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"echo.py":    string(echo),
		"silent.py":  "import sys\nprint('training...')\nprint('done, no json here')\n",
		"crash.py":   "import json\nprint('epoch 1')\nraise ValueError('boom: bad learning rate')\n",
		"garbage.py": "import sys\nsys.stdout.buffer.write(b'\\x00\\xff\\xfe{\\x80\\x81 not json\\n\\xc3\\x28\\n')\n",
		"bad400.py":  "import json, sys\nprint(json.dumps({'status': 400, 'error': 'epochs: want a whole number >= 1', 'field': 'epochs'}))\nsys.exit(2)\n",
		"said500.py": "import json\nprint(json.dumps({'status': 500, 'error': 'RuntimeError: out of memory'}))\n",
	}
	for name, text := range bad {
		if err := os.WriteFile(filepath.Join(scripts, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		script    string
		succeeded bool
		errRe     string // substring the error must hold
	}{
		{"echo.py", true, ""},
		{"silent.py", false, `no outcome: no stdout line is a JSON object`},
		{"crash.py", false, `exit status 1: ValueError: boom: bad learning rate`},
		{"garbage.py", false, `no outcome: no stdout line is a JSON object`},
		{"bad400.py", false, `exit status 2: epochs: want a whole number >= 1`},
		{"said500.py", false, `script reported status 500: RuntimeError: out of memory`},
		{"echo.py", true, ""},
	}
	jobs := make([]any, len(cases))
	for i, tc := range cases {
		jobs[i] = map[string]any{"scriptName": tc.script, "projectName": "bad", "x": i}
	}
	subs := c.submit(scripts, jobs...)
	r := c.mustRun(dispatchArgs(hostsFile, scripts)...)
	if !strings.Contains(r.stderr, "2 succeeded, 5 failed") {
		t.Errorf("dispatch summary: want 2 succeeded, 5 failed; stderr:\n%s", r.stderr)
	}
	got := byJob(t, c.outcomes())
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d-%s", i, tc.script), func(t *testing.T) {
			o, ok := got[subs[i].JobID]
			if !ok {
				t.Fatalf("no outcome")
			}
			if (o.State == "succeeded") != tc.succeeded {
				t.Fatalf("state %s (error %q), want succeeded=%v", o.State, o.Error, tc.succeeded)
			}
			if tc.succeeded {
				if o.Error != "" {
					t.Errorf("succeeded with error %q", o.Error)
				}
				return
			}
			if !strings.Contains(o.Error, tc.errRe) {
				t.Errorf("error %q, want it to contain %q", o.Error, tc.errRe)
			}
		})
	}
}

// TestE2EHostKeys: a host whose key changed and a host not in known_hosts
// are refused, each with the command that fixes it, while the good host
// runs the whole queue; with every host refused, dispatch fails and the
// queue stays intact.
func TestE2EHostKeys(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 3)
	good, changed, unknown := servers[0], servers[1], servers[2]
	// changed's entry holds another host's key under its own address.
	_, otherKey, _ := strings.Cut(servers[2].KnownHostsLine, " ")
	partial := mustWrite(t, t.TempDir(), "known_hosts-*", []byte(
		good.KnownHostsLine+"\n"+
			"["+changed.Host+"]:"+fmt.Sprint(changed.Port)+" "+otherKey+"\n"))

	t.Run("some refused", func(t *testing.T) {
		c := newCLI(t)
		hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2, knownHosts: partial})
		const n = 8
		jobs := make([]any, n)
		for i := range jobs {
			jobs[i] = map[string]any{"scriptName": "echo.py", "projectName": "keys", "x": i}
		}
		c.submit(c.scripts, jobs...)
		r := c.mustRun(dispatchArgs(hostsFile, c.scripts)...)
		for _, want := range []string{changed.Name, "ssh-keygen -R", unknown.Name, "ssh-keyscan"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("dispatch stderr lacks %q:\n%s", want, r.stderr)
			}
		}
		if changedLine := lineWith(r.stderr, "ssh-keygen -R"); !strings.Contains(changedLine, fmt.Sprint(changed.Port)) {
			t.Errorf("the ssh-keygen -R hint %q does not name %s's port %d", changedLine, changed.Name, changed.Port)
		}
		if scanLine := lineWith(r.stderr, "ssh-keyscan"); !strings.Contains(scanLine, fmt.Sprint(unknown.Port)) {
			t.Errorf("the ssh-keyscan hint %q does not name %s's port %d", scanLine, unknown.Name, unknown.Port)
		}
		rows := c.outcomes()
		if len(rows) != n {
			t.Fatalf("%d outcomes, want %d", len(rows), n)
		}
		for _, o := range rows {
			if o.State != "succeeded" || o.Host != good.Name {
				t.Errorf("job %d: %s on %s (%s), want succeeded on %s", o.JobID, o.State, o.Host, o.Error, good.Name)
			}
		}
		for _, s := range []*sshtest.Server{changed, unknown} {
			if runs, _ := filepath.Glob(filepath.Join(s.Workdir, "runs", "*")); len(runs) > 0 {
				t.Errorf("refused host %s has run dirs: %v", s.Name, runs)
			}
		}
	})

	t.Run("all refused", func(t *testing.T) {
		c := newCLI(t)
		// Only changed's wrong key: every host is refused.
		wrongOnly := mustWrite(t, t.TempDir(), "known_hosts-*", []byte(
			"["+changed.Host+"]:"+fmt.Sprint(changed.Port)+" "+otherKey+"\n"))
		hostsFile := writeHosts(t, c.dir, servers[1:], keys, hostsOptions{slots: 2, knownHosts: wrongOnly})
		c.submit(c.scripts,
			map[string]any{"scriptName": "echo.py", "projectName": "keys", "x": 1},
			map[string]any{"scriptName": "echo.py", "projectName": "keys", "x": 2},
			map[string]any{"scriptName": "echo.py", "projectName": "keys", "x": 3})
		r := c.run(dispatchArgs(hostsFile, c.scripts)...)
		if r.code != 1 {
			t.Errorf("dispatch exit %d, want 1; stderr:\n%s", r.code, r.stderr)
		}
		for _, want := range []string{"ssh-keygen -R", "ssh-keyscan", "Error: ", "Try: "} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("dispatch stderr lacks %q:\n%s", want, r.stderr)
			}
		}
		counts := c.statusCounts()
		if counts["unassigned"] != 3 || counts["assigned"]+counts["running"]+counts["succeeded"]+counts["failed"] != 0 {
			t.Errorf("status counts %v, want all 3 unassigned", counts)
		}
		if rows := c.outcomes(); len(rows) != 0 {
			t.Errorf("%d outcomes, want none", len(rows))
		}
	})
}

// lineWith returns the first line of s containing sub, or "".
func lineWith(s, sub string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			return line
		}
	}
	return ""
}

// waitFor polls cond every interval until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond) // a poll interval, not synchronisation: cond decides
	}
}

// TestE2EFollowAndInterrupt: jobs submitted while dispatch --follow runs
// get run; SIGINT then stops it with exit 130 and the Stopping message.
func TestE2EFollowAndInterrupt(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	// Only submit makes a queue file: dispatch refuses a missing one (a
	// mistyped --db). Start from a queue with nothing to run.
	first := c.submit(c.scripts, map[string]any{"scriptName": "echo.py", "projectName": "follow", "x": 0})
	c.mustRun("cancel", strconv.FormatInt(first[0].JobID, 10))
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	var stderr testutil.SyncBuffer
	cmd := c.command(ctx, dispatchArgs(hostsFile, c.scripts, "--follow", "-v")...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	defer func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	// Submitted after dispatch started, in two batches.
	c.submit(c.scripts, map[string]any{"scriptName": "echo.py", "projectName": "follow", "x": 1})
	waitFor(t, "the first job to succeed", time.Minute, func() bool { return c.statusCounts()["succeeded"] == 1 })
	c.submit(c.scripts,
		map[string]any{"scriptName": "echo.py", "projectName": "follow", "x": 2},
		map[string]any{"scriptName": "echo.py", "projectName": "follow", "x": 3})
	waitFor(t, "all 3 jobs to succeed", time.Minute, func() bool { return c.statusCounts()["succeeded"] == 3 })

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	waited = true
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("dispatch --follow after SIGINT: %v, want exit status 130; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "Stopping") {
		t.Errorf("stderr lacks the Stopping message:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "3 succeeded, 0 failed") {
		t.Errorf("stderr lacks the summary of 3 succeeded:\n%s", stderr.String())
	}
	counts := c.statusCounts()
	if counts["succeeded"] != 3 || counts["unassigned"]+counts["assigned"]+counts["running"] != 0 {
		t.Errorf("status after stop: %v, want 3 succeeded and nothing pending", counts)
	}
}

// TestE2ETwoDispatchers: two dispatchers on one database and the same
// hosts share the queue without running any order twice.
func TestE2ETwoDispatchers(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 2)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	const n = 40
	jobs := make([]any, n)
	for i := range jobs {
		jobs[i] = map[string]any{"scriptName": "echo.py", "projectName": "two", "x": i, "sleepSeconds": 0.1}
	}
	subs := c.submit(c.scripts, jobs...)

	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	var cmds []*exec.Cmd
	var stderrs []*bytes.Buffer
	for range 2 {
		var stderr bytes.Buffer
		cmd := c.command(ctx, dispatchArgs(hostsFile, c.scripts)...)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		stderrs = append(stderrs, &stderr)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("dispatcher %d: %v; stderr:\n%s", i+1, err, stderrs[i])
		}
	}

	rows := c.outcomes()
	if len(rows) != n {
		t.Errorf("%d outcomes, want %d", len(rows), n)
	}
	orders := map[int64]int{}
	for _, o := range rows {
		orders[o.OrderID]++
		if o.Attempt != 1 || o.State != "succeeded" {
			t.Errorf("order %d: attempt %d %s (%s), want attempt 1 succeeded", o.OrderID, o.Attempt, o.State, o.Error)
		}
	}
	for _, s := range subs {
		if orders[s.OrderID] != 1 {
			t.Errorf("order %d has %d outcomes, want 1", s.OrderID, orders[s.OrderID])
		}
	}
	// No order ran twice: exactly one run dir per order across all hosts.
	runDirs := map[string][]string{}
	for _, s := range servers {
		dirs, err := filepath.Glob(filepath.Join(s.Workdir, "runs", "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			// <queue>-<order>-<attempt>
			parts := strings.Split(filepath.Base(d), "-")
			if len(parts) != 3 {
				t.Fatalf("run dir %s is not named <queue>-<order>-<attempt>", d)
			}
			runDirs[parts[1]] = append(runDirs[parts[1]], d)
		}
	}
	for _, s := range subs {
		if d := runDirs[fmt.Sprint(s.OrderID)]; len(d) != 1 {
			t.Errorf("order %d has %d run dirs, want 1: %v", s.OrderID, len(d), d)
		}
	}
	if len(runDirs) != n {
		t.Errorf("run dirs for %d orders, want %d", len(runDirs), n)
	}
	for _, id := range subs[:1] {
		if sh := c.show(id.JobID); len(sh.Attempts) != 1 {
			t.Errorf("job %d: %d attempts, want 1", id.JobID, len(sh.Attempts))
		}
	}
}

// TestE2EGPUSlots: a host with two GPUs runs one job per GPU, each with
// CUDA_VISIBLE_DEVICES naming the slot the attempt was given.
func TestE2EGPUSlots(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{gpus: []string{"0", "1"}})
	const n = 6
	jobs := make([]any, n)
	for i := range jobs {
		jobs[i] = map[string]any{"scriptName": "echo.py", "projectName": "gpu", "x": i, "sleepSeconds": 0.2}
	}
	subs := c.submit(c.scripts, jobs...)
	c.mustRun(dispatchArgs(hostsFile, c.scripts)...)
	used := map[string]int{}
	for _, s := range subs {
		sh := c.show(s.JobID)
		if len(sh.Attempts) != 1 || len(sh.Outcomes) != 1 {
			t.Errorf("job %d: %d attempts and %d outcomes, want 1 each", s.JobID, len(sh.Attempts), len(sh.Outcomes))
			continue
		}
		slot, o := sh.Attempts[0].Slot, sh.Outcomes[0]
		if o.State != "succeeded" {
			t.Errorf("job %d: %s (%s)", s.JobID, o.State, o.Error)
		}
		if slot != "0" && slot != "1" {
			t.Errorf("job %d: slot %q, want 0 or 1", s.JobID, slot)
		}
		switch {
		case o.CudaVisibleDevices == nil:
			t.Errorf("job %d: CUDA_VISIBLE_DEVICES unset, want %q", s.JobID, slot)
		case *o.CudaVisibleDevices != slot:
			t.Errorf("job %d: CUDA_VISIBLE_DEVICES=%q, want the attempt's slot %q", s.JobID, *o.CudaVisibleDevices, slot)
		}
		used[slot]++
	}
	if used["0"] == 0 || used["1"] == 0 {
		t.Errorf("slots used %v, want both GPUs", used)
	}
}

// TestE2ENeuralNet runs the real trainer, nn.py, on the wine data through
// dispatch on an sshd host, with few epochs to keep it quick.
func TestE2ENeuralNet(t *testing.T) {
	t.Parallel()
	// The hosts first: under -short they skip the test before the seconds
	// that importing torch takes.
	servers, keys := startHosts(t, 1)
	if out, err := exec.Command(hostPython, "-c", "import torch, sklearn, pandas").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import torch, sklearn and pandas (%v): run `make test`, which installs them\n%s", hostPython, err, out)
	}
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "wine_data", "job.json"))
	if err != nil {
		t.Fatal(err)
	}
	var job map[string]any
	if err := json.Unmarshal(data, &job); err != nil {
		t.Fatal(err)
	}
	job["epochs"] = 20
	job["cvFolds"] = 2
	subs := c.submit(c.scripts, job)
	r := c.mustRun(dispatchArgs(hostsFile, c.scripts)...)
	sh := c.show(subs[0].JobID)
	if len(sh.Outcomes) != 1 {
		t.Fatalf("%d outcomes, want 1; dispatch stderr:\n%s", len(sh.Outcomes), r.stderr)
	}
	o := sh.Outcomes[0]
	if o.State != "succeeded" || o.Status.String() != "200" {
		t.Fatalf("nn.py: state %s, status %s, error %q", o.State, o.Status, o.Error)
	}
	for name, v := range map[string]*float64{"loss": o.Loss, "metric": o.Metric} {
		if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
			t.Errorf("%s = %v, want a finite number", name, v)
		}
	}
	if o.Host != servers[0].Name {
		t.Errorf("ran on %q, want %q", o.Host, servers[0].Name)
	}
}
