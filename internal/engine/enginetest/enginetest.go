// Package enginetest is the conformance suite of package engine: what every
// Engine does, run against each engine (sshworker over SSH and on this
// machine, with and without its agent; slurm on a real test cluster; the
// in-memory fake). A new engine passes it or it is not done.
package enginetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/run"
)

// waitLimit bounds every wait in the suite: a batch scheduler takes
// seconds to start a task.
const waitLimit = 2 * time.Minute

// Factory returns a fresh engine for one subtest; the engine is closed by
// the suite. Its runs must see this machine's files (the suite watches
// files it names in /tmp-like temp dirs), as test hosts on loopback do.
type Factory func(t *testing.T) engine.Engine

var idN atomic.Int64

// ID is a run id no other run of this test process uses.
func ID(prefix string) string {
	return fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), idN.Add(1))
}

// Run runs the suite against the engines newEngine makes.
func Run(t *testing.T, newEngine Factory) {
	open := func(t *testing.T) engine.Engine {
		e := newEngine(t)
		t.Cleanup(func() { e.Close() })
		return e
	}
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(context.Background(), waitLimit)
		t.Cleanup(cancel)
		return c
	}

	t.Run("exit code, streams, argument and env", func(t *testing.T) {
		e := open(t)
		arg := []byte(`{"a":"it's $(touch /tmp/mljob-pwned)","nl":"a\nb","u":"żółć 🚀"}`)
		spec := Spec(ID("e"), arg, "out", "one\n", "arg", "-", "out", "\n", "env", "A", "err", "oops\n", "exit", "7")
		spec.Env = []string{"A=x y $(id)"}
		var mu sync.Mutex
		var starts []run.Started
		res, err := e.Run(ctx(t), spec, func(s run.Started) {
			mu.Lock()
			starts = append(starts, s)
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		want := "one\n" + string(arg) + "\nx y $(id)\n"
		if res.ExitCode != 7 || res.Lost {
			t.Errorf("exit %d lost %v, want 7", res.ExitCode, res.Lost)
		}
		if string(res.Stdout) != want || res.StdoutSize != int64(len(want)) {
			t.Errorf("stdout %q (%d bytes), want %q", res.Stdout, res.StdoutSize, want)
		}
		if string(res.Stderr) != "oops\n" {
			t.Errorf("stderr %q", res.Stderr)
		}
		if _, err := os.Stat("/tmp/mljob-pwned"); err == nil {
			t.Error("the argument ran as a command")
		}
		mu.Lock()
		defer mu.Unlock()
		if len(starts) == 0 || starts[0].RunDir == "" || starts[0].RunDir != res.RunDir {
			t.Errorf("started %+v, result's run dir %q", starts, res.RunDir)
		}
	})

	t.Run("tails are bounded and sizes are full", func(t *testing.T) {
		e := open(t)
		long := strings.Repeat("line of output\n", 2000)
		spec := Spec(ID("t"), []byte(`{}`), "out", long, "out", `{"last":1}`+"\n")
		spec.StdoutTail = 100
		res, err := e.Run(ctx(t), spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Stdout) != 100 || res.StdoutSize != int64(len(long)+11) || !bytes.HasSuffix(res.Stdout, []byte("{\"last\":1}\n")) {
			t.Fatalf("tail %d bytes of %d: %q", len(res.Stdout), res.StdoutSize, res.Stdout)
		}
	})

	t.Run("files reach the run dir", func(t *testing.T) {
		e := open(t)
		src := filepath.Join(t.TempDir(), "data.csv")
		content := bytes.Repeat([]byte("a,b\n1,2\n"), 1000)
		if err := os.WriteFile(src, content, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		f := run.File{Name: "data.csv", Path: src, Hash: hex.EncodeToString(sum[:]), Size: int64(len(content))}
		for range 2 {
			spec := Spec(ID("f"), []byte(`{}`), "cat", "data.csv")
			spec.Files = []run.File{f}
			res, err := e.Run(ctx(t), spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.Stdout, content) {
				t.Fatalf("the file arrived as %d bytes, want %d", len(res.Stdout), len(content))
			}
		}
	})

	t.Run("a used run dir is never started over", func(t *testing.T) {
		e := open(t)
		id := ID("u")
		if _, err := e.Run(ctx(t), Spec(id, []byte(`{}`), "out", "one"), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Run(ctx(t), Spec(id, []byte(`{}`), "out", "two"), nil); !errors.Is(err, engine.ErrRunDirUsed) {
			t.Fatalf("second start: %v, want ErrRunDirUsed", err)
		}
	})

	t.Run("a run outlives its wait and is attached again", func(t *testing.T) {
		e := open(t)
		dir := t.TempDir()
		id := ID("a")
		spec := Spec(id, []byte(`{}`), "touch", filepath.Join(dir, "ready"), "wait", filepath.Join(dir, "go"), "out", `{"done":true}`+"\n")
		runCtx, cancel := context.WithCancel(ctx(t))
		errc := make(chan error, 1)
		go func() {
			_, err := e.Run(runCtx, spec, nil)
			errc <- err
		}()
		waitFile(t, filepath.Join(dir, "ready"))
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("a cancelled wait: %v, want context.Canceled", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := e.Attach(ctx(t), id, run.AttachOptions{StdoutTail: 1000, StderrTail: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 || res.Lost || string(res.Stdout) != "{\"done\":true}\n" {
			t.Fatalf("attached: exit %d lost %v stdout %q", res.ExitCode, res.Lost, res.Stdout)
		}
	})

	t.Run("a run never started is fenced off", func(t *testing.T) {
		e := open(t)
		id := ID("n")
		if _, err := e.Attach(ctx(t), id, run.AttachOptions{StdoutTail: 10, StderrTail: 10}); !errors.Is(err, engine.ErrNotStarted) {
			t.Fatalf("attach to a run never started: %v, want ErrNotStarted", err)
		}
		// A start arriving late (from a dispatcher that died mid-start)
		// is refused.
		if _, err := e.Run(ctx(t), Spec(id, []byte(`{}`), "out", "late"), nil); !errors.Is(err, engine.ErrRunDirUsed) {
			t.Fatalf("late start after a fence: %v, want ErrRunDirUsed", err)
		}
		if err := e.Kill(ctx(t), ID("k"), time.Second); !errors.Is(err, engine.ErrNotStarted) {
			t.Fatalf("kill of a run never started: %v, want ErrNotStarted", err)
		}
	})

	t.Run("kill ends a run, which reports it", func(t *testing.T) {
		e := open(t)
		dir := t.TempDir()
		id := ID("k")
		spec := Spec(id, []byte(`{}`), "touch", filepath.Join(dir, "ready"), "wait", filepath.Join(dir, "never"), "out", "not killed")
		type out struct {
			res run.Result
			err error
		}
		done := make(chan out, 1)
		go func() {
			res, err := e.Run(ctx(t), spec, nil)
			done <- out{res, err}
		}()
		waitFile(t, filepath.Join(dir, "ready"))
		if err := e.Kill(ctx(t), id, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		o := <-done
		if o.err != nil {
			t.Fatal(o.err)
		}
		if !o.res.Lost && o.res.ExitCode != 128+15 || strings.Contains(string(o.res.Stdout), "not killed") {
			t.Fatalf("killed run: exit %d lost %v stdout %q, want 143", o.res.ExitCode, o.res.Lost, o.res.Stdout)
		}
	})

	t.Run("output of a finished run, and followed to the end", func(t *testing.T) {
		e := open(t)
		dir := t.TempDir()
		id := ID("o")
		spec := Spec(id, []byte(`{}`), "out", "first\n", "err", "e\n", "touch", filepath.Join(dir, "ready"), "wait", filepath.Join(dir, "go"), "out", "second\n")
		done := make(chan error, 1)
		go func() {
			_, err := e.Run(ctx(t), spec, nil)
			done <- err
		}()
		waitFile(t, filepath.Join(dir, "ready"))
		var followed bytes.Buffer
		fdone := make(chan error, 1)
		go func() { fdone <- e.Output(ctx(t), id, "stdout", true, &followed) }()
		if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := <-fdone; err != nil || followed.String() != "first\nsecond\n" {
			t.Fatalf("followed stdout %q, %v", followed.String(), err)
		}
		for stream, want := range map[string]string{"stdout": "first\nsecond\n", "stderr": "e\n"} {
			var b bytes.Buffer
			if err := e.Output(ctx(t), id, stream, false, &b); err != nil || b.String() != want {
				t.Errorf("%s: %q, %v; want %q", stream, b.String(), err, want)
			}
		}
		if err := e.Output(ctx(t), ID("none"), "stdout", false, &bytes.Buffer{}); !errors.Is(err, engine.ErrNotStarted) {
			t.Errorf("output of no run: %v, want ErrNotStarted", err)
		}
	})

	t.Run("concurrent runs", func(t *testing.T) {
		e := open(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Go(func() {
				want := fmt.Sprintf("run %d\n", i)
				res, err := e.Run(ctx(t), Spec(ID("c"), []byte(`{}`), "out", want), nil)
				if err == nil && string(res.Stdout) != want {
					err = fmt.Errorf("stdout %q, want %q", res.Stdout, want)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("bad specs are refused before they start", func(t *testing.T) {
		e := open(t)
		for name, mutate := range map[string]func(*run.Spec){
			"id escapes": func(s *run.Spec) { s.ID = "../x" },
			"empty argv": func(s *run.Spec) { s.Argv = nil },
		} {
			spec := Spec(ID("b"), []byte(`{}`), "out", "x")
			mutate(&spec)
			if _, err := e.Run(ctx(t), spec, func(run.Started) { t.Errorf("%s: started", name) }); err == nil {
				t.Errorf("%s: no error", name)
			}
		}
	})

	t.Run("progress lines are delivered once, in order, and from an offset", func(t *testing.T) {
		e := open(t)
		steps, want, ends := progressSteps()
		spec := Spec(ID("p"), []byte(`{}`), steps...)
		var got progressLog
		spec.Progress = run.Progress{Lines: got.add}
		res, err := e.Run(ctx(t), spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		got.check(t, "run", want, res.StdoutSize)
		// Attached again from the end of a line half-way: only the rest.
		k := len(want) / 2
		var rest progressLog
		res, err = e.Attach(ctx(t), spec.ID, run.AttachOptions{StdoutTail: 100, StderrTail: 100,
			Progress: run.Progress{From: ends[k-1], Lines: rest.add}})
		if err != nil {
			t.Fatal(err)
		}
		rest.check(t, "attach from "+fmt.Sprint(ends[k-1]), want[k:], res.StdoutSize)
	})

	t.Run("probe", func(t *testing.T) {
		e := open(t)
		if _, err := e.Probe(ctx(t), nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("an environment report never stops the run", func(t *testing.T) {
		e := open(t)
		for name, report := range map[string][]string{
			"fails":     {"sh", "-c", "echo oops >&2; exit 3"},
			"not found": {"/nonexistent/mljob-env-report"},
			"too long":  {"sh", "-c", "printf '%*s\\n' " + fmt.Sprint(run.MaxEnvReport+1) + " x"},
		} {
			spec := Spec(ID("r"), []byte(`{}`), "out", "ran\n", "exit", "4")
			spec.EnvReport = report
			res, err := e.Run(ctx(t), spec, nil)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if res.ExitCode != 4 || res.Lost || string(res.Stdout) != "ran\n" {
				t.Errorf("%s: exit %d lost %v stdout %q, want the run's own exit 4 and output", name, res.ExitCode, res.Lost, res.Stdout)
			}
			if res.Env != nil {
				t.Errorf("%s: Env %q, want none", name, res.Env)
			}
		}
	})
}

// Reports runs the part of the suite that engines running environment
// reports (run.Spec.EnvReport) pass, besides Run's: the report runs with
// the run's env in its run dir, before the run, and its last line comes
// back with the result, from Run and from Attach alike.
func Reports(t *testing.T, newEngine Factory) {
	e := newEngine(t)
	t.Cleanup(func() { e.Close() })
	c, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	spec := Spec(ID("v"), []byte(`{}`), "out", "ran\n")
	spec.Env = []string{"A=x y $(id)"}
	// The run dir holds job.json by then: the report runs there.
	spec.EnvReport = []string{"sh", "-c", `echo first; printf '{"a":"%s","dir":%s}\n' "$A" "$(ls job.json | wc -l)"`}
	const want = `{"a":"x y $(id)","dir":1}`
	res, err := e.Run(c, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Env) != want || string(res.Stdout) != "ran\n" {
		t.Errorf("run: Env %q stdout %q, want %q and the run's output", res.Env, res.Stdout, want)
	}
	res, err = e.Attach(c, spec.ID, run.AttachOptions{StdoutTail: 100, StderrTail: 100})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Env) != want {
		t.Errorf("attach: Env %q, want %q", res.Env, want)
	}
}

// Live runs the part of the suite that engines reading a run's progress
// lines as it runs pass (the agent, Slurm's poller, the fake), besides
// Run's: lines printed arrive while the run still runs, also to a run
// attached again from an offset.
func Live(t *testing.T, newEngine Factory) {
	e := newEngine(t)
	t.Cleanup(func() { e.Close() })
	c, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
	spec := Spec(ID("l"), []byte(`{}`), "out", "{\"step\":1,\"a\":1}\nnoise\n{\"step\":2,\"a\":2}\n",
		"wait", first, "out", "{\"step\":3,\"a\":3}\n", "wait", second, "out", "{\"step\":4,\"a\":4}\n")
	var got progressLog
	spec.Progress = run.Progress{Lines: got.add}
	runCtx, stop := context.WithCancel(c)
	errc := make(chan error, 1)
	go func() {
		_, err := e.Run(runCtx, spec, nil)
		errc <- err
	}()
	got.waitLines(t, 2)
	// The wait ends; the run goes on, and is attached again from where
	// its lines were read to.
	stop()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v, want context.Canceled", err)
	}
	got.mu.Lock()
	from := got.end
	got.mu.Unlock()
	var rest progressLog
	done := make(chan error, 1)
	var res run.Result
	go func() {
		var err error
		res, err = e.Attach(c, spec.ID, run.AttachOptions{StdoutTail: 100, StderrTail: 100,
			Progress: run.Progress{From: from, Lines: rest.add}})
		done <- err
	}()
	if err := os.WriteFile(first, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rest.waitLines(t, 1)
	if err := os.WriteFile(second, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got.check(t, "run", []string{"{\"step\":1,\"a\":1}\n", "{\"step\":2,\"a\":2}\n"}, from)
	rest.check(t, "attach", []string{"{\"step\":3,\"a\":3}\n", "{\"step\":4,\"a\":4}\n"}, res.StdoutSize)
}

// progressSteps is a run printing progress lines among other output: the
// Prog steps, the candidate lines an engine delivers (cut, with a
// newline), and the stdout offset just past each of them.
func progressSteps() (steps, want []string, ends []int64) {
	var off int64
	out := func(text string, candidate bool) {
		steps = append(steps, "out", text)
		off += int64(len(text))
		if candidate {
			want = append(want, strings.TrimSuffix(text, "\n")+"\n")
			ends = append(ends, off)
		}
	}
	long := `{"step":5,"x":"` + strings.Repeat("y", run.MaxProgressLine) + `"}` + "\n"
	for i := range 40 {
		out(fmt.Sprintf(`{"step":%d,"loss":%g}`+"\n", i, 1/float64(i+1)), true)
		out("epoch done: step "+fmt.Sprint(i)+"\n", false)
		out(`{"status":200,"loss":1}`+"\n", false)
		steps = append(steps, "err", `{"step":-1}`+"\n")
		if i == 20 {
			// One line over the cap, written in pieces: delivered cut.
			head := `{"step":5,"x":"`
			steps = append(steps, "out", head, "ys", fmt.Sprint(60000-len(head)),
				"ys", fmt.Sprint(run.MaxProgressLine-(60000-len(head))), "out", `"}`+"\n")
			off += int64(len(long))
			want = append(want, long[:run.MaxProgressLine+1]+"\n")
			ends = append(ends, off)
		}
	}
	// Enough lines for several frames of the agent's.
	steps = append(steps, "progress", "30000")
	for i := range 30000 {
		line := fmt.Sprintf(`{"step":%d,"series":"s","v":%d}`+"\n", i, i)
		off += int64(len(line))
		want = append(want, line)
		ends = append(ends, off)
	}
	out(`{"step":99999,"last":1}`, true) // no newline: complete once the run ends
	return steps, want, ends
}

// progressLog collects what an engine delivers to run.Progress.Lines.
type progressLog struct {
	mu    sync.Mutex
	lines []string
	end   int64
	bad   []string
}

func (l *progressLog) add(lines []byte, end int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if end < l.end {
		l.bad = append(l.bad, fmt.Sprintf("end %d after %d", end, l.end))
	}
	l.end = end
	if len(lines) > 0 && lines[len(lines)-1] != '\n' {
		l.bad = append(l.bad, fmt.Sprintf("lines not ending in a newline: %q", lines[max(0, len(lines)-20):]))
	}
	for _, line := range strings.SplitAfter(string(lines), "\n") {
		if line != "" {
			l.lines = append(l.lines, line)
		}
	}
}

// waitLines waits until n lines have been delivered, up to waitLimit.
func (l *progressLog) waitLines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		l.mu.Lock()
		got := len(l.lines)
		l.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %d progress lines while the run runs (%d came)", n, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *progressLog) check(t *testing.T, what string, want []string, size int64) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.bad {
		t.Errorf("%s: %s", what, b)
	}
	if l.end != size {
		t.Errorf("%s: last end %d, want stdout's size %d", what, l.end, size)
	}
	if len(l.lines) != len(want) {
		t.Errorf("%s: %d lines delivered, want %d", what, len(l.lines), len(want))
	}
	for i := range min(len(l.lines), len(want)) {
		if l.lines[i] != want[i] {
			t.Fatalf("%s: line %d is %.80q, want %.80q", what, i, l.lines[i], want[i])
		}
	}
}

// waitFile polls for path until waitLimit passes.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
