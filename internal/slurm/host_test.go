package slurm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/slurm"
	"github.com/mljob/mljob/internal/slurmtest"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshtest"
	"github.com/mljob/mljob/internal/sshworker"
)

// testPoll keeps tests quick; Slurm itself starts jobs in waves ~3 s apart.
const testPoll = 200 * time.Millisecond

// waitLimit bounds every wait on the cluster in these tests.
const waitLimit = 90 * time.Second

type fixture struct {
	c    *slurmtest.Cluster
	wd   string
	host *slurm.Host
	mu   sync.Mutex
	news []slurm.PollNews
}

// newFixture starts a cluster and an engine on it through t.
func newFixture(t *testing.T, newTr func(*testing.T) sshconn.Transport, wd string, c *slurmtest.Cluster, cfg slurm.Config) *fixture {
	t.Helper()
	tr := newTr(t)
	f := &fixture{c: c, wd: wd}
	cfg.Name = "campus"
	cfg.Env = append(cfg.Env, c.Env()...)
	cfg.Poll, cfg.BatchWindow = testPoll, 100*time.Millisecond
	cfg.OnPoll = func(n slurm.PollNews) {
		f.mu.Lock()
		f.news = append(f.news, n)
		f.mu.Unlock()
	}
	cfg.Warn = func(s string) { t.Log("warn: " + s) }
	f.host = slurm.New(sshworker.NewHost("campus", tr, wd), cfg)
	t.Cleanup(func() { f.host.Close() })
	return f
}

func shSpec(id, script string) run.Spec {
	return run.Spec{
		ID:         id,
		Input:      run.Input{Name: "job.json", Data: []byte(`{"x":"it's $(id)"}`)},
		Argv:       []string{"sh", "-c", script, "sh"},
		ArgFile:    "job.json",
		StdoutTail: 1 << 16,
		StderrTail: 1 << 16,
	}
}

// startLog records the Started reports of one run.
type startLog struct {
	mu   sync.Mutex
	seen []run.Started
}

func (l *startLog) add(s run.Started) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, s)
}

func (l *startLog) get() []run.Started {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]run.Started(nil), l.seen...)
}

// waitFor polls cond until it holds or waitLimit passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEngineLocal(t *testing.T) {
	c := slurmtest.Start(t, slurmtest.Options{CPUs: 4})
	testEngine(t, c, func(*testing.T) sshconn.Transport { return sshconn.Local{} }, t.TempDir())
}

// TestEngineSSH reaches the login node over a loopback sshd, as a laptop
// reaches a cluster's.
func TestEngineSSH(t *testing.T) {
	c := slurmtest.Start(t, slurmtest.Options{CPUs: 4})
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	s := servers[0]
	testEngine(t, c, func(t *testing.T) sshconn.Transport {
		cl, err := sshconn.Dial(context.Background(), s.Config(keys))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl
	}, s.Workdir)
}

