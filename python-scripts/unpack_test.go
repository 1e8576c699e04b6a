package pyscripts

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestUnpack: every bundled file lands in dir with its content; a second
// Unpack leaves an unchanged file alone and puts back one that differs.
func TestUnpack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "python-scripts")
	if err := Unpack(dir); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := fs.WalkDir(FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		want, _ := FS.ReadFile(path)
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: unpacked %d bytes (%v), want %d", path, len(got), err, len(want))
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("walked %d bundled files: %v", n, err)
	}

	kept, changed := filepath.Join(dir, "nn.py"), filepath.Join(dir, "echo.py")
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(kept, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(changed, []byte("# edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Unpack(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(kept); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("an unchanged file was rewritten: %v, %v", fi.ModTime(), err)
	}
	if got, want := mustRead(t, changed), mustReadFS(t, "echo.py"); !bytes.Equal(got, want) {
		t.Error("a file that differs was not put back")
	}
	if _, err := os.Stat(changed + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("a temporary file is left: %v", err)
	}
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustReadFS(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := FS.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
