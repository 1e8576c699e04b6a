package main

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// update rewrites the expected output in testdata/script/*.txtar from what
// the commands print; review the diff before committing it.
var update = flag.Bool("update", false, "update testdata/script golden output")

// TestMain makes the test binary double as the mljob command: testscript
// puts a copy named mljob first on PATH, which the scripts exec and the
// end-to-end tests in e2e_test.go run with os/exec.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mljob": func() { os.Exit(run()) },
	})
}

// TestScripts runs the CLI contract in testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	scripts, err := filepath.Abs(filepath.Join("..", "..", "python-scripts"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       *update,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			if err := os.MkdirAll(home, 0o755); err != nil {
				return err
			}
			env.Setenv("HOME", home)
			env.Setenv("XDG_DATA_HOME", "")
			env.Setenv("MLJOB_DB", filepath.Join(env.WorkDir, "mljob.db"))
			env.Setenv("SCRIPTS", scripts)
			env.Setenv("PYTHON", "/usr/bin/python3")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"csvcols":  cmdCSVCols,
			"jsonkeys": cmdJSONKeys,
			"exitcode": cmdExitCode,
			"damage":   cmdDamage,
		},
	})
}

// cmdCSVCols prints the named columns of a CSV file, in that order, so a
// script can compare the stable columns of output that also holds times,
// durations or pids:
//
//	csvcols FILE COLUMN...
func cmdCSVCols(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! csvcols")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: csvcols FILE COLUMN...")
	}
	recs, err := csv.NewReader(strings.NewReader(ts.ReadFile(args[0]))).ReadAll()
	ts.Check(err)
	if len(recs) == 0 {
		ts.Fatalf("csvcols: %s has no header row", args[0])
	}
	var idx []int
	for _, name := range args[1:] {
		i := slices.Index(recs[0], name)
		if i < 0 {
			ts.Fatalf("csvcols: no column %q in %q", name, recs[0])
		}
		idx = append(idx, i)
	}
	w := csv.NewWriter(ts.Stdout())
	for _, r := range recs {
		row := make([]string, len(idx))
		for j, i := range idx {
			row[j] = r[i]
		}
		ts.Check(w.Write(row))
	}
	w.Flush()
	ts.Check(w.Error())
}

// cmdJSONKeys prints the sorted keys of a JSON object, or of each object
// of a JSON array (one line each), to check the shape of -o json output
// whose values are not stable:
//
//	jsonkeys FILE
func cmdJSONKeys(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! jsonkeys")
	}
	if len(args) != 1 {
		ts.Fatalf("usage: jsonkeys FILE")
	}
	data := []byte(ts.ReadFile(args[0]))
	var objs []map[string]json.RawMessage
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var o map[string]json.RawMessage
		ts.Check(json.Unmarshal(data, &o))
		objs = append(objs, o)
	} else {
		ts.Check(json.Unmarshal(data, &objs))
	}
	if len(objs) == 0 {
		fmt.Fprintln(ts.Stdout(), "(empty)")
	}
	for _, o := range objs {
		keys := make([]string, 0, len(o))
		for k := range o {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(ts.Stdout(), strings.Join(keys, " "))
	}
}

// scriptEnv names the variables exitcode passes on: the ones Setup sets
// and the ones the test binary's copy on PATH needs.
var scriptEnv = []string{"PATH", "HOME", "TMPDIR", "XDG_DATA_HOME", "MLJOB_DB", "SCRIPTS", "PYTHON"}

// cmdExitCode runs a program and fails unless it exits with exactly the
// given code; exec only tells zero from non-zero, and the CLI's exit codes
// (1 error, 2 usage, 130 interrupted) are part of its contract:
//
//	exitcode N PROGRAM [ARG...]
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROGRAM [ARG...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	for _, k := range scriptEnv {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	cmd.Stdout, cmd.Stderr = ts.Stdout(), ts.Stderr()
	err = cmd.Run()
	got := 0
	if ee, ok := err.(*exec.ExitError); ok {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// rootPage is the first page of table in the SQLite file at path.
func rootPage(path, table string) (int, error) {
	conn, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var page int
	err = conn.QueryRow(`SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&page)
	return page, err
}

// cmdDamage overwrites one page of a SQLite file with bytes that are no
// b-tree page, as a bad disk block or a torn copy would:
//
//	damage FILE PAGE|TABLE
//
// PAGE counts from 1 (the header page) in pages of the file's page size;
// TABLE names the table whose first page it is.
func cmdDamage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: damage FILE PAGE|TABLE")
	}
	page, err := strconv.Atoi(args[1])
	if err != nil {
		page, err = rootPage(ts.MkAbs(args[0]), args[1])
	}
	ts.Check(err)
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_RDWR, 0)
	ts.Check(err)
	defer f.Close()
	hdr := make([]byte, 100)
	_, err = f.ReadAt(hdr, 0)
	ts.Check(err)
	size := int64(hdr[16])<<8 | int64(hdr[17])
	if size == 1 {
		size = 65536
	}
	junk := bytes.Repeat([]byte{0xa5}, int(size))
	_, err = f.WriteAt(junk, int64(page-1)*size)
	ts.Check(err)
}
