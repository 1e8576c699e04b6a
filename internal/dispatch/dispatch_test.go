package dispatch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/engine"
	_ "github.com/mljob/mljob/internal/engines" // the engines dispatch opens
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshworker"
	"github.com/mljob/mljob/internal/testutil"
)

const python = "/usr/bin/python3"

// scriptsDir is the repository's python-scripts, holding echo.py.
func scriptsDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "python-scripts")
	if _, err := os.Stat(filepath.Join(dir, "echo.py")); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath(python); err != nil {
		t.Fatalf("%s is required (make test installs it): %v", python, err)
	}
	return dir
}

func submit(t *testing.T, d *db.DB, specs ...string) []db.Submitted {
	t.Helper()
	var jobs []db.NewJob
	for _, s := range specs {
		jobs = append(jobs, db.NewJob{Project: "p", Script: "echo.py", Spec: []byte(s)})
	}
	subs, err := d.SubmitJobs(context.Background(), jobs)
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

func localOptions(t *testing.T, slots int) dispatch.Options {
	dir := scriptsDir(t)
	logs := t.TempDir()
	return dispatch.Options{
		LogDir:     logs,
		Hosts:      []hosts.Host{hosts.LocalHost(slots, python, t.TempDir())},
		ScriptsDir: dir,
		DataDir:    filepath.Join(dir, "data"),
		Poll:       50 * time.Millisecond,
		Retries:    dispatch.DefaultRetries,
	}
}

func TestRunsTheQueue(t *testing.T) {
	d := testutil.MustOpenDB(t)
	var specs []string
	for i := 0; i < 8; i++ {
		specs = append(specs, fmt.Sprintf(`{"projectName":"p","scriptName":"echo.py","x":%d}`, i))
	}
	specs = append(specs, `{"projectName":"p","scriptName":"echo.py","exitCode":3}`)
	submit(t, d, specs...)
	var log bytes.Buffer
	opts := localOptions(t, 3)
	opts.Log = &log
	sum, err := dispatch.Run(context.Background(), d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Succeeded != 8 || sum.Failed != 1 {
		t.Fatalf("summary %+v\n%s", sum, log.String())
	}
	rows, err := d.Outcomes(context.Background(), db.OutcomeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 9 {
		t.Fatalf("%d outcomes", len(rows))
	}
	for _, r := range rows {
		if r.JobID == 9 {
			if r.Succeeded || r.ExitCode == nil || *r.ExitCode != 3 || !strings.Contains(r.Error, "exit status 3") {
				t.Errorf("job 9: %+v", r.Outcome)
			}
			continue
		}
		x := float64(r.JobID - 1)
		if !r.Succeeded || r.Loss == nil || *r.Loss != x*x || r.Metric == nil || *r.Metric != x {
			t.Errorf("job %d: succeeded %v loss %v metric %v error %q", r.JobID, r.Succeeded, r.Loss, r.Metric, r.Error)
		}
	}
	counts, _ := d.StateCounts(context.Background())
	for _, c := range counts {
		if c.State != db.StateSucceeded && c.State != db.StateFailed && c.Count > 0 {
			t.Errorf("%d orders left %s", c.Count, c.State)
		}
	}
	if !strings.Contains(log.String(), "running on local slot") {
		t.Errorf("no state-change lines in the log:\n%s", log.String())
	}
}

func TestPriorityOrder(t *testing.T) {
	d := testutil.MustOpenDB(t)
	ctx := context.Background()
	_, err := d.SubmitJobs(ctx, []db.NewJob{
		{Project: "p", Script: "echo.py", Spec: []byte(`{"x":1}`), Priority: 0},
		{Project: "p", Script: "echo.py", Spec: []byte(`{"x":2}`), Priority: 5},
		{Project: "p", Script: "echo.py", Spec: []byte(`{"x":3}`), Priority: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dispatch.Run(ctx, d, localOptions(t, 1)); err != nil {
		t.Fatal(err)
	}
	rows, _ := d.Outcomes(ctx, db.OutcomeFilter{})
	// Outcome ids follow the order in which the runs finished.
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	var order []int64
	for _, r := range rows {
		order = append(order, r.JobID)
	}
	if fmt.Sprint(order) != "[2 1 3]" {
		t.Fatalf("with one slot, jobs ran in order %v, want [2 1 3]", order)
	}
}

func TestMissingScriptFailsTheJobOnly(t *testing.T) {
	d := testutil.MustOpenDB(t)
	ctx := context.Background()
	if _, err := d.SubmitJobs(ctx, []db.NewJob{
		{Project: "p", Script: "gone.py", Spec: []byte(`{}`)},
		{Project: "p", Script: "echo.py", Spec: []byte(`{"x":2}`)},
	}); err != nil {
		t.Fatal(err)
	}
	sum, err := dispatch.Run(ctx, d, localOptions(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Succeeded != 1 || sum.Failed != 1 {
		t.Fatalf("summary %+v", sum)
	}
	rows, _ := d.Outcomes(ctx, db.OutcomeFilter{JobID: 1})
	if len(rows) != 1 || !strings.Contains(rows[0].Error, "gone.py") {
		t.Fatalf("outcome of the job with a missing script: %+v", rows)
	}
}

func TestStartFailuresRequeueThenFail(t *testing.T) {
	d := testutil.MustOpenDB(t)
	ctx := context.Background()
	submit(t, d, `{"x":1}`)
	opts := localOptions(t, 1)
	// A workdir under a regular file cannot be created: every start fails
	// before the run exists, which is an infrastructure failure.
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	opts.Hosts[0].Workdir = filepath.Join(blocker, "workdir")
	var warn bytes.Buffer
	opts.Warn = &warn
	sum, err := dispatch.Run(ctx, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Requeued != 2 || sum.Failed != 1 {
		t.Fatalf("summary %+v\n%s", sum, warn.String())
	}
	atts, err := d.Attempts(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 3 {
		t.Fatalf("%d attempts, want 3", len(atts))
	}
	for _, a := range atts {
		if a.State != db.StateFailed || a.Error == "" {
			t.Errorf("attempt %d: state %s error %q", a.Attempt, a.State, a.Error)
		}
	}
	orders, _ := d.OrdersForJob(ctx, 1)
	if orders[0].State != db.StateFailed {
		t.Fatalf("order state %s", orders[0].State)
	}
}

func TestEveryHostRefusedLeavesTheQueue(t *testing.T) {
	d := testutil.MustOpenDB(t)
	ctx := context.Background()
	submit(t, d, `{"x":1}`, `{"x":2}`)
	opts := localOptions(t, 1)
	opts.Hosts = append(opts.Hosts, opts.Hosts[0])
	opts.Hosts[1].Name = "other"
	opts.Connect = func(ctx context.Context, h hosts.Host, _ engine.Options) (engine.Engine, error) {
		return nil, &sshconn.HostKeyError{Host: h.Name, Address: "[127.0.0.1]:2222", KnownHosts: "/k", KeyType: "ssh-ed25519", Fingerprint: "SHA256:x"}
	}
	var warn bytes.Buffer
	opts.Warn = &warn
	_, err := dispatch.Run(ctx, d, opts)
	if !errors.Is(err, dispatch.ErrNoUsableHost) {
		t.Fatalf("err = %v", err)
	}
	if n, _ := d.CountUnassigned(ctx); n != 2 {
		t.Fatalf("%d unassigned, want 2: the queue must stay intact", n)
	}
	for _, want := range []string{"host local refused", "host other refused", "ssh-keyscan"} {
		if !strings.Contains(warn.String(), want) {
			t.Errorf("warnings lack %q:\n%s", want, warn.String())
		}
	}
}

func TestInterruptLeavesRunsRunning(t *testing.T) {
	d := testutil.MustOpenDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	submit(t, d, `{"x":4,"sleepSeconds":1}`, `{"x":5}`)
	opts := localOptions(t, 1)
	workdir := opts.Hosts[0].Workdir
	var log bytes.Buffer
	started := make(chan struct{})
	opts.Log = writerFunc(func(p []byte) {
		log.Write(p)
		if bytes.Contains(p, []byte("order 1 running")) {
			close(started)
		}
	})
	type result struct {
		sum dispatch.Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := dispatch.Run(ctx, d, opts)
		done <- result{sum, err}
	}()
	<-started
	cancel()
	r := <-done
	if !errors.Is(r.err, context.Canceled) || r.sum.Detached != 1 {
		t.Fatalf("Run = %+v, %v\n%s", r.sum, r.err, log.String())
	}
	orders, _ := d.OrdersForJob(context.Background(), 1)
	if orders[0].State != db.StateRunning || orders[0].PID == 0 {
		t.Fatalf("order 1 after interrupt: %+v", orders[0])
	}
	if n, _ := d.CountUnassigned(context.Background()); n != 1 {
		t.Fatalf("order 2 should still wait, %d unassigned", n)
	}
	// The run went on without the dispatcher and finishes on its own.
	h := sshworker.NewHost("local", sshconn.Local{}, workdir)
	res, err := h.Attach(context.Background(), pyexec.RunID(d.QueueID(), 1, 1), run.AttachOptions{StdoutTail: 1 << 16, StderrTail: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || !bytes.Contains(res.Stdout, []byte(`"loss": 16.0`)) {
		t.Fatalf("detached run: exit %d stdout %q", res.ExitCode, res.Stdout)
	}
}

type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) {
	f(p)
	return len(p), nil
}

func TestFollowTakesNewSubmissionsWithoutWaitingForAPoll(t *testing.T) {
	d := testutil.MustOpenDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	submit(t, d, `{"x":1}`)
	opts := localOptions(t, 1)
	opts.Follow = true
	// A probe interval far longer than the test: only the idle queue
	// check can pick up the second job.
	opts.Poll = time.Hour
	second := make(chan struct{})
	opts.Log = writerFunc(func(p []byte) {
		switch {
		case bytes.Contains(p, []byte("order 1 succeeded")):
			go func() {
				if _, err := d.SubmitJobs(ctx, []db.NewJob{{Project: "p", Script: "echo.py", Spec: []byte(`{"x":2}`)}}); err != nil {
					t.Errorf("submit: %v", err)
				}
			}()
		case bytes.Contains(p, []byte("order 2 succeeded")):
			close(second)
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := dispatch.Run(ctx, d, opts)
		done <- err
	}()
	select {
	case <-second:
	case <-time.After(30 * time.Second):
		t.Fatal("a job submitted to an idle --follow dispatcher did not run")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
}

// Two queue files whose hosts share a workdir (two laptops, or a fresh file
// after an old one) number their orders alike; their run dirs must differ.
func TestTwoQueuesShareAWorkdir(t *testing.T) {
	ctx := context.Background()
	opts := localOptions(t, 1)
	for i, x := range []int{3, 5} {
		d := testutil.MustOpenDB(t)
		submit(t, d, fmt.Sprintf(`{"x":%d}`, x))
		sum, err := dispatch.Run(ctx, d, opts)
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := d.Outcomes(ctx, db.OutcomeFilter{})
		if sum.Succeeded != 1 || sum.Requeued != 0 || len(rows) != 1 || rows[0].Attempt != 1 || *rows[0].Loss != float64(x*x) {
			t.Fatalf("queue %d: summary %+v outcomes %+v", i+1, sum, rows)
		}
	}
}
