package dispatch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshworker"
	"github.com/mljob/mljob/internal/testutil"
)

// onceScript runs long in its first attempt's run dir (<order>-1) and
// reports at once in any later one.
const onceScript = `import json, os, sys, time
if os.path.basename(os.getcwd()).endswith("-1"):
    print("first attempt: sleeping", flush=True)
    time.sleep(60)
print(json.dumps({"status": 200, "loss": 1.0}))
`

func withScript(t *testing.T, opts *dispatch.Options, name, text string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	opts.ScriptsDir, opts.DataDir = dir, filepath.Join(dir, "data")
}

// startDetached starts an attempt's run the way a dispatcher does, then
// stops waiting on it, as a dispatcher killed with SIGKILL would.
func startDetached(t *testing.T, d *db.DB, opts dispatch.Options, dispatcherID string) run.Started {
	t.Helper()
	ctx := context.Background()
	c, err := d.ClaimOrder(ctx, opts.Hosts[0].Name, "0", dispatcherID)
	if err != nil || c == nil {
		t.Fatalf("claim: %v %v", c, err)
	}
	var files pyexec.Files
	spec, err := pyexec.Spec(pyexec.Job{Queue: d.QueueID(), JobID: c.Job.ID, OrderID: c.Order.ID, Attempt: c.Order.Attempt, Spec: c.Job.Spec, Script: c.Job.Script},
		pyexec.Settings{ScriptsDir: opts.ScriptsDir, DataDir: opts.DataDir, Python: python}, &files)
	if err != nil {
		t.Fatal(err)
	}
	h := sshworker.NewHost("local", sshconn.Local{}, opts.Hosts[0].Workdir)
	runCtx, cancel := context.WithCancel(ctx)
	started := make(chan run.Started, 1)
	errc := make(chan error, 1)
	go func() {
		_, err := h.Run(runCtx, spec, func(s run.Started) { started <- s })
		errc <- err
	}()
	s := <-started
	if err := d.MarkRunning(ctx, c.Order.ID, c.Order.Attempt, s.RunDir, s.PID); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("detach: %v", err)
	}
	return s
}

