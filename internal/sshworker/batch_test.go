package sshworker_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshworker"
)

// runTask runs BatchTaskScript as a batch scheduler would: task index i of
// the run ids in list, on this machine.
func runTask(t *testing.T, wd, list string, i int) (string, int) {
	t.Helper()
	script := filepath.Join(t.TempDir(), "task.sh")
	if err := os.WriteFile(script, []byte(sshworker.BatchTaskScript()), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, wd, list)
	cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID="+strconv.Itoa(i))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestBatchTask prepares run dirs, runs them as array tasks and reads them
// back with Attach: the argument and env arrive byte for byte, a prepared
// run does not start until its task runs, and a fenced run dir never starts.
func TestBatchTask(t *testing.T) {
	ctx := context.Background()
	h, wd := localHost(t)
	payloads := hostilePayloads()
	var ids []string
	for _, p := range payloads {
		spec := shSpec(t, nextID(), `printf '%s' "$1"; printf '%s' "$MLJOB_X" >&2; exit 3`)
		spec.Input.Data = p
		spec.Env = []string{"MLJOB_X=it's $(not run) `x`"}
		dir, err := h.Prepare(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		if dir != filepath.Join(wd, "runs", spec.ID) {
			t.Fatalf("run dir %q", dir)
		}
		if _, err := os.Stat(filepath.Join(dir, "pid")); !os.IsNotExist(err) {
			t.Fatalf("a prepared run has a pid file (err %v)", err)
		}
		ids = append(ids, spec.ID)
	}
	if _, err := h.Prepare(ctx, shSpec(t, ids[0], "true")); !errors.Is(err, sshworker.ErrRunDirUsed) {
		t.Fatalf("second prepare of one run dir: %v, want ErrRunDirUsed", err)
	}
	list := filepath.Join(wd, "batch.runs")
	if err := os.WriteFile(list, []byte(strings.Join(ids, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if out, code := runTask(t, wd, list, i); code != 0 {
			t.Fatalf("task %d: exit %d: %s", i, code, out)
		}
		res, err := h.Attach(ctx, id, run.AttachOptions{StdoutTail: 1 << 20, StderrTail: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		want := payloads[i]
		if len(want) > 131000 {
			want = []byte("job.json") // too big for one argv word: its file name comes instead
		}
		if res.ExitCode != 3 || !bytes.Equal(res.Stdout, want) || string(res.Stderr) != "it's $(not run) `x`" {
			t.Errorf("task %d: exit %d stdout %.60q stderr %q", i, res.ExitCode, res.Stdout, res.Stderr)
		}
	}

	t.Run("fenced run dir never starts", func(t *testing.T) {
		spec := shSpec(t, nextID(), "touch ran")
		dir, err := h.Prepare(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ".go"), []byte("fenced\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		list := filepath.Join(wd, "fenced.runs")
		if err := os.WriteFile(list, []byte(spec.ID+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := runTask(t, wd, list, 0); code != 91 || !strings.Contains(out, "fenced off") {
			t.Fatalf("exit %d: %s", code, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "ran")); !os.IsNotExist(err) {
			t.Fatal("the fenced run ran")
		}
	})

	t.Run("bad index", func(t *testing.T) {
		for _, i := range []int{len(ids) + 5} {
			if out, code := runTask(t, wd, list, i); code != 90 || !strings.Contains(out, "no run for task") {
				t.Fatalf("exit %d: %s", code, out)
			}
		}
	})
}
