package sshworker_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshworker"
)

// warmScripts are python scripts whose every observable effect (exit
// status, stdout, stderr) must be the same in a fork of the agent (warm)
// as under a new "python -u" (cold). $RUN stands for the run dir.
var warmScripts = []struct {
	name, src string
}{
	{"argv, name, path, cwd, env, sibling import", `
import os, sys, helper
print(sys.argv[0], sys.argv[1:], __name__)
print(sys.path[0] == os.getcwd(), os.getcwd().endswith(sys.argv[1]), helper.VALUE)
print(os.environ.get("MLJOB_T"), os.environ.get("HOME") is not None)
print(sys.stdin.read() == "")
`},
	{"exit status", `import sys; print("out"); sys.exit(3)`},
	{"exit message", `import sys; sys.exit("bad config")`},
	{"uncaught exception", `
def f():
    raise ValueError("boom")
print("before")
f()
`},
	{"threads joined, atexit run", `
import atexit, threading, time
atexit.register(lambda: print("atexit"))
def late():
    time.sleep(0.05)
    print("thread")
threading.Thread(target=late).start()
print("main")
`},
	{"killed by a signal", `import os, signal; print("x", flush=True); os.kill(os.getpid(), signal.SIGTERM)`},
	{"keyboard interrupt", `raise KeyboardInterrupt`},
	{"syntax error", "print('never')\nx = (\n"},
	{"a subprocess pipeline", `
import subprocess
print(subprocess.run(["sh", "-c", "yes | head -c 1 > /dev/null; echo ${PIPESTATUS:-done}"]).returncode)
`},
	{"unicode and stderr", `import sys; print("żółć 🚀"); print("warn", file=sys.stderr)`},
	{"main guard and pickling from __main__", `
import pickle
class P:
    pass
if __name__ == "__main__":
    print(type(pickle.loads(pickle.dumps(P()))).__name__)
`},
}

func TestWarmStartMatchesColdStart(t *testing.T) {
	dir := t.TempDir()
	helper := filepath.Join(dir, "helper.py")
	if err := os.WriteFile(helper, []byte("VALUE = 42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hosts := map[bool]*sshworker.Host{}
	for _, warm := range []bool{false, true} {
		h, _ := localHost(t)
		h.EnableAgent(hostPython, warm, func(msg string) { t.Errorf("agent not used: %s", msg) })
		t.Cleanup(h.StopAgent)
		hosts[warm] = h
	}
	for i, sc := range warmScripts {
		t.Run(sc.name, func(t *testing.T) {
			path := filepath.Join(dir, "s"+string(rune('a'+i))+".py")
			if err := os.WriteFile(path, []byte(sc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			got := map[bool]run.Result{}
			for _, warm := range []bool{false, true} {
				id := nextID()
				spec := run.Spec{
					ID:         id,
					Files:      []run.File{fileOf(t, "t.py", path), fileOf(t, "helper.py", helper)},
					Input:      run.Input{Name: "job.json", Data: []byte(id)},
					Argv:       []string{hostPython, "-u", "t.py"},
					ArgFile:    "job.json",
					Env:        []string{"MLJOB_T=env ok"},
					StdoutTail: 1 << 16,
					StderrTail: 1 << 16,
				}
				res, err := hosts[warm].Run(context.Background(), spec, nil)
				if err != nil {
					t.Fatalf("warm=%v: %v", warm, err)
				}
				// The run dir and id differ between the two runs.
				res.Stdout = []byte(strings.ReplaceAll(strings.ReplaceAll(string(res.Stdout), res.RunDir, "$RUN"), id, "$ID"))
				res.Stderr = []byte(strings.ReplaceAll(strings.ReplaceAll(string(res.Stderr), res.RunDir, "$RUN"), id, "$ID"))
				got[warm] = res
			}
			cold, warm := got[false], got[true]
			if cold.ExitCode != warm.ExitCode || cold.Lost || warm.Lost {
				t.Errorf("exit: cold %d (lost %v), warm %d (lost %v)", cold.ExitCode, cold.Lost, warm.ExitCode, warm.Lost)
			}
			if string(cold.Stdout) != string(warm.Stdout) {
				t.Errorf("stdout:\ncold %q\nwarm %q", cold.Stdout, warm.Stdout)
			}
			if string(cold.Stderr) != string(warm.Stderr) {
				t.Errorf("stderr:\ncold %q\nwarm %q", cold.Stderr, warm.Stderr)
			}
		})
	}
}

// TestWarmStartSkipsTheInterpreterStart checks that a warm run really is a
// fork of the agent: modules the agent imported are there before the
// script imports anything, which a new interpreter never has.
func TestWarmStartSkipsTheInterpreterStart(t *testing.T) {
	script := filepath.Join(t.TempDir(), "w.py")
	if err := os.WriteFile(script, []byte(`import sys; print("select" in sys.modules)`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, warm := range []bool{false, true} {
		h, _ := localHost(t)
		h.EnableAgent(hostPython, warm, func(msg string) { t.Errorf("agent not used: %s", msg) })
		spec := run.Spec{ID: nextID(), Files: []run.File{fileOf(t, "w.py", script)},
			Argv: []string{hostPython, "-u", "w.py"}, StdoutTail: 100, StderrTail: 1000}
		res, err := h.Run(context.Background(), spec, nil)
		h.StopAgent()
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]string{false: "False\n", true: "True\n"}[warm]; string(res.Stdout) != want {
			t.Errorf("warm=%v: stdout %q, stderr %q, want %q", warm, res.Stdout, res.Stderr, want)
		}
	}
}

// TestWarmStartLeavesPythonStartupVariables checks that a run whose
// environment sets a variable the interpreter reads as it starts
// (PYTHONPATH here) gets a new interpreter, where the variable counts.
func TestWarmStartLeavesPythonStartupVariables(t *testing.T) {
	lib := t.TempDir()
	if err := os.WriteFile(filepath.Join(lib, "extra.py"), []byte("WHERE = 'from PYTHONPATH'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "p.py")
	if err := os.WriteFile(script, []byte("import extra, sys\nprint(extra.WHERE, 'select' in sys.modules)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, _ := localHost(t)
	h.EnableAgent(hostPython, true, func(msg string) { t.Errorf("agent not used: %s", msg) })
	defer h.StopAgent()
	spec := run.Spec{ID: nextID(), Files: []run.File{fileOf(t, "p.py", script)},
		Argv: []string{hostPython, "-u", "p.py"}, Env: []string{"PYTHONPATH=" + lib}, StdoutTail: 100, StderrTail: 1000}
	res, err := h.Run(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "from PYTHONPATH False\n" {
		t.Fatalf("stdout %q, stderr %q: want the module found through PYTHONPATH by a new interpreter", res.Stdout, res.Stderr)
	}
}