func TestAdoptsTheRunsOfADeadDispatcher(t *testing.T) {
	d := testutil.MustOpenDB(t)
	ctx := context.Background()
	submit(t, d, `{"x":3,"sleepSeconds":0.5}`, `{"x":4}`)
	opts := localOptions(t, 2)
	// A dispatcher of this machine whose process is gone: its pid cannot exist.
	dead := fmt.Sprintf("%s:%d:x", mustHostname(t), 1<<30)
	if err := d.RegisterDispatcher(ctx, dead, mustHostname(t), 1<<30); err != nil {
		t.Fatal(err)
	}
	st := startDetached(t, d, opts, dead)
	var log bytes.Buffer
	opts.Log = &log
	sum, err := dispatch.Run(ctx, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Adopted != 1 || sum.Succeeded != 2 {
		t.Fatalf("summary %+v\n%s", sum, log.String())
	}
	atts, _ := d.Attempts(ctx, 1)
	if len(atts) != 1 || atts[0].State != db.StateSucceeded || atts[0].PID != st.PID {
		t.Fatalf("order 1 ran again or was not collected: %+v", atts)
	}
	rows, _ := d.Outcomes(ctx, db.OutcomeFilter{JobID: 1})
	if len(rows) != 1 || rows[0].Loss == nil || *rows[0].Loss != 9 {
		t.Fatalf("outcomes of job 1: %+v", rows)
	}
	if rows[0].DurationSeconds < 0.5 {
		t.Fatalf("duration %.3fs does not count from the real start", rows[0].DurationSeconds)
	}
	// The finished run's output is kept on this machine.
	if b, err := os.ReadFile(dispatch.LogFile(opts.LogDir, 1, 1, "stdout")); err != nil || !bytes.Contains(b, []byte(`"loss": 9.0`)) {
		t.Fatalf("kept stdout: %q %v", b, err)
	}
}

func TestALostRunIsRequeued(t *testing.T) {
	d := testutil.MustOpenDB(t)
	ctx := context.Background()
	opts := localOptions(t, 1)
	withScript(t, &opts, "once.py", onceScript)
	if _, err := d.SubmitJobs(ctx, []db.NewJob{{Project: "p", Script: "once.py", Spec: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	// When the first attempt runs, kill its whole process group from
	// outside with SIGKILL, as a host restart would: no exit code is left.
	pidRe := regexp.MustCompile(`order 1 running on local slot 0 \(pid (\d+), \S+/runs/` + d.QueueID() + `-1-1\)`)
	var log bytes.Buffer
	opts.Log = writerFunc(func(p []byte) {
		log.Write(p)
		if m := pidRe.FindSubmatch(p); m != nil {
			pid, _ := strconv.Atoi(string(m[1]))
			// Once the script runs (it says so), its group is complete.
			stdout := filepath.Join(opts.Hosts[0].Workdir, "runs", pyexec.RunID(d.QueueID(), 1, 1), "stdout")
			go func() {
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					if b, _ := os.ReadFile(stdout); len(b) > 0 {
						if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
							t.Errorf("kill: %v", err)
						}
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
				t.Errorf("the first attempt never ran")
			}()
		}
	})
	sum, err := dispatch.Run(ctx, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Requeued != 1 || sum.Succeeded != 1 {
		t.Fatalf("summary %+v\n%s", sum, log.String())
	}
	atts, _ := d.Attempts(ctx, 1)
	if len(atts) != 2 || atts[0].State != db.StateFailed || !strings.Contains(atts[0].Error, "lost") || atts[1].State != db.StateSucceeded {
		t.Fatalf("attempts %+v", atts)
	}
}

func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	d := testutil.MustOpenDB(t)
	ctx := context.Background()
	submit(t, d, `{"x":1,"sleepSeconds":60,"timeoutSeconds":0.5}`)
	opts := localOptions(t, 1)
	sum, err := dispatch.Run(ctx, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 1 {
		t.Fatalf("summary %+v", sum)
	}
	rows, _ := d.Outcomes(ctx, db.OutcomeFilter{JobID: 1})
	if len(rows) != 1 || rows[0].Error != "timeout after 500ms" || rows[0].Succeeded {
		t.Fatalf("outcome %+v", rows)
	}
	orders, _ := d.OrdersForJob(ctx, 1)
	out, err := exec.Command("ps", "-eo", "pgid=,stat=").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == strconv.Itoa(orders[0].PID) && !strings.HasPrefix(f[1], "Z") {
			t.Fatalf("process group %d survived the timeout", orders[0].PID)
		}
	}
}

func mustHostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRetryFailed(t *testing.T) {
	for _, tc := range []struct {
		name         string
		retryFailed  bool
		wantAttempts int
		wantState    db.OrderState
	}{
		{"off: a script failure is final", false, 1, db.StateFailed},
		{"on: retried, then succeeds", true, 2, db.StateSucceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testutil.MustOpenDB(t)
			ctx := context.Background()
			opts := localOptions(t, 1)
			// Fails in its first attempt's run dir only.
			withScript(t, &opts, "flaky.py", `import os, sys
if os.path.basename(os.getcwd()).endswith("-1"):
    sys.exit("first attempt fails")
print('{"status": 200, "loss": 0.5}')
`)
			opts.RetryFailed = tc.retryFailed
			if _, err := d.SubmitJobs(ctx, []db.NewJob{{Project: "p", Script: "flaky.py", Spec: []byte(`{}`)}}); err != nil {
				t.Fatal(err)
			}
			if _, err := dispatch.Run(ctx, d, opts); err != nil {
				t.Fatal(err)
			}
			atts, _ := d.Attempts(ctx, 1)
			orders, _ := d.OrdersForJob(ctx, 1)
			rows, _ := d.Outcomes(ctx, db.OutcomeFilter{JobID: 1})
			if len(atts) != tc.wantAttempts || orders[0].State != tc.wantState || len(rows) != tc.wantAttempts {
				t.Fatalf("attempts %+v, order %s, %d outcomes", atts, orders[0].State, len(rows))
			}
			if !strings.Contains(rows[0].Error, "first attempt fails") {
				t.Fatalf("first outcome: %q", rows[0].Error)
			}
		})
	}
}
