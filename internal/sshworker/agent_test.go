package sshworker_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mljob/mljob/internal/proctree"
	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshtest"
	"github.com/mljob/mljob/internal/sshworker"
)

// hostPython is the interpreter test hosts name (it sees Debian's packages).
const hostPython = "/usr/bin/python3"

// withAgent turns a hostFactory into one whose Hosts start runs through the
// agent; a fallback to the shell path fails the test.
func withAgent(newHost hostFactory) hostFactory {
	return func(t *testing.T) (*sshworker.Host, string) {
		h, dir := newHost(t)
		h.EnableAgent(hostPython, true, func(msg string) { t.Errorf("agent not used: %s", msg) })
		t.Cleanup(h.StopAgent) // not Close: the transport may be shared
		return h, dir
	}
}

func TestLocalAgentContract(t *testing.T) {
	testHostContract(t, withAgent(localHost))
	t.Run("kill", func(t *testing.T) { testKill(t, withAgent(localHost)) })
}

func TestSSHAgentContract(t *testing.T) {
	newHost := withAgent(sshHosts(t))
	testHostContract(t, newHost)
	t.Run("kill", func(t *testing.T) { testKill(t, newHost) })
}

func TestAgentFallsBackWithoutPython(t *testing.T) {
	h, _ := localHost(t)
	var warnings []string
	var mu sync.Mutex
	h.EnableAgent(filepath.Join(t.TempDir(), "no-python"), true, func(msg string) {
		mu.Lock()
		warnings = append(warnings, msg)
		mu.Unlock()
	})
	for i := 0; i < 2; i++ {
		res, err := h.Run(context.Background(), shSpec(t, nextID(), `echo shell`), nil)
		if err != nil || string(res.Stdout) != "shell\n" {
			t.Fatalf("run %d: %v, stdout %q", i, err, res.Stdout)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "no-python") {
		t.Fatalf("warnings = %q, want one naming the python", warnings)
	}
}

// TestAgentDeathLeavesRunsRunning kills the agent mid-run: the wait ends
// with ErrConnLost, the run finishes regardless and Attach reads it, and
// the next Run starts a new agent.
func TestAgentDeathLeavesRunsRunning(t *testing.T) {
	h, _ := withAgent(localHost)(t)
	id := nextID()
	spec, release := waitingSpec(t, id)
	started := make(chan run.Started, 1)
	errc := make(chan error, 1)
	go func() {
		_, err := h.Run(context.Background(), spec, func(s run.Started) { started <- s })
		errc <- err
	}()
	st := <-started
	agentPID := parentPid(t, st.PID)
	if err := syscall.Kill(agentPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, sshconn.ErrConnLost) {
		t.Fatalf("wait after the agent died: %v, want ErrConnLost", err)
	}
	release()
	res, err := h.Attach(context.Background(), id, run.AttachOptions{StdoutTail: 1000, StderrTail: 1000})
	if err != nil || res.ExitCode != 0 || string(res.Stdout) != "{\"done\":true}\n" {
		t.Fatalf("attach: %v, %+v, stdout %q", err, res, res.Stdout)
	}
	var st2 run.Started
	res, err = h.Run(context.Background(), shSpec(t, nextID(), `echo again`), func(s run.Started) { st2 = s })
	if err != nil || string(res.Stdout) != "again\n" {
		t.Fatalf("run after the agent died: %v, stdout %q", err, res.Stdout)
	}
	// The agent that starts a run writes its pid into the start token.
	token, err := os.ReadFile(filepath.Join(st2.RunDir, ".go"))
	if err != nil || strings.TrimSpace(string(token)) == strconv.Itoa(agentPID) || len(token) < 2 {
		t.Fatalf("second run's start token %q (%v), the dead agent was %d", token, err, agentPID)
	}
}

// cutStdin is the local transport with the agent's stream cut mid-request:
// the first line (a request header) and cut bytes after it arrive, then EOF.
type cutStdin struct {
	sshconn.Local
	cut int
}

func (c cutStdin) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if stdin != nil {
		stdin = &cutReader{r: stdin, after: c.cut}
	}
	return c.Local.Exec(ctx, argv, stdin, stdout, stderr)
}

type cutReader struct {
	r       io.Reader
	after   int
	newline bool
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.newline && c.after <= 0 {
		return 0, io.EOF
	}
	n, err := c.r.Read(p)
	for i := 0; i < n; i++ {
		if c.newline {
			if c.after == 0 {
				return i, io.EOF
			}
			c.after--
		} else if p[i] == '\n' {
			c.newline = true
		}
	}
	return n, err
}

func TestAgentNeverStartsOnACutRequest(t *testing.T) {
	dir := t.TempDir()
	h := sshworker.NewHost("local", cutStdin{cut: 9}, dir)
	h.EnableAgent(hostPython, true, func(msg string) { t.Errorf("agent not used: %s", msg) })
	defer h.Close()
	spec := shSpec(t, nextID(), `echo ran`)
	spec.Input.Data = []byte(`{"a":"0123456789"}`)
	startedCalled := false
	_, err := h.Run(context.Background(), spec, func(run.Started) { startedCalled = true })
	if !errors.Is(err, sshconn.ErrConnLost) || startedCalled {
		t.Fatalf("err = %v, started %v", err, startedCalled)
	}
	for _, f := range []string{".go", "pid"} {
		if _, err := os.Stat(filepath.Join(dir, "runs", spec.ID, f)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a run started on a cut request: %s: %v", f, err)
		}
	}
	// Attach finds it never started, and fences it off.
	if _, err := h.Attach(context.Background(), spec.ID, run.AttachOptions{StdoutTail: 10, StderrTail: 10}); !errors.Is(err, sshworker.ErrNotStarted) {
		t.Fatalf("attach: %v", err)
	}
}

