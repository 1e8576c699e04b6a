package jobinput

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/sweep"
)

// Error is a problem with what submit was given: Msg says what and where,
// Hint (may be "") what to do about it.
type Error struct {
	Msg, Hint string
}

func (e *Error) Error() string { return e.Msg }

// Input is one job as read, before a sweep expands it. Where names it as
// errors do: "jobs.json: job 2", "<stdin>", "sweep.yaml: job".
type Input struct {
	Where string
	Raw   json.RawMessage
}

// Job is a checked job to queue, with the input it came from and the
// sweep values that made it.
type Job struct {
	db.NewJob
	Where  string            // "jobs.json: job 2: sweep job 3"
	Values []json.RawMessage // the plan's values, by path; nil outside a sweep
}

// TooBigHint is the Try: line of a sweep over the limit ("" for other
// errors).
func TooBigHint(err error) string {
	if errors.Is(err, sweep.ErrTooBig) {
		return fmt.Sprintf("split it into sweeps of at most %d jobs (fewer --random draws or grid values)", sweep.MaxJobs)
	}
	return ""
}

// Read reads the named inputs, in order: files, or "-" for stdin (once).
func Read(names []string, stdin io.Reader) ([]Input, error) {
	var out []Input
	stdinUsed := false
	for _, in := range names {
		var data []byte
		var err error
		name := in
		if in == "-" {
			if stdinUsed {
				return nil, &Error{Msg: "standard input named twice"}
			}
			stdinUsed = true
			name = "<stdin>"
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(in)
		}
		if err != nil {
			return nil, &Error{Msg: fmt.Sprintf("read %s: %v", name, err)}
		}
		got, err := Parse(name, data)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// ReadSweepFile parses a sweep file and reads the base job it names (nil
// when it names none).
func ReadSweepFile(path string) (*sweep.File, *Input, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, &Error{Msg: fmt.Sprintf("read %s: %v", path, err)}
	}
	f, err := sweep.ParseFile(data)
	if err != nil {
		hint := "see mljob submit --help for the sweep file's keys"
		if errors.Is(err, sweep.ErrAlias) {
			hint = "write the values out in full: a sweep file takes no YAML aliases"
		}
		return nil, nil, &Error{Msg: fmt.Sprintf("%s: %v", path, err), Hint: hint}
	}
	switch {
	case f.Job != nil:
		return f, &Input{Where: path + ": job", Raw: f.Job}, nil
	case f.Base != "":
		// A relative base is beside the sweep file, wherever mljob runs.
		bp := f.Base
		if !filepath.IsAbs(bp) {
			bp = filepath.Join(filepath.Dir(path), bp)
		}
		data, err := os.ReadFile(bp)
		if err != nil {
			return nil, nil, &Error{Msg: fmt.Sprintf("%s: read base %s: %v", path, f.Base, err)}
		}
		ins, err := Parse(bp, data)
		if err != nil {
			return nil, nil, err
		}
		if len(ins) != 1 {
			return nil, nil, &Error{Msg: fmt.Sprintf("%s: base %s holds %d jobs, want one", path, f.Base, len(ins))}
		}
		return f, &ins[0], nil
	}
	return f, nil, nil
}

// Checker checks jobs against the job contract and finds their files.
type Checker struct {
	ScriptsDir, DataDir string
	Priority            int              // of every job
	checked             map[string]error // fileIn's answers, by path
}

// Expand applies plan (nil: none) to every base and checks each job; the
// first problem is an *Error naming the job.
func (c *Checker) Expand(bases []Input, plan *sweep.Plan) ([]Job, error) {
	var jobs []Job
	for _, b := range bases {
		if plan == nil {
			j, err := c.check(b.Where, b.Raw)
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, Job{NewJob: j, Where: b.Where})
			continue
		}
		specs, err := plan.Apply(bytes.TrimSpace(b.Raw))
		if err != nil {
			e := &Error{Msg: fmt.Sprintf("%s: %v", b.Where, err)}
			if errors.Is(err, sweep.ErrNoPath) && !plan.AllowNew {
				e.Hint = "check the path, or pass --allow-new to add the field"
			}
			return nil, e
		}
		for i, sp := range specs {
			where := fmt.Sprintf("%s: sweep job %d", b.Where, i+1)
			j, err := c.check(where, sp)
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, Job{NewJob: j, Where: where, Values: plan.Points[i]})
		}
	}
	return jobs, nil
}

