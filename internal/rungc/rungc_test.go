package rungc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mljob/mljob/internal/engine"
)

// workdirExec is ExecInRun on this machine with the real sh: cwd
// workdir/runs/<id>, engine.ErrNotStarted when it is missing.
type workdirExec struct{ workdir string }

func (w workdirExec) ExecInRun(ctx context.Context, id string, argv []string, stdout io.Writer) error {
	dir := filepath.Join(w.workdir, "runs", id)
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("exec in %s: %w", id, engine.ErrNotStarted)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = stdout
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v: %s", err, errb.String())
	}
	return nil
}

func TestRemove(t *testing.T) {
	const id = "q1-7-1"
	tests := []struct {
		name    string
		setup   func(t *testing.T, workdir, other string) string // makes the dirs, returns the recorded run dir
		id      string
		removed bool // the run dir is gone afterwards
		gone    bool
		refused bool
	}{
		{name: "the recorded run dir", id: id, removed: true, setup: func(t *testing.T, wd, _ string) string {
			return mkRun(t, wd, id)
		}},
		{name: "trailing slash", id: id, removed: true, setup: func(t *testing.T, wd, _ string) string {
			return mkRun(t, wd, id) + "/"
		}},
		{name: "already gone", id: id, gone: true, removed: true, setup: func(t *testing.T, wd, _ string) string {
			return filepath.Join(wd, "runs", id)
		}},
		{name: "record names another run", id: id, refused: true, setup: func(t *testing.T, wd, _ string) string {
			mkRun(t, wd, id)
			return mkRun(t, wd, "q1-8-1")
		}},
		{name: "record not under runs/", id: id, refused: true, setup: func(t *testing.T, wd, _ string) string {
			mkRun(t, wd, id)
			d := filepath.Join(wd, "elsewhere", id)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			return d
		}},
		{name: "record under another workdir", id: id, refused: true, setup: func(t *testing.T, wd, other string) string {
			mkRun(t, wd, id)
			return mkRun(t, other, id)
		}},
		{name: "run dir a symlink", id: id, refused: true, setup: func(t *testing.T, wd, other string) string {
			target := mkRun(t, other, id)
			if err := os.MkdirAll(filepath.Join(wd, "runs"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(wd, "runs", id)); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(wd, "runs", id)
		}},
		{name: "id not a plain name", id: "../x", refused: true, setup: func(t *testing.T, wd, _ string) string {
			mkRun(t, wd, id)
			return filepath.Join(wd, "runs", "..", "x")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wd, other := t.TempDir(), t.TempDir()
			for _, w := range []string{wd, other} {
				if err := os.MkdirAll(filepath.Join(w, "runs", "keep"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			dir := tt.setup(t, wd, other)
			_, existed := os.Stat(dir)
			gone, err := Remove(context.Background(), workdirExec{wd}, wd, tt.id, dir)
			if tt.refused {
				if !errors.Is(err, ErrRefused) {
					t.Fatalf("Remove = %v, want ErrRefused", err)
				}
			} else if err != nil || gone != tt.gone {
				t.Fatalf("Remove = %v, %v; want gone %v", gone, err, tt.gone)
			}
			_, statErr := os.Lstat(filepath.Join(wd, "runs", id))
			if removed := os.IsNotExist(statErr); removed != tt.removed {
				t.Errorf("run dir removed = %v, want %v", removed, tt.removed)
			}
			// Nothing outside the run dir is touched.
			if _, err := os.Stat(filepath.Join(wd, "runs", "keep")); err != nil {
				t.Errorf("a sibling run dir went: %v", err)
			}
			if _, err := os.Stat(filepath.Join(other, "runs", "keep")); err != nil {
				t.Errorf("another workdir's run dir went: %v", err)
			}
			if _, err := os.Stat(dir); tt.refused && existed == nil && err != nil {
				t.Errorf("a refused removal took the recorded dir %s: %v", dir, err)
			}
		})
	}
}

// mkRun makes workdir/runs/id holding a file, and returns the run dir.
func mkRun(t *testing.T, workdir, id string) string {
	t.Helper()
	d := filepath.Join(workdir, "runs", id)
	if err := os.MkdirAll(filepath.Join(d, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "sub", "model.pt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}
