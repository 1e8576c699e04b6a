package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeColumnsExample runs the README's `outcomes --columns` example
// on the shipped job, examples/wine_data/job.json, trained by nn.py on this
// machine (fewer epochs, to keep it quick): every column it names must be
// found, with a value in the row.
func TestReadmeColumnsExample(t *testing.T) {
	if testing.Short() {
		t.Skip("trains nn.py")
	}
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("`--columns ([^` ]+)`").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no `--columns ...` example")
	}
	cols := string(m[1])
	if out, err := exec.Command(hostPython, "-c", "import torch, sklearn, pandas").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import torch, sklearn and pandas (%v): run `make test`, which installs them\n%s", hostPython, err, out)
	}
	c := newCLI(t)
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "wine_data", "job.json"))
	if err != nil {
		t.Fatal(err)
	}
	var job map[string]any
	if err := json.Unmarshal(data, &job); err != nil {
		t.Fatal(err)
	}
	job["epochs"] = 20
	job["cvFolds"] = 2
	c.submit(c.scripts, job)
	c.mustRun("dispatch", "--python", hostPython, "--slots", "1", "--scripts", c.scripts, "--poll", "200ms", "--plain")
	r := c.mustRun("outcomes", "--project", "wine_data", "--columns", cols, "-o", "csv")
	if strings.Contains(r.stderr, "No row shown has") {
		t.Errorf("outcomes --columns %s: %s", cols, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("outcomes --columns %s -o csv:\n%s\nwant a header and one row", cols, r.stdout)
	}
	head, row := strings.Split(lines[0], ","), strings.Split(lines[1], ",")
	for i, h := range head {
		if i >= len(row) || row[i] == "" {
			t.Errorf("column %s has no value in the shipped job's row:\n%s", h, r.stdout)
		}
	}
}
