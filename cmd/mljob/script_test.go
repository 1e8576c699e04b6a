package main

import (
	"bytes"
	"context"
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
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/prune"
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
			"csvcols":    cmdCSVCols,
			"jsonkeys":   cmdJSONKeys,
			"exitcode":   cmdExitCode,
			"damage":     cmdDamage,
			"seedpruned": cmdSeedPruned,
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

// cmdSeedPruned makes the queue $MLJOB_DB with three jobs of project wine
// (objective loss:min, pruner asha), run on host h at a pinned time: job 1
// succeeded (loss 0.3), job 2 failed, job 3 was stopped by its pruner at
// step 9, rung 2, its outcome recorded failed with the verdict (and a
// better loss than job 1's):
//
//	seedpruned
func cmdSeedPruned(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: seedpruned")
	}
	ctx := context.Background()
	store, err := db.Open(ctx, ts.Getenv("MLJOB_DB"))
	ts.Check(err)
	defer store.Close()
	store.Now = func() time.Time { return slurmSeedTime }
	rule := prune.Rule{Kind: prune.KindASHA, MinStep: 1, Reduction: 3}
	var jobs []db.NewJob
	for _, lr := range []string{"0.1", "0.01", "0.5"} {
		jobs = append(jobs, db.NewJob{Project: "wine", Script: "nn.py", Pruner: rule,
			Spec: []byte(`{"projectName":"wine","scriptName":"nn.py","lr":` + lr + `}`)})
	}
	_, err = store.SubmitJobs(ctx, jobs)
	ts.Check(err)
	for i := range jobs {
		c, err := store.ClaimOrder(ctx, "h", "0", "d1")
		ts.Check(err)
		ts.Check(store.MarkRunning(ctx, c.Order.ID, c.Order.Attempt, "/w/runs/"+strconv.Itoa(i), 100+i))
		o := db.Outcome{OrderID: c.Order.ID, Attempt: c.Order.Attempt, DurationSeconds: float64(10 * (i + 1))}
		switch i {
		case 0:
			o.Succeeded, o.Loss, o.JSON = true, ptrTo(0.3), []byte(`{"status": 200, "loss": 0.3}`)
		case 1:
			o.ExitCode, o.Error = ptrTo(1), "exit status 1: ZeroDivisionError"
		case 2:
			// An Outcome line with the best loss, printed after the point
			// judged: a pruned run still never wins --best.
			o.Loss, o.JSON = ptrTo(0.05), []byte(`{"status": 200, "loss": 0.05}`)
			o.Error = "pruned at step 9 (rung 2): loss 0.53 ranked 3 of 3, the cutoff was 0.41 (asha:minStep=1,reduction=3,minEarlyStoppingRate=0)"
			ok, err := store.Prune(ctx, db.Pruning{OrderID: c.Order.ID, Attempt: c.Order.Attempt, Series: "fold0",
				Decision: prune.Decision{Prune: true, Rung: 2, Step: 9, Value: 0.53, Cutoff: 0.41, Rank: 3, Of: 3}, Reason: o.Error})
			ts.Check(err)
			if !ok {
				ts.Fatalf("order %d not pruned", c.Order.ID)
			}
		}
		_, err = store.RecordOutcome(ctx, o)
		ts.Check(err)
	}
}
