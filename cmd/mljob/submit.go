package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/pyexec"
)

const defaultScriptsDir = "./python-scripts"

type submitOptions struct {
	app        *app
	inputs     []string
	scriptsDir string
	dataDir    string
	priority   int
	output     string
	checked    map[string]error // fileIn's answers, by path
}

func newSubmitCmd(a *app) *cobra.Command {
	opts := &submitOptions{app: a}
	cmd := &cobra.Command{
		Use:   "submit [FILE|-]...",
		Short: "Add jobs to the queue",
		Long: `Submit adds jobs to the queue. Each input (a file, or - for standard input)
holds one Job object or an array of them. A job needs "scriptName" and
"projectName"; "dataFileName" is optional. Every other field is kept verbatim
and handed to the script as its argv[1].

Everything is checked before anything is written: valid JSON, the required
fields, plain file names, the script in --scripts, the data file in --data.
All inputs go into the queue in one transaction, or none do.

Exit codes: 0 ok, 1 error (nothing was queued), 2 usage error.`,
		Example: `  mljob submit examples/wine_data/job.json
  mljob submit --priority 10 sweep.json
  cat job.json | mljob submit -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.inputs = args
			if len(args) == 0 {
				return usagef(cmd, "no input: name job files, or - for standard input")
			}
			var err error
			opts.scriptsDir, opts.dataDir, err = resolveScriptsDir(cmd, a, opts.scriptsDir, opts.dataDir)
			if err != nil {
				return err
			}
			return runSubmit(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.scriptsDir, "scripts", defaultScriptsDir, "directory holding the scripts jobs name (default: ./python-scripts, else the bundled scripts)")
	cmd.Flags().StringVar(&opts.dataDir, "data", "", "directory holding data files (default <scripts>/data)")
	cmd.Flags().IntVar(&opts.priority, "priority", 0, "priority of these jobs: higher runs first, FIFO within a priority")
	addOutputFlag(cmd, &opts.output)
	return cmd
}

func runSubmit(ctx context.Context, opts *submitOptions) error {
	var jobs []db.NewJob
	stdinUsed := false
	for _, in := range opts.inputs {
		var data []byte
		var err error
		name := in
		if in == "-" {
			if stdinUsed {
				return &userError{msg: "standard input named twice"}
			}
			stdinUsed = true
			name = "<stdin>"
			data, err = io.ReadAll(opts.app.io.In)
		} else {
			data, err = os.ReadFile(in)
		}
		if err != nil {
			return &userError{msg: fmt.Sprintf("read %s: %v", name, err)}
		}
		got, err := parseJobs(name, data, opts)
		if err != nil {
			return err
		}
		jobs = append(jobs, got...)
	}
	if len(jobs) == 0 {
		return &userError{msg: "no jobs in the input (an empty array?)"}
	}
	store, err := opts.app.openDB(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	subs, err := store.SubmitJobs(ctx, jobs)
	if err != nil {
		return fmt.Errorf("submit: %w (nothing was queued)", err)
	}
	type row struct {
		JobID       int64  `json:"jobId"`
		OrderID     int64  `json:"orderId"`
		ProjectName string `json:"projectName"`
		ScriptName  string `json:"scriptName"`
	}
	rows := make([]row, len(subs))
	t := table{
		headers: []string{"JOB", "ORDER", "PROJECT", "SCRIPT"},
		keys:    []string{"jobId", "orderId", "projectName", "scriptName"},
		numeric: map[int]bool{0: true, 1: true},
	}
	for i, s := range subs {
		rows[i] = row{s.JobID, s.OrderID, jobs[i].Project, jobs[i].Script}
		t.rows = append(t.rows, []string{strconv.FormatInt(s.JobID, 10), strconv.FormatInt(s.OrderID, 10), jobs[i].Project, jobs[i].Script})
	}
	if err := render(opts.app.io.Out, opts.output, t, rows); err != nil {
		return err
	}
	fmt.Fprintf(opts.app.io.ErrOut, "Queued %d job(s). Run them with: mljob dispatch [--hosts hosts.yaml]\n", len(subs))
	return nil
}

// jobHeader holds the fields mljob itself reads from a job.
type jobHeader struct {
	ScriptName   *string `json:"scriptName"`
	ProjectName  *string `json:"projectName"`
	DataFileName *string `json:"dataFileName"`
}

// parseJobs reads one input: a Job object or an array of them, each kept
// byte for byte.
func parseJobs(name string, data []byte, opts *submitOptions) ([]db.NewJob, error) {
	if !utf8.Valid(data) {
		return nil, &userError{msg: name + ": not UTF-8 text", hint: "save the file as UTF-8 JSON"}
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, &userError{msg: name + ": empty input", hint: "give a Job JSON object or an array of them"}
	}
	if err := checkJSON(data); err != nil {
		return nil, &userError{msg: fmt.Sprintf("%s:%s", name, err), hint: "fix the JSON; nothing was queued"}
	}
	var raws []json.RawMessage
	switch trimmed[0] {
	case '{':
		raws = []json.RawMessage{json.RawMessage(trimmed)}
	case '[':
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, &userError{msg: fmt.Sprintf("%s: %v", name, err)}
		}
	default:
		return nil, &userError{msg: name + ": expected a Job object or an array of Job objects"}
	}
	jobs := make([]db.NewJob, 0, len(raws))
	for i, raw := range raws {
		where := name
		if trimmed[0] == '[' {
			where = fmt.Sprintf("%s: job %d", name, i+1)
		}
		j, err := checkJob(where, raw, opts)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// checkJSON validates data and turns a syntax error's offset into line:column.
func checkJSON(data []byte) error {
	// json.Valid allocates nothing: a 100,000-job sweep is decoded once, later.
	if json.Valid(data) {
		return nil
	}
	var v any
	err := json.Unmarshal(data, &v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := 1, 1
		for _, c := range data[:min(max(int(se.Offset)-1, 0), len(data))] { // Offset counts the bad byte itself
			if c == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return fmt.Errorf("%d:%d: invalid JSON: %v", line, col, se)
	}
	return fmt.Errorf(" invalid JSON: %v", err)
}

func checkJob(where string, raw json.RawMessage, opts *submitOptions) (db.NewJob, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return db.NewJob{}, &userError{msg: where + ": a job must be a JSON object"}
	}
	var h jobHeader
	if err := json.Unmarshal(raw, &h); err != nil {
		return db.NewJob{}, &userError{msg: fmt.Sprintf("%s: %v", where, wrongType(err))}
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"scriptName", h.ScriptName}, {"projectName", h.ProjectName}} {
		if f.v == nil || *f.v == "" {
			return db.NewJob{}, &userError{msg: fmt.Sprintf("%s: %q is missing", where, f.name),
				hint: `every job needs "scriptName" (e.g. "nn.py") and "projectName"`}
		}
	}
	if err := pyexec.CheckName("scriptName", *h.ScriptName); err != nil {
		return db.NewJob{}, &userError{msg: where + ": " + err.Error()}
	}
	if err := opts.fileIn(opts.scriptsDir, *h.ScriptName); err != nil {
		return db.NewJob{}, &userError{msg: fmt.Sprintf("%s: script %q not found in %s", where, *h.ScriptName, opts.scriptsDir),
			hint: "check the name, or point --scripts at the directory holding it"}
	}
	j := db.NewJob{Project: *h.ProjectName, Script: *h.ScriptName, Priority: opts.priority, Spec: []byte(raw)}
	if h.DataFileName != nil && *h.DataFileName != "" {
		if err := pyexec.CheckName("dataFileName", *h.DataFileName); err != nil {
			return db.NewJob{}, &userError{msg: where + ": " + err.Error()}
		}
		if err := opts.fileIn(opts.dataDir, *h.DataFileName); err != nil {
			return db.NewJob{}, &userError{msg: fmt.Sprintf("%s: data file %q not found in %s", where, *h.DataFileName, opts.dataDir),
				hint: "check the name, or point --data at the directory holding it"}
		}
		j.DataFile = *h.DataFileName
	}
	return j, nil
}

func wrongType(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%q must be a string, not a JSON %s", te.Field, te.Value)
	}
	return err
}

// fileIn checks that dir/name is a regular file, once per name: a sweep
// names the same script in every job.
func (opts *submitOptions) fileIn(dir, name string) error {
	path := filepath.Join(dir, name)
	if err, ok := opts.checked[path]; ok {
		return err
	}
	st, err := os.Stat(path)
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", name)
	}
	if opts.checked == nil {
		opts.checked = map[string]error{}
	}
	opts.checked[path] = err
	return err
}
