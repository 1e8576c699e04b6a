package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/proctree"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/render"
	runspec "github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshworker"
	"github.com/mljob/mljob/internal/testutil"
)

// The lifecycle tests drive cancel, retry and logs end to end: the mljob
// command against sshd hosts on 127.0.0.1, with dispatch running beside.

// bgCommand is an mljob command running in the background.
type bgCommand struct {
	cmd    *exec.Cmd
	stdout testutil.SyncBuffer
	stderr testutil.SyncBuffer
	done   chan error // receives Wait's result once
}

// start runs mljob in the background; the test's cleanup kills it if the
// test has not waited for it.
func (c *cli) start(ctx context.Context, args ...string) *bgCommand {
	c.tb.Helper()
	b := &bgCommand{done: make(chan error, 1)}
	b.cmd = c.command(ctx, args...)
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	if err := b.cmd.Start(); err != nil {
		c.tb.Fatal(err)
	}
	go func() { b.done <- b.cmd.Wait() }()
	c.tb.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// wait waits for the command to end and returns its exit code.
func (b *bgCommand) wait(tb testing.TB, timeout time.Duration) int {
	tb.Helper()
	select {
	case err := <-b.done:
		b.done <- err // later waits (and the cleanup) see it too
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.ExitCode()
		default:
			tb.Fatalf("%s: %v\nstderr:\n%s", strings.Join(b.cmd.Args, " "), err, b.stderr.String())
		}
	case <-time.After(timeout):
		tb.Fatalf("%s still running after %v\nstdout:\n%s\nstderr:\n%s",
			strings.Join(b.cmd.Args, " "), timeout, b.stdout.String(), b.stderr.String())
	}
	return -1
}

// exited reports whether the command has ended.
func (b *bgCommand) exited() bool {
	select {
	case err := <-b.done:
		b.done <- err
		return true
	default:
		return false
	}
}

// liveProcesses counts the live (not zombie) processes of the run whose
// wrapper is pid: the wrapper and every process below it.
func liveProcesses(tb testing.TB, pid int) int {
	tb.Helper()
	procs := proctree.List()
	state := map[int]byte{}
	for _, p := range procs {
		state[p.PID] = p.State
	}
	n := 0
	for _, p := range proctree.Tree(procs, pid) {
		if st, ok := state[p]; ok && st != 'Z' {
			n++
		}
	}
	return n
}

// readPID waits for the pid file of a run dir and returns the pid in it.
func readPID(tb testing.TB, runDir string) int {
	tb.Helper()
	var pid int
	waitFor(tb, "the run's pid file in "+runDir, time.Minute, func() bool {
		b, err := os.ReadFile(filepath.Join(runDir, "pid"))
		if err != nil {
			return false
		}
		// The first line is the pid; a second holds its start time and
		// the boot id (runs of this mljob).
		first, _, _ := strings.Cut(string(b), "\n")
		pid, err = strconv.Atoi(strings.TrimSpace(first))
		return err == nil
	})
	return pid
}

