package sshworker_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/proctree"
	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshtest"
	"github.com/mljob/mljob/internal/sshworker"
	"github.com/mljob/mljob/internal/testdep"
)

// hostFactory makes a fresh Host with its own workdir; the returned dir is
// that workdir as seen from the test (hosts in tests share this machine).
type hostFactory func(t *testing.T) (*sshworker.Host, string)

// localHost is the hostFactory of this machine.
func localHost(t *testing.T) (*sshworker.Host, string) {
	dir := t.TempDir()
	return sshworker.NewHost("local", sshconn.Local{}, dir), dir
}

// sshHosts starts one sshd and returns the hostFactory of Hosts sharing
// one client to it.
func sshHosts(t *testing.T) hostFactory {
	t.Helper()
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	c, err := sshconn.Dial(context.Background(), servers[0].Config(keys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return func(t *testing.T) (*sshworker.Host, string) {
		dir := t.TempDir()
		return sshworker.NewHost(servers[0].Name, c, dir), dir
	}
}

func TestLocalHostContract(t *testing.T) {
	testHostContract(t, localHost)
	t.Run("kill", func(t *testing.T) { testKill(t, localHost) })
}

// testHostContract is what sshworker keeps of the run contract beyond the
// engine's (enginetest, run on each transport in conformance_test.go): the
// run dir's files, the cache, a payload past the kernel's word limit, pid
// files told apart by the probe.
func testHostContract(t *testing.T, newHost hostFactory) {
	t.Run("argv and input arrive byte for byte", func(t *testing.T) {
		h, _ := newHost(t)
		for _, payload := range hostilePayloads() {
			spec := shSpec(t, nextID(), `printf '%s' "$1" > arg.out; printf '{"n":%s}\n' "$(wc -c < arg.out)"`)
			spec.Input = run.Input{Name: "job.json", Data: payload}
			res, err := h.Run(context.Background(), spec, nil)
			if err != nil {
				t.Fatalf("payload %.40q: %v", payload, err)
			}
			got, err := os.ReadFile(filepath.Join(res.RunDir, "arg.out"))
			if err != nil {
				t.Fatal(err)
			}
			if len(payload) <= 131000 {
				if !bytes.Equal(got, payload) {
					t.Fatalf("payload %.40q arrived as %.40q (%d vs %d bytes)", payload, got, len(payload), len(got))
				}
			} else if string(got) != "job.json" {
				t.Fatalf("a %d-byte payload should arrive as the path job.json, got %.40q", len(payload), got)
			}
			onDisk, _ := os.ReadFile(filepath.Join(res.RunDir, "job.json"))
			if !bytes.Equal(onDisk, payload) {
				t.Fatalf("job.json differs from the input")
			}
		}
	})

	t.Run("exit code, stdout and stderr tails, env, cwd", func(t *testing.T) {
		h, _ := newHost(t)
		spec := shSpec(t, nextID(), `echo "cwd=$(pwd)"; echo "A=$A B=$B"; echo oops >&2; exit 7`)
		spec.Env = []string{"A=x y", "B=$(touch /tmp/mljob-pwned)"}
		var st run.Started
		res, err := h.Run(context.Background(), spec, func(s run.Started) { st = s })
		if err != nil {
			t.Fatal(err)
		}
		if st.PID <= 0 || st.RunDir != res.RunDir {
			t.Fatalf("started = %+v, result %+v", st, res.Started)
		}
		if res.ExitCode != 7 || res.Lost {
			t.Fatalf("exit = %d lost=%v", res.ExitCode, res.Lost)
		}
		want := "cwd=" + res.RunDir + "\nA=x y B=$(touch /tmp/mljob-pwned)\n"
		if string(res.Stdout) != want || res.StdoutSize != int64(len(want)) {
			t.Fatalf("stdout = %q (%d), want %q", res.Stdout, res.StdoutSize, want)
		}
		if string(res.Stderr) != "oops\n" {
			t.Fatalf("stderr = %q", res.Stderr)
		}
		if _, err := os.Stat("/tmp/mljob-pwned"); err == nil {
			t.Fatal("an env value ran as a command")
		}
		for _, f := range []string{"pid", "stdout", "stderr", "exit_code", "job.json"} {
			if _, err := os.Stat(filepath.Join(res.RunDir, f)); err != nil && f != "job.json" {
				t.Errorf("run dir lacks %s: %v", f, err)
			}
		}
	})

	t.Run("files are uploaded once per content and linked", func(t *testing.T) {
		h, workdir := newHost(t)
		src := filepath.Join(t.TempDir(), "data.csv")
		content := bytes.Repeat([]byte("a,b\n1,2\n"), 1000)
		if err := os.WriteFile(src, content, 0o644); err != nil {
			t.Fatal(err)
		}
		f := fileOf(t, "data.csv", src)
		for i := 0; i < 2; i++ {
			spec := shSpec(t, nextID(), "")
			spec.Argv = []string{"sh", "-c", `cat data.csv | wc -c`}
			spec.Files = []run.File{f}
			res, err := h.Run(context.Background(), spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(res.Stdout)) != "8000" {
				t.Fatalf("linked file has %q bytes", res.Stdout)
			}
			if i == 0 {
				// Make the cached copy distinguishable: a second upload
				// would replace it.
				if err := os.Chmod(filepath.Join(workdir, "cache", f.Hash), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		st, err := os.Stat(filepath.Join(workdir, "cache", f.Hash))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("cache entry was uploaded again (mode %v, err %v)", st.Mode(), err)
		}
	})

	t.Run("runs survive a cancelled wait and can be reattached", func(t *testing.T) {
		h, _ := newHost(t)
		id := nextID()
		spec, release := waitingSpec(t, id)
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan run.Started, 1)
		errc := make(chan error, 1)
		go func() {
			_, err := h.Run(ctx, spec, func(s run.Started) { started <- s })
			errc <- err
		}()
		st := <-started
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled run: %v", err)
		}
		release()
		res, err := h.Attach(context.Background(), id, run.AttachOptions{StdoutTail: 1000, StderrTail: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if res.PID != st.PID || res.ExitCode != 0 || string(res.Stdout) != "{\"done\":true}\n" {
			t.Fatalf("attached result %+v stdout %q", res, res.Stdout)
		}
		never := nextID()
		if _, err := h.Attach(context.Background(), never, run.AttachOptions{StdoutTail: 10, StderrTail: 10}); !errors.Is(err, sshworker.ErrNotStarted) {
			t.Fatalf("attach to a never-started run: %v", err)
		}
		// Reported as never started, it is fenced off: a start arriving
		// late (from a dispatcher that died mid-start) is refused.
		if _, err := h.Run(context.Background(), shSpec(t, never, "echo late"), nil); !errors.Is(err, sshworker.ErrRunDirUsed) {
			t.Fatalf("late start after a fence: %v, want ErrRunDirUsed", err)
		}
	})

	t.Run("concurrent runs on one host", func(t *testing.T) {
		// 16 starts at once: half a minute on a busy 2-core machine.
		testdep.SkipShort(t, "16 runs started at once")
		h, _ := newHost(t)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := nextID()
				res, err := h.Run(context.Background(), shSpec(t, id, `echo "$PWD"`), nil)
				if err == nil && !strings.HasSuffix(strings.TrimSpace(string(res.Stdout)), "/runs/"+id) {
					err = errors.New("wrong run dir " + string(res.Stdout))
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("bad specs are refused before reaching the host", func(t *testing.T) {
		h, _ := newHost(t)
		for name, mutate := range map[string]func(*run.Spec){
			"id escapes":     func(s *run.Spec) { s.ID = "../x" },
			"file escapes":   func(s *run.Spec) { s.Files = []run.File{{Name: "../x", Hash: strings.Repeat("a", 64)}} },
			"input reserved": func(s *run.Spec) { s.Input = run.Input{Name: "exit_code"} },
			"env not K=V":    func(s *run.Spec) { s.Env = []string{"A B=1"} },
			"empty argv":     func(s *run.Spec) { s.Argv = nil },
		} {
			spec := shSpec(t, nextID(), "true")
			mutate(&spec)
			if _, err := h.Run(context.Background(), spec, nil); err == nil {
				t.Errorf("%s: no error", name)
			}
		}
	})

	t.Run("probe", func(t *testing.T) {
		h, dir := newHost(t)
		me, ok := proctree.Read(os.Getpid())
		if !ok {
			t.Skip("no /proc here")
		}
		boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
		if err != nil {
			t.Fatal(err)
		}
		bootID := strings.TrimSpace(string(boot))
		pid := strconv.Itoa(os.Getpid())
		// The pid files a run dir may hold: this process as the run's
		// wrapper, the same pid started at another time (reused) or in
		// another boot, an older mljob's bare pid, a pid that is gone.
		files := map[string]string{
			"ours":       fmt.Sprintf("%s\n%d %s\n", pid, me.Start, bootID),
			"reused":     fmt.Sprintf("%s\n%d %s\n", pid, me.Start+1, bootID),
			"rebooted":   fmt.Sprintf("%s\n%d %s\n", pid, me.Start, "00000000-0000-0000-0000-000000000000"),
			"old":        pid + "\n",
			"gone":       "999999999\n",
			"no-pidfile": "",
		}
		var ids []string
		for id, text := range files {
			ids = append(ids, id)
			d := filepath.Join(dir, "runs", id)
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
			if text != "" {
				if err := os.WriteFile(filepath.Join(d, "pid"), []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		p, err := h.Probe(context.Background(), ids)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"ours": true, "old": true}
		for _, id := range ids {
			if p.Alive[id] != want[id] {
				t.Errorf("probe: run %q alive = %v, want %v", id, p.Alive[id], want[id])
			}
		}
		if p.Load < 0 {
			t.Errorf("probe load %v", p.Load)
		}
	})
}

var (
	idMu sync.Mutex
	idN  int
)

func nextID() string {
	idMu.Lock()
	defer idMu.Unlock()
	idN++
	return fmt.Sprintf("r%d", idN)
}

// shSpec runs a shell snippet with the job JSON (ArgFile) as $1.
func shSpec(t *testing.T, id, script string) run.Spec {
	t.Helper()
	return run.Spec{
		ID:         id,
		Input:      run.Input{Name: "job.json", Data: []byte(`{}`)},
		Argv:       []string{"sh", "-c", script, "sh"},
		ArgFile:    "job.json",
		StdoutTail: 1 << 16,
		StderrTail: 1 << 16,
	}
}

// waitingSpec is a run that waits until release is called, then prints
// {"done":true}. It also ends once the test's temp dir is gone, so a
// failed test leaves no loop behind.
func waitingSpec(t *testing.T, id string) (spec run.Spec, release func()) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "release")
	spec = shSpec(t, id, `while [ ! -e "$1" ] && [ -d "${1%/*}" ]; do sleep 0.05; done; echo '{"done":true}'`)
	spec.Argv = append(spec.Argv, file)
	return spec, func() {
		t.Helper()
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func fileOf(t *testing.T, name, path string) run.File {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return run.File{Name: name, Path: path, Hash: hex.EncodeToString(sum[:]), Size: int64(len(b))}
}

// hostilePayloads are Job JSON texts that must reach the script unchanged.
func hostilePayloads() [][]byte {
	return [][]byte{
		[]byte(`{"a":"it's"}`),
		[]byte(`{"cmd":"$(touch /tmp/mljob-pwned)","bt":"` + "`id`" + `"}`),
		[]byte(`{"nl":"a\nb","real newline":"` + "\n" + `"}`),
		[]byte(`{"unicode":"żółć 🚀 \u2028 ÿ"}`),
		[]byte(`{"glob":"*","semi":"; rm -rf ~","pipe":"| cat /etc/passwd","amp":"& echo"}`),
		[]byte(`{"quotes":"'\"'\"\\\\"}`),
		[]byte(`  {"leading":"-n -e"}  `),
		append(append([]byte(`{"big":"`), bytes.Repeat([]byte("x'$\""), 25000)...), []byte(`"}`)...),
		append(append([]byte(`{"huge":"`), bytes.Repeat([]byte("y"), 200000)...), []byte(`"}`)...),
	}
}

func TestSSHHostContract(t *testing.T) {
	newHost := sshHosts(t)
	testHostContract(t, newHost)
	t.Run("kill", func(t *testing.T) { testKill(t, newHost) })
}

// testKill checks that Kill ends a run's whole process group, a child that
// ignores TERM included, and that the wrapper still writes the exit code.
// (Kill of a run never started: enginetest.)
func testKill(t *testing.T, newHost hostFactory) {
	for _, tc := range []struct {
		name     string
		script   string
		wantCode int
	}{
		{"TERM ends it", `: > ready; sleep 60 & wait`, 128 + 15},
		{"a child ignoring TERM gets KILL", `trap '' TERM; : > ready; sh -c 'trap "" TERM; sleep 60' & wait; sleep 60`, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newHost(t)
			id := nextID()
			started := make(chan run.Started, 1)
			type out struct {
				res run.Result
				err error
			}
			done := make(chan out, 1)
			go func() {
				res, err := h.Run(context.Background(), shSpec(t, id, tc.script), func(s run.Started) { started <- s })
				done <- out{res, err}
			}()
			st := <-started
			// Kill once the script runs: a Kill in the first moments may stop
			// the wrapper before it traps TERM, leaving no exit code.
			waitForFile(t, filepath.Join(st.RunDir, "ready"))
			if err := h.Kill(context.Background(), id, 2*time.Second); err != nil {
				t.Fatal(err)
			}
			o := <-done
			if o.err != nil {
				t.Fatal(o.err)
			}
			if tc.wantCode >= 0 && (o.res.Lost || o.res.ExitCode != tc.wantCode) {
				t.Fatalf("exit %d lost %v, want %d", o.res.ExitCode, o.res.Lost, tc.wantCode)
			}
			// A killed run's cost counts: its wrapper wrote it with the
			// exit code.
			if !o.res.Lost && (o.res.Cost == nil || o.res.Cost.WallSeconds <= 0) {
				t.Errorf("killed run: cost %+v, want its wall time", o.res.Cost)
			}
			// Nothing of the group is left.
			if n := liveInGroup(t, st.PID); n > 0 {
				t.Fatalf("%d processes of group %d still alive", n, st.PID)
			}
		})
	}
}

// liveInGroup counts the processes of group pgid that are not zombies.
func liveInGroup(t *testing.T, pgid int) int {
	t.Helper()
	out, err := exec.Command("ps", "-eo", "pgid=,stat=").Output()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == strconv.Itoa(pgid) && !strings.HasPrefix(f[1], "Z") {
			n++
		}
	}
	return n
}

// shortStdin is the local transport with a session cut short: only the
// first half of each stdin arrives.
type shortStdin struct{ sshconn.Local }

func (s shortStdin) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if stdin != nil {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return err
		}
		stdin = bytes.NewReader(b[:len(b)/2])
	}
	return s.Local.Exec(ctx, argv, stdin, stdout, stderr)
}

func TestTruncatedInputNeverStarts(t *testing.T) {
	dir := t.TempDir()
	h := sshworker.NewHost("local", shortStdin{}, dir)
	spec := shSpec(t, nextID(), `echo ran`)
	spec.Input.Data = []byte(`{"a":"0123456789"}`)
	startedCalled := false
	_, err := h.Run(context.Background(), spec, func(run.Started) { startedCalled = true })
	if err == nil || !strings.Contains(err.Error(), "arrived truncated: 9 of 18 bytes") || startedCalled {
		t.Fatalf("err = %v, started %v", err, startedCalled)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs", spec.ID, "pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a run started on a truncated input: %v", err)
	}
}

// waitForFile waits, with a deadline, for a file a run creates.
func waitForFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