// testEngine is what a Slurm entry must do, whichever way its login node is
// reached.
func testEngine(t *testing.T, c *slurmtest.Cluster, tr func(*testing.T) sshconn.Transport, wd string) {
	ctx := context.Background()

	t.Run("one array, results from the run dirs", func(t *testing.T) {
		f := newFixture(t, tr, wd, c, slurm.Config{Slots: 2})
		const n = 4
		var wg sync.WaitGroup
		results := make([]run.Result, n)
		errs := make([]error, n)
		logs := make([]*startLog, n)
		for i := range n {
			logs[i] = &startLog{}
			wg.Go(func() {
				spec := shSpec("a"+strconv.Itoa(i), `printf 'arg=%s\n' "$1"; echo err >&2; exit `+strconv.Itoa(i))
				results[i], errs[i] = f.host.Run(ctx, spec, logs[i].add)
			})
		}
		wg.Wait()
		job := ""
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("run %d: %v\n%s", i, errs[i], c.Log())
			}
			r := results[i]
			if r.ExitCode != i || string(r.Stdout) != `arg={"x":"it's $(id)"}`+"\n" || string(r.Stderr) != "err\n" || r.Lost {
				t.Errorf("run %d: exit %d lost %v stdout %q stderr %q", i, r.ExitCode, r.Lost, r.Stdout, r.Stderr)
			}
			if r.SchedState != "COMPLETED" && r.SchedState != "FAILED" {
				t.Errorf("run %d: Slurm state %q", i, r.SchedState)
			}
			seen := logs[i].get()
			if len(seen) != 2 || !seen[0].Queued || seen[1].Queued {
				t.Fatalf("run %d: started reports %+v, want queued then running", i, seen)
			}
			jobID, _, _ := strings.Cut(seen[0].Task, "_")
			if job == "" {
				job = jobID
			}
			if jobID != job {
				t.Errorf("run %d went in job %s, run 0 in %s: want one array", i, jobID, job)
			}
		}
		states := c.JobStates(t, job)
		if len(states) != n {
			t.Errorf("job %s has %d tasks (%v), want %d", job, len(states), states, n)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		maxRunning := 0
		for _, nw := range f.news {
			maxRunning = max(maxRunning, nw.Running)
		}
		if maxRunning > 2 {
			t.Errorf("%d tasks ran at once, throttle was 2", maxRunning)
		}
	})

	t.Run("cancel a running and a waiting task", func(t *testing.T) {
		f := newFixture(t, tr, wd, c, slurm.Config{Slots: 1})
		type out struct {
			res run.Result
			err error
		}
		outs := make(chan out, 2)
		running, waiting := &startLog{}, &startLog{}
		go func() {
			r, err := f.host.Run(ctx, shSpec("c-run", "sleep 600"), running.add)
			outs <- out{r, err}
		}()
		waitFor(t, "the first task to run", func() bool { return len(running.get()) == 2 })
		go func() {
			r, err := f.host.Run(ctx, shSpec("c-wait", "touch ran; sleep 600"), waiting.add)
			outs <- out{r, err}
		}()
		waitFor(t, "the second task to be queued", func() bool { return len(waiting.get()) == 1 })
		for _, id := range []string{"c-wait", "c-run"} {
			if err := f.host.Kill(ctx, id, time.Second); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 {
			o := <-outs
			if o.err != nil {
				t.Fatal(o.err)
			}
			switch o.res.Task {
			case running.get()[0].Task:
				if o.res.ExitCode != 143 || o.res.SchedState != "CANCELLED" {
					t.Errorf("running task: exit %d state %q lost %v, want 143 CANCELLED", o.res.ExitCode, o.res.SchedState, o.res.Lost)
				}
			default:
				if !o.res.Lost {
					t.Errorf("waiting task: %+v, want lost (it never ran)", o.res)
				}
			}
		}
		if _, err := os.Stat(filepath.Join(wd, "runs", "c-wait", "ran")); !os.IsNotExist(err) {
			t.Error("the cancelled waiting task ran")
		}
	})

	t.Run("detach and attach again", func(t *testing.T) {
		f := newFixture(t, tr, wd, c, slurm.Config{Slots: 2})
		runCtx, stop := context.WithCancel(ctx)
		started := &startLog{}
		done := make(chan error, 1)
		go func() {
			_, err := f.host.Run(runCtx, shSpec("d1", `while [ ! -f go ]; do sleep 0.1; done; echo finished`), started.add)
			done <- err
		}()
		waitFor(t, "the submission", func() bool { return len(started.get()) >= 1 })
		stop()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run after its context ended: %v", err)
		}
		f.host.Close()

		g := newFixture(t, tr, wd, c, slurm.Config{Slots: 2})
		attached := &startLog{}
		res := make(chan run.Result, 1)
		go func() {
			r, err := g.host.Attach(ctx, "d1", run.AttachOptions{StdoutTail: 1 << 16, StderrTail: 1 << 16, Started: attached.add})
			if err != nil {
				t.Error(err)
			}
			res <- r
		}()
		waitFor(t, "attach to see the task", func() bool { return len(attached.get()) == 1 })
		if got := attached.get()[0].Task; got != started.get()[0].Task {
			t.Errorf("attach saw task %q, run was %q", got, started.get()[0].Task)
		}
		if err := os.WriteFile(filepath.Join(wd, "runs", "d1", "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		r := <-res
		if r.ExitCode != 0 || string(r.Stdout) != "finished\n" || r.SchedState != "COMPLETED" {
			t.Errorf("attached result: exit %d stdout %q state %q", r.ExitCode, r.Stdout, r.SchedState)
		}
	})

	t.Run("attach to a run never submitted fences it", func(t *testing.T) {
		f := newFixture(t, tr, wd, c, slurm.Config{Slots: 2})
		sh := sshworker.NewHost("campus", tr(t), wd)
		if _, err := sh.Prepare(ctx, shSpec("n1", "touch ran")); err != nil {
			t.Fatal(err)
		}
		_, err := f.host.Attach(ctx, "n1", run.AttachOptions{StdoutTail: 100, StderrTail: 100})
		if !errors.Is(err, sshworker.ErrNotStarted) {
			t.Fatalf("attach: %v, want ErrNotStarted", err)
		}
		if _, err := os.Stat(filepath.Join(wd, "runs", "n1", ".fenced")); err != nil {
			t.Errorf("run dir not fenced: %v", err)
		}
	})

	t.Run("sbatch refuses", func(t *testing.T) {
		f := newFixture(t, tr, wd, c, slurm.Config{Slots: 2, Sbatch: []string{"--partition=nope"}})
		called := false
		_, err := f.host.Run(ctx, shSpec("s1", "true"), func(run.Started) { called = true })
		if !errors.Is(err, slurm.ErrRefused) || !strings.Contains(err.Error(), "invalid partition") || called {
			t.Fatalf("err %v, started %v; want sbatch's message and no start", err, called)
		}
	})

	t.Run("a connection cut during sbatch", func(t *testing.T) {
		for _, reached := range []bool{true, false} {
			t.Run(fmt.Sprintf("sbatch ran: %v", reached), func(t *testing.T) {
				cut := func(t *testing.T) sshconn.Transport { return &cutSbatch{Transport: tr(t), run: reached} }
				f := newFixture(t, cut, wd, c, slurm.Config{Slots: 2})
				id := fmt.Sprintf("cut-%v", reached)
				started := &startLog{}
				res, err := f.host.Run(ctx, shSpec(id, "echo ran"), started.add)
				if reached {
					if err != nil || res.ExitCode != 0 || string(res.Stdout) != "ran\n" || len(started.get()) == 0 {
						t.Fatalf("Slurm took the array, yet: err %v, result %+v, started %v", err, res, started.get())
					}
					return
				}
				if !errors.Is(err, sshworker.ErrNotStarted) || len(started.get()) != 0 {
					t.Fatalf("Slurm never saw the array, yet: err %v, started %v", err, started.get())
				}
				if _, err := os.Stat(filepath.Join(wd, "runs", id, ".fenced")); err != nil {
					t.Errorf("the run dir is not fenced: %v", err)
				}
			})
		}
	})

	// Last: it takes the node down.
	t.Run("node failure is Slurm's word", func(t *testing.T) {
		f := newFixture(t, tr, wd, c, slurm.Config{Slots: 1})
		started := &startLog{}
		done := make(chan run.Result, 1)
		go func() {
			r, err := f.host.Run(ctx, shSpec("nf1", "sleep 600"), started.add)
			if err != nil {
				t.Error(err)
			}
			done <- r
		}()
		waitFor(t, "the task to run", func() bool { return len(started.get()) == 2 })
		c.MustRun(t, "scontrol", "update", "NodeName=localhost", "State=DOWN", "Reason=mljob-test")
		r := <-done
		if r.SchedState != "NODE_FAIL" || !slurm.Infrastructure(r.SchedState) {
			t.Errorf("after the node went down: %+v, want Slurm state NODE_FAIL", r)
		}
		// ReturnToService=2 brings the node back when its slurmd
		// registers; RESUME is refused while it already is.
		_ = c.Command("scontrol", "update", "NodeName=localhost", "State=RESUME").Run()
	})

}

// cutSbatch drops the connection, as far as its caller can tell, on the
// first sbatch: after running it (run), or before.
type cutSbatch struct {
	sshconn.Transport
	run  bool
	once sync.Once
}

func (c *cutSbatch) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cut := false
	if len(argv) > 3 && argv[3] == "mljob-sbatch" {
		c.once.Do(func() { cut = true })
	}
	if !cut {
		return c.Transport.Exec(ctx, argv, stdin, stdout, stderr)
	}
	if c.run {
		if err := c.Transport.Exec(ctx, argv, stdin, io.Discard, io.Discard); err != nil {
			return err
		}
	}
	return fmt.Errorf("exec: %w: connection reset", sshconn.ErrConnLost)
}