// writeScripts writes python scripts into a fresh scripts dir.
func writeScripts(tb testing.TB, dir string, scripts map[string]string) string {
	tb.Helper()
	d := filepath.Join(dir, "scripts")
	if err := os.MkdirAll(d, 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, text := range scripts {
		if err := os.WriteFile(filepath.Join(d, name), []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}

// TestE2ECancelRunning: cancelling a running job while dispatch waits on
// it kills the run's whole process group on its host at once, leaves the
// order cancelled, and dispatch then ends.
func TestE2ECancelRunning(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	subs := c.submit(c.scripts, map[string]any{"scriptName": "echo.py", "projectName": "cancel", "sleepSeconds": 60})
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	d := c.start(ctx, dispatchArgs(hostsFile, c.scripts)...)

	waitFor(t, "the job to run", time.Minute, func() bool { return c.statusCounts()["running"] == 1 })
	runDir := c.show(subs[0].JobID).Attempts[0].RunDir
	pid := readPID(t, runDir)
	if liveProcesses(t, pid) == 0 {
		t.Fatalf("run group %d has no live process before the cancel", pid)
	}

	r := c.mustRun("cancel", fmt.Sprint(subs[0].JobID), "-o", "json")
	var rows []struct {
		OrderID       int64  `json:"orderId"`
		JobID         int64  `json:"jobId"`
		PreviousState string `json:"previousState"`
		Action        string `json:"action"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("cancel -o json: %v\n%s", err, r.stdout)
	}
	if len(rows) != 1 || rows[0].OrderID != subs[0].OrderID || rows[0].JobID != subs[0].JobID ||
		rows[0].PreviousState != "running" || rows[0].Action != "killed" {
		t.Errorf("cancel printed %+v, want order %d running → killed; stderr:\n%s", rows, subs[0].OrderID, r.stderr)
	}
	// Kill returns once the group is gone: no waiting here.
	if n := liveProcesses(t, pid); n > 0 {
		t.Errorf("%d processes of the run's group %d still alive after cancel", n, pid)
	}
	if code := d.wait(t, time.Minute); code != 0 {
		t.Errorf("dispatch exit %d, want 0; stderr:\n%s", code, d.stderr.String())
	}
	counts := c.statusCounts()
	if counts["cancelled"] != 1 || counts["running"]+counts["assigned"]+counts["unassigned"] != 0 {
		t.Errorf("status %v, want the one order cancelled", counts)
	}
	if _, err := os.Stat(filepath.Join(runDir, "exit_code")); err != nil {
		t.Errorf("the killed run left no exit code: %v", err)
	}
	// Cancelled, not failed: nothing to retry with --failed.
	if r := c.run("retry", "--failed"); r.code != 1 {
		t.Errorf("retry --failed after a cancel: exit %d, want 1 (nothing failed)", r.code)
	}
}

// tickerPy prints a line, waits for the file the job's "goFile" names,
// then prints another and its outcome; the lines are flushed as they go.
const tickerPy = `import json, os, sys, time
job = json.loads(sys.argv[1])
print("tick 1", flush=True)
print("on stderr", file=sys.stderr, flush=True)
while not os.path.exists(job["goFile"]):
    time.sleep(0.05)
print("tick 2", flush=True)
print(json.dumps({"status": 200, "loss": 1.0}), flush=True)
`

// TestE2ELogsFollow: logs -f of a running job prints its output as the
// script writes it and returns when the run ends; once the job is done,
// logs prints the copy the dispatcher kept.
func TestE2ELogsFollow(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	scripts := writeScripts(t, c.dir, map[string]string{"ticker.py": tickerPy})
	goFile := filepath.Join(c.dir, "go")
	subs := c.submit(scripts, map[string]any{"scriptName": "ticker.py", "projectName": "logs", "goFile": goFile})
	order := fmt.Sprint(subs[0].OrderID)
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	d := c.start(ctx, dispatchArgs(hostsFile, scripts)...)
	waitFor(t, "the job to run", time.Minute, func() bool { return c.statusCounts()["running"] == 1 })

	logs := c.start(ctx, "logs", order, "-f")
	waitFor(t, "logs -f to print the first line", time.Minute, func() bool {
		return strings.Contains(logs.stdout.String(), "tick 1\n") || logs.exited()
	})
	// The script waits for goFile: the run is alive, so logs must be too.
	if logs.exited() {
		t.Fatalf("logs -f ended while the run was alive; stdout %q, stderr:\n%s", logs.stdout.String(), logs.stderr.String())
	}
	if got := logs.stdout.String(); got != "tick 1\n" {
		t.Errorf("logs -f printed %q so far, want %q", got, "tick 1\n")
	}
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := logs.wait(t, time.Minute); code != 0 {
		t.Fatalf("logs -f exit %d; stderr:\n%s", code, logs.stderr.String())
	}
	want := "tick 1\ntick 2\n" + `{"status": 200, "loss": 1.0}` + "\n"
	if got := logs.stdout.String(); got != want {
		t.Errorf("logs -f printed %q, want %q", got, want)
	}
	if code := d.wait(t, time.Minute); code != 0 {
		t.Fatalf("dispatch exit %d; stderr:\n%s", code, d.stderr.String())
	}

	// Finished: from the dispatcher's copy on this machine, even with the
	// host gone.
	servers[0].Stop()
	if r := c.mustRun("logs", order); r.stdout != want {
		t.Errorf("logs after the run printed %q, want %q", r.stdout, want)
	}
	if r := c.mustRun("logs", order, "--stderr", "--attempt", "1"); r.stdout != "on stderr\n" {
		t.Errorf("logs --stderr printed %q, want %q", r.stdout, "on stderr\n")
	}
	if r := c.run("logs", order, "--attempt", "2"); r.code != 1 || !strings.Contains(r.stderr, "has no attempt 2") {
		t.Errorf("logs --attempt 2: exit %d, stderr %q; want 1 and no attempt 2", r.code, r.stderr)
	}
}

// flakyPy fails until the file the job's "okFile" names exists.
const flakyPy = `import json, os, sys
job = json.loads(sys.argv[1])
if not os.path.exists(job["okFile"]):
    print("not ready", file=sys.stderr)
    sys.exit(1)
print(json.dumps({"status": 200, "loss": 0.5}))
`

// TestE2ERetryFailed: a failed job, retried, runs again as its second
// attempt and succeeds; the first attempt and its outcome are kept.
func TestE2ERetryFailed(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	scripts := writeScripts(t, c.dir, map[string]string{"flaky.py": flakyPy})
	okFile := filepath.Join(c.dir, "ok")
	subs := c.submit(scripts,
		map[string]any{"scriptName": "flaky.py", "projectName": "retry", "okFile": okFile},
		map[string]any{"scriptName": "flaky.py", "projectName": "retry", "okFile": okFile})

	r := c.mustRun(dispatchArgs(hostsFile, scripts)...)
	if !strings.Contains(r.stderr, "0 succeeded, 2 failed") {
		t.Fatalf("first dispatch: want 2 failed; stderr:\n%s", r.stderr)
	}
	if err := os.WriteFile(okFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r = c.mustRun("retry", fmt.Sprint(subs[0].JobID), "-o", "csv")
	if want := fmt.Sprintf("orderId,jobId,previousState,attempts\n%d,%d,failed,1\n", subs[0].OrderID, subs[0].JobID); r.stdout != want {
		t.Errorf("retry printed %q, want %q", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "mljob dispatch") {
		t.Errorf("retry stderr lacks the hint to dispatch: %q", r.stderr)
	}

	r = c.mustRun(dispatchArgs(hostsFile, scripts)...)
	if !strings.Contains(r.stderr, "1 succeeded, 0 failed") {
		t.Errorf("second dispatch: want only the retried job, succeeded; stderr:\n%s", r.stderr)
	}
	sh := c.show(subs[0].JobID)
	if len(sh.Attempts) != 2 || sh.Attempts[0].State != "failed" || sh.Attempts[1].State != "succeeded" || sh.Attempts[1].Attempt != 2 {
		t.Errorf("attempts %+v, want 1 failed then 2 succeeded", sh.Attempts)
	}
	if len(sh.Outcomes) != 2 || sh.Outcomes[0].State != "failed" || sh.Outcomes[1].State != "succeeded" {
		t.Errorf("outcomes %+v, want the failed one kept and a succeeded one", sh.Outcomes)
	}
	if other := c.show(subs[1].JobID); len(other.Attempts) != 1 {
		t.Errorf("job %d was not retried, yet has %d attempts", subs[1].JobID, len(other.Attempts))
	}
	if r := c.mustRun("logs", fmt.Sprint(subs[0].OrderID), "--stderr", "--attempt", "1"); r.stdout != "not ready\n" {
		t.Errorf("logs of the failed attempt printed %q, want %q", r.stdout, "not ready\n")
	}
}

// TestRunCancel checks cancel's action for each kind of order, in process,
// with runs started for real on this machine through the Local transport.
func TestRunCancel(t *testing.T) {
	unreachable := errors.New("dial tcp 127.0.0.1:1: connection refused")
	tests := []struct {
		name       string
		claim      bool // claim the order for host h1
		start      bool // start its run (implies claim)
		reachable  bool // openHost succeeds
		wantAction string
		wantErrOut string // a line ErrOut must hold; "" = ErrOut empty
	}{
		{name: "waiting", wantAction: "cancelled"},
		{name: "running, host reachable", claim: true, start: true, reachable: true, wantAction: "killed"},
		{name: "running, host unreachable", claim: true, start: true, wantAction: "kill pending",
			wantErrOut: "its run on h1 will be killed by the next dispatcher that reaches h1 (the order is cancelled already): cannot reach the host now: " + unreachable.Error()},
		{name: "assigned, not started", claim: true, reachable: true, wantAction: "kill pending",
			wantErrOut: "its run has not started yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			dbPath := filepath.Join(dir, "mljob.db")
			workdir := filepath.Join(dir, "host")
			store, err := db.Open(ctx, dbPath)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			subs, err := store.SubmitJobs(ctx, []db.NewJob{{Project: "p", Script: "echo.py", Spec: []byte(`{}`)}})
			if err != nil {
				t.Fatal(err)
			}
			h := sshworker.NewHost("h1", sshconn.Local{}, workdir)
			prev := "unassigned"
			pgid := 0
			if tt.claim || tt.start {
				c, err := store.ClaimOrder(ctx, "h1", "0", "test")
				if err != nil || c == nil {
					t.Fatalf("claim: %v, %v", c, err)
				}
				prev = "assigned"
			}
			if tt.start {
				started := make(chan runspec.Started, 1)
				runDone := make(chan error, 1)
				go func() {
					_, err := h.Run(ctx, runspec.Spec{ID: pyexec.RunID(store.QueueID(), subs[0].OrderID, 1), Argv: []string{"sh", "-c", "sleep 60 & wait"}},
						func(s runspec.Started) { started <- s })
					runDone <- err
				}()
				st := <-started
				pgid = st.PID
				t.Cleanup(func() {
					if err := h.Kill(ctx, pyexec.RunID(store.QueueID(), subs[0].OrderID, 1), 0); err != nil {
						t.Errorf("kill: %v", err)
					}
					if err := <-runDone; err != nil {
						t.Errorf("run: %v", err)
					}
				})
				if err := store.MarkRunning(ctx, subs[0].OrderID, 1, st.RunDir, st.PID); err != nil {
					t.Fatal(err)
				}
				prev = "running"
			}
			var out, errOut strings.Builder
			opts := &cancelOptions{
				app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}, dbPath: dbPath},
				ids: []int64{subs[0].JobID}, output: render.FormatCSV,
				openHost: func(_ context.Context, _ *db.DB, name string) (engine.Engine, error) {
					if name != "h1" {
						t.Errorf("openHost(%q), want h1", name)
					}
					if !tt.reachable {
						return nil, unreachable
					}
					return sshworker.NewHost("h1", sshconn.Local{}, workdir), nil
				},
			}
			if err := runCancel(ctx, opts); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("orderId,jobId,previousState,action\n%d,%d,%s,%s\n", subs[0].OrderID, subs[0].JobID, prev, tt.wantAction)
			if out.String() != want {
				t.Errorf("stdout = %q, want %q", out.String(), want)
			}
			if tt.wantErrOut == "" && errOut.Len() > 0 || !strings.Contains(errOut.String(), tt.wantErrOut) {
				t.Errorf("stderr = %q, want it to hold %q", errOut.String(), tt.wantErrOut)
			}
			if pgid != 0 {
				alive := liveProcesses(t, pgid)
				if tt.wantAction == "killed" && alive > 0 {
					t.Errorf("%d processes of the run still alive after it was killed", alive)
				}
				if tt.wantAction != "killed" && alive == 0 {
					t.Errorf("the run is gone though its host was unreachable")
				}
			}
			orders, err := store.OrdersForJob(ctx, subs[0].JobID)
			if err != nil || len(orders) != 1 || orders[0].State != db.StateCancelled {
				t.Errorf("orders after cancel = %+v, %v; want it cancelled", orders, err)
			}
		})
	}
}