// Definition is what the sweeps table keeps: the spec (see
// sweep.Spec.Definition), where the base jobs came from and the sweep file
// ("" for none).
func Definition(spec *sweep.Spec, bases []Input, sweepFile string) ([]byte, error) {
	def, err := spec.Definition()
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(def, &m); err != nil {
		return nil, fmt.Errorf("sweep definition: %w", err)
	}
	var from []string
	for _, b := range bases {
		from = append(from, b.Where)
	}
	extra := map[string]any{"bases": from}
	if sweepFile != "" {
		extra["sweepFile"] = sweepFile
	}
	for k, v := range extra {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("sweep definition: %w", err)
		}
		m[k] = b
	}
	return json.Marshal(m)
}

// Parse reads one input: a Job object or an array of them, each kept
// byte for byte. A leading UTF-8 byte order mark is dropped.
func Parse(name string, data []byte) ([]Input, error) {
	// A UTF-8 byte order mark, as some Windows editors write, is not JSON;
	// it says nothing either, so it goes.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, &Error{Msg: name + ": not UTF-8 text", Hint: "save the file as UTF-8 JSON"}
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, &Error{Msg: name + ": empty input", Hint: "give a Job JSON object or an array of them"}
	}
	if err := checkJSON(data); err != nil {
		return nil, &Error{Msg: fmt.Sprintf("%s:%s", name, err), Hint: "fix the JSON; nothing was queued"}
	}
	var raws []json.RawMessage
	switch trimmed[0] {
	case '{':
		raws = []json.RawMessage{json.RawMessage(trimmed)}
	case '[':
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, &Error{Msg: fmt.Sprintf("%s: %v", name, err)}
		}
	default:
		return nil, &Error{Msg: name + ": expected a Job object or an array of Job objects"}
	}
	ins := make([]Input, 0, len(raws))
	for i, raw := range raws {
		where := name
		if trimmed[0] == '[' {
			where = fmt.Sprintf("%s: job %d", name, i+1)
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] != '{' {
			return nil, &Error{Msg: where + ": a job must be a JSON object"}
		}
		ins = append(ins, Input{Where: where, Raw: raw})
	}
	return ins, nil
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

// check checks one job against the job contract (pyexec.ReadJob) and
// finds its script and data file.
func (c *Checker) check(where string, raw json.RawMessage) (db.NewJob, error) {
	raw = bytes.TrimSpace(raw)
	f, err := pyexec.ReadJob(raw)
	if err != nil {
		e := &Error{Msg: where + ": " + err.Error()}
		var ce *pyexec.ContractError
		if errors.As(err, &ce) {
			e.Hint = ce.Hint
		}
		return db.NewJob{}, e
	}
	if err := c.fileIn(c.ScriptsDir, f.Script); err != nil {
		return db.NewJob{}, &Error{Msg: fmt.Sprintf("%s: script %q not found in %s", where, f.Script, c.ScriptsDir),
			Hint: "check the name, or point --scripts at the directory holding it"}
	}
	j := db.NewJob{Project: f.Project, Script: f.Script, Priority: c.Priority, Spec: []byte(raw)}
	if f.DataFile != "" {
		if err := c.fileIn(c.DataDir, f.DataFile); err != nil {
			return db.NewJob{}, &Error{Msg: fmt.Sprintf("%s: data file %q not found in %s", where, f.DataFile, c.DataDir),
				Hint: "check the name, or point --data at the directory holding it"}
		}
		j.DataFile = f.DataFile
	}
	return j, nil
}

// fileIn checks that dir/name is a regular file, once per name: a sweep
// names the same script in every job.
func (c *Checker) fileIn(dir, name string) error {
	path := filepath.Join(dir, name)
	if err, ok := c.checked[path]; ok {
		return err
	}
	st, err := os.Stat(path)
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", name)
	}
	if c.checked == nil {
		c.checked = map[string]error{}
	}
	c.checked[path] = err
	return err
}
