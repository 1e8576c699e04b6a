package artifacts

import (
	"path/filepath"
	"strconv"
)

// HomeDir is the artifacts dir under a data dir: where every run's files
// come home.
func HomeDir(dataDir string) string { return filepath.Join(dataDir, "artifacts") }

// Home is where the files of attempt of job lie under the artifacts dir
// dir: <dir>/<job>/<attempt>. The dispatcher writes there; artifacts,
// fetch and the report read there.
func Home(dir string, jobID int64, attempt int) string {
	return filepath.Join(dir, strconv.FormatInt(jobID, 10), strconv.Itoa(attempt))
}
