package pyscripts

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
)

// Unpack writes the bundled scripts and data into dir, rewriting only the
// files whose content differs (a newer mljob brings newer scripts). Each
// file is written to a temporary name and renamed, so a run that reads
// the scripts never sees half a file.
func Unpack(dir string) error {
	return fs.WalkDir(FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := FS.ReadFile(path)
		if err != nil {
			return err
		}
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
			return nil
		}
		tmp := dst + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, dst)
	})
}
