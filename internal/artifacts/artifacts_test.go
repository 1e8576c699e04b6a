package artifacts

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/testdep"
)

func TestCheckGlob(t *testing.T) {
	tests := []struct {
		glob string
		ok   bool
	}{
		{"*.pt", true},
		{"plots/*.png", true},
		{"**/*.pt", true},
		{"model-fold[0-9].pt", true},
		{"a..b/*.pt", true}, // dots inside a name are not a parent
		{"../*", false},
		{"plots/../../x", false},
		{"..", false},
		{"/etc/passwd", false},
		{"~/x", false},
		{"", false},
		{"a\\..\\b", false},
		{"[", false},
	}
	for _, tt := range tests {
		t.Run(tt.glob, func(t *testing.T) {
			err := CheckGlob(tt.glob)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckGlob(%q) = %v, want ok %v", tt.glob, err, tt.ok)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1024", 1024, true},
		{"10MB", 10e6, true},
		{"1GiB", 1 << 30, true},
		{"1.5 GB", 1.5e9, true},
		{"0", 0, false},
		{"-3MB", 0, false},
		{"lots", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

// localDirs runs argv in root/<id> on this machine: the run dir contract
// without a transport, with the real python.
type localDirs struct{ root string }

func (l localDirs) ExecInRun(ctx context.Context, id string, argv []string, stdout io.Writer) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = filepath.Join(l.root, id)
	cmd.Stdout = stdout
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return errors.New(err.Error() + ": " + errb.String())
	}
	return nil
}

func mustWrite(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestListAndFetch(t *testing.T) {
	testdep.Require(t, "apt-get install python3", "/usr/bin/python3")
	python := "/usr/bin/python3"
	root := t.TempDir()
	run := filepath.Join(root, "q-1-1")
	secret := filepath.Join(root, "secret.pt")
	mustWrite(t, secret, []byte("not the run's"))
	big := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB, several chunks
	mustWrite(t, filepath.Join(run, "model.pt"), big)
	mustWrite(t, filepath.Join(run, "model-fold1.pt"), []byte("fold 1"))
	mustWrite(t, filepath.Join(run, "plots/loss.png"), []byte("png"))
	mustWrite(t, filepath.Join(run, "artifacts/notes/a.txt"), []byte("note"))
	mustWrite(t, filepath.Join(run, "stdout"), []byte("{}\n"))
	if err := os.Symlink(secret, filepath.Join(run, "escape.pt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(run, "artifacts/up")); err != nil {
		t.Fatal(err)
	}
	x := localDirs{root}
	ctx := context.Background()

	l, err := List(ctx, x, python, "q-1-1", []string{"*.pt", "plots/*.png", "model.pt"}, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range l.Files {
		paths = append(paths, f.Path)
	}
	want := []string{"model-fold1.pt", "model.pt", "plots/loss.png", "artifacts/notes/a.txt"}
	if !slices.Equal(paths, want) {
		t.Fatalf("listed %q, want %q (no symlinks, no duplicates)", paths, want)
	}
	if l.Over || l.Total != int64(len(big)+6+3+4) {
		t.Fatalf("total %d over %v", l.Total, l.Over)
	}

	home := t.TempDir()
	var done []string
	if err := Fetch(ctx, x, python, "q-1-1", l.Files, home, func(f File) error {
		done = append(done, f.Path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(done, want) {
		t.Fatalf("done %q, want %q", done, want)
	}
	for _, f := range l.Files {
		sum, err := HashFile(filepath.Join(home, f.Path))
		if err != nil || sum != f.SHA256 {
			t.Errorf("%s at home: sha256 %s, %v; listed %s", f.Path, sum, err, f.SHA256)
		}
	}
	got, _ := os.ReadFile(filepath.Join(home, "model.pt"))
	if !bytes.Equal(got, big) {
		t.Fatal("model.pt is not byte-identical")
	}

	t.Run("over the cap hashes nothing", func(t *testing.T) {
		l, err := List(ctx, x, python, "q-1-1", []string{"*.pt"}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if !l.Over || l.Files[0].SHA256 != "" {
			t.Fatalf("listing over a 1000-byte cap: %+v", l)
		}
	})

	t.Run("a changed file is not taken", func(t *testing.T) {
		home := t.TempDir()
		files := []File{l.Files[0], l.Files[2]}
		files[0].SHA256 = l.Files[1].SHA256 // wrong on purpose
		files[0].Size = 6
		var got []string
		err := Fetch(ctx, x, python, "q-1-1", files, home, func(f File) error { got = append(got, f.Path); return nil })
		if !errors.Is(err, ErrMismatch) {
			t.Fatalf("err = %v, want ErrMismatch", err)
		}
		if !slices.Equal(got, []string{"plots/loss.png"}) {
			t.Fatalf("done %q: the good file after the bad one must still come", got)
		}
		ents, _ := os.ReadDir(home)
		for _, e := range ents {
			if e.Name() == "model-fold1.pt" || filepath.Ext(e.Name()) != "" && e.Name() != "plots" {
				t.Fatalf("left %s at home", e.Name())
			}
		}
	})

	t.Run("a file gone", func(t *testing.T) {
		err := Fetch(ctx, x, python, "q-1-1", []File{{Path: "escape.pt", Size: 1, SHA256: l.Files[0].SHA256}}, t.TempDir(), func(File) error { return nil })
		if !errors.Is(err, ErrGone) {
			t.Fatalf("err = %v, want ErrGone (a symlink is never sent)", err)
		}
	})
}

// TestCopyVerified: a file whose SHA-256 is the one recorded is copied;
// one that changed leaves nothing at the destination, not even a part.
func TestCopyVerified(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "model.pt")
	if err := os.WriteFile(src, []byte("weights"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, err := HashFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, want string
		ok         bool
	}{
		{"recorded hash", sum, true},
		{"changed since", strings.Repeat("0", 64), false},
	} {
		out := filepath.Join(dir, tt.name)
		dest := filepath.Join(out, "sub", "model.pt")
		ok, err := CopyVerified(src, dest, tt.want)
		if err != nil || ok != tt.ok {
			t.Fatalf("%s: CopyVerified = %v, %v; want %v", tt.name, ok, err, tt.ok)
		}
		got, err := os.ReadFile(dest)
		switch {
		case tt.ok && string(got) != "weights":
			t.Errorf("%s: dest holds %q, %v", tt.name, got, err)
		case !tt.ok && !os.IsNotExist(err):
			t.Errorf("%s: a refused copy left %s (%v)", tt.name, dest, err)
		}
		if left, _ := filepath.Glob(filepath.Join(out, "sub", ".*part-*")); len(left) > 0 {
			t.Errorf("%s: left temporary files %v", tt.name, left)
		}
	}
}
