package main

import (
	"fmt"
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
			if err := pyscripts.Unpack(dir); err != nil {
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
