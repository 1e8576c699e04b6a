package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	pyscripts "github.com/mljob/mljob/python-scripts"
)

// defaultScriptsDir is where --scripts looks first when not given.
const defaultScriptsDir = "./python-scripts"

// addScriptsFlag adds --scripts (the scripts dir of submit, dispatch and
// hosts check), usage saying what the scripts are for. The flag's own
// default is empty, so that the help states the default once, in words:
// resolveScriptsDir picks ./python-scripts, else the bundled scripts.
func addScriptsFlag(cmd *cobra.Command, p *string, usage string) {
	cmd.Flags().StringVar(p, "scripts", "", usage+" (default: "+defaultScriptsDir+", else the bundled scripts)")
}

// resolveScriptsDir returns the scripts and data dirs a command uses. When
// --scripts was not given and ./python-scripts does not exist, the scripts
// bundled in the binary are unpacked beside the database and used, so that
// `mljob submit` of the seed's jobs works from any directory.
func resolveScriptsDir(cmd *cobra.Command, a *app, scriptsDir, dataDir string) (string, string, error) {
	if !cmd.Flags().Changed("scripts") {
		scriptsDir = defaultScriptsDir
		if _, err := os.Stat(scriptsDir); os.IsNotExist(err) {
			data, err := a.dataDir()
			if err != nil {
				return "", "", err
			}
			dir := filepath.Join(data, "python-scripts")
			if err := unpackBundled(dir); err != nil {
				return "", "", fmt.Errorf("unpack bundled scripts: %w", err)
			}
			scriptsDir = dir
		}
	}
	if dataDir == "" {
		dataDir = filepath.Join(scriptsDir, "data")
	}
	return scriptsDir, dataDir, nil
}

// unpackBundled writes the embedded scripts into dir, rewriting only files
// whose content differs (a newer mljob brings newer scripts).
func unpackBundled(dir string) error {
	return fs.WalkDir(pyscripts.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := pyscripts.FS.ReadFile(path)
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