// TestRunsInOwnGroup checks the process model of a run, with the agent and
// on the shell path: the wrapper leads the run's session; the script runs
// in a process group of its own, apart from the wrapper's, so that nothing
// it sends its group reaches the wrapper, and it does not lead that group,
// so it may call setsid.
func TestRunsInOwnGroup(t *testing.T) {
	for name, newHost := range map[string]func(*testing.T) (*sshworker.Host, string){
		"agent": withAgent(localHost), "shell": localHost,
	} {
		t.Run(name, func(t *testing.T) {
			h, _ := newHost(t)
			res, err := h.Run(context.Background(), shSpec(t, nextID(), `ps -o sid= -o pgid= -p $$; echo $$`), nil)
			if err != nil {
				t.Fatal(err)
			}
			f := strings.Fields(string(res.Stdout))
			if len(f) != 3 || f[0] != strconv.Itoa(res.PID) || f[1] == strconv.Itoa(res.PID) || f[1] == f[2] {
				t.Fatalf("run's session, group and pid = %q, want the session %d (its wrapper), a group of neither", f, res.PID)
			}
			if len(res.Stderr) != 0 {
				t.Fatalf("stderr %q", res.Stderr)
			}
		})
	}
}

// TestSSHAgentConnLost crashes the host's sshd under a run started
// through the agent: the wait ends with ErrConnLost, as on the shell path,
// so the dispatcher reattaches once the host is back.
func TestSSHAgentConnLost(t *testing.T) {
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	c, err := sshconn.Dial(context.Background(), servers[0].Config(keys))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := sshworker.NewHost(servers[0].Name, c, t.TempDir())
	h.EnableAgent(hostPython, true, func(msg string) { t.Errorf("agent not used: %s", msg) })
	spec, release := waitingSpec(t, nextID())
	started := make(chan run.Started, 1)
	errc := make(chan error, 1)
	go func() {
		_, err := h.Run(context.Background(), spec, func(s run.Started) { started <- s })
		errc <- err
	}()
	<-started
	servers[0].Crash()
	if err := <-errc; !errors.Is(err, sshconn.ErrConnLost) {
		t.Fatalf("wait after the crash: %v, want ErrConnLost", err)
	}
	release()
	servers[0].Restart(t)
	res, err := h.Attach(context.Background(), spec.ID, run.AttachOptions{StdoutTail: 1000, StderrTail: 1000})
	if err != nil || string(res.Stdout) != "{\"done\":true}\n" {
		t.Fatalf("attach after restart: %v, stdout %q", err, res.Stdout)
	}
}

// TestAgentRunsGetDefaultSignals checks that a command the agent starts
// does not inherit python's ignored SIGPIPE: "yes | head" must end yes
// quietly, as under a shell.
func TestAgentRunsGetDefaultSignals(t *testing.T) {
	h, _ := withAgent(localHost)(t)
	res, err := h.Run(context.Background(), shSpec(t, nextID(), `yes | head -c 1 > /dev/null; grep -E '^Sig(Ign|Blk)' /proc/self/status`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stderr) != 0 || res.ExitCode != 0 {
		t.Fatalf("exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	// Bits of the ignored-signal mask for SIGPIPE (13) and SIGXFSZ (25),
	// which python ignores; others may come ignored from whoever started
	// the tests.
	var ign uint64
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		if v, ok := strings.CutPrefix(line, "SigIgn:\t"); ok {
			ign, err = strconv.ParseUint(v, 16, 64)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if ign&(1<<(13-1)|1<<(25-1)) != 0 {
		t.Fatalf("a run's command starts with SIGPIPE or SIGXFSZ ignored:\n%s", res.Stdout)
	}
}

// TestAgentReportsACommandThatCannotStart: a command the agent starts
// through posix_spawn (not python -u) that is missing, by path or on PATH,
// ends with status 127 and says why in its stderr, as the shell path does.
func TestAgentReportsACommandThatCannotStart(t *testing.T) {
	h, _ := withAgent(localHost)(t)
	for _, word := range []string{filepath.Join(t.TempDir(), "no-such-program"), "mljob-no-such-program"} {
		spec := shSpec(t, nextID(), "")
		spec.Argv = []string{word, "arg"}
		res, err := h.Run(context.Background(), spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 127 || !strings.Contains(string(res.Stderr), "mljob: cannot start") || !strings.Contains(string(res.Stderr), word) {
			t.Errorf("%s: exit %d, stderr %q; want 127 and a message naming it", word, res.ExitCode, res.Stderr)
		}
	}
}

// TestAgentProbe: with an agent, a probe is answered by it, GPUs included:
// the shell path cannot answer here, as PATH holds no sh, only a stand-in
// nvidia-smi.
func TestAgentProbe(t *testing.T) {
	bin := t.TempDir()
	smi := "#!/bin/sh\necho '0, 37, 1234'\necho '1, 0, 5'\n"
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(smi), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	h, _ := withAgent(localHost)(t)
	p, err := h.Probe(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []sshworker.GPU{{Index: "0", Utilization: 37, MemoryMiB: 1234}, {Index: "1", Utilization: 0, MemoryMiB: 5}}
	if len(p.GPUs) != 2 || p.GPUs[0] != want[0] || p.GPUs[1] != want[1] {
		t.Fatalf("GPUs = %+v, want %+v", p.GPUs, want)
	}
	if p.Load < 0 {
		t.Fatalf("load %v", p.Load)
	}
}

// parentPid reads the parent of pid from /proc.
func parentPid(tb testing.TB, pid int) int {
	tb.Helper()
	p, ok := proctree.Read(pid)
	if !ok {
		tb.Fatalf("no /proc entry for pid %d", pid)
	}
	return p.PPID
}
