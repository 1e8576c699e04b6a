package jobinput

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/fieldcheck"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/sweep"
)

// Kind is the sort of problem an Error is, for the caller to advise on:
// the package says what is wrong, the command line what to do about it.
type Kind int

// The kinds of Error.
const (
	Invalid       Kind = iota // none of the kinds below: the message says it all
	NotUTF8                   // an input is not UTF-8 text
	EmptyInput                // an input holds nothing but space
	BadJSON                   // an input is not JSON: Err is a *SyntaxError
	BadSweepFile              // the sweep file is not one (YAML, keys, values)
	SweepAlias                // the sweep file uses a YAML alias
	MissingPath               // a sweep path the job lacks, new fields not allowed
	TooBig                    // the submit makes over sweep.MaxJobs jobs
	BadJob                    // the job contract refuses a job: Err is pyexec's error
	NoScript                  // a job's script is not in the scripts dir
	NoData                    // a job's data file is not in the data dir
	BaseAndJobs               // the sweep file names its base job, and job files were given too
	NoBase                    // no job: the sweep file names none, and no job files were given
	BadField                  // a value its script's field declaration refuses (type, range, choices)
	UnknownField              // with Strict, a field its script's declaration does not name
	BadFieldsFile             // a script's field declaration cannot be read, or is not one
)

// Error is a problem with what submit was given: Msg says what and where,
// Kind what sort of problem it is, Err (may be nil) its cause.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// SyntaxError is an input that is not JSON. Line and Col (from 1) place the
// bad byte; both are 0 when the decoder did not say where.
type SyntaxError struct {
	Line, Col int
	Err       error // encoding/json's error
}

func (e *SyntaxError) Error() string { return "invalid JSON: " + e.Err.Error() }
func (e *SyntaxError) Unwrap() error { return e.Err }

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

// readSweepFile parses a sweep file and reads the base job it names (nil
// when it names none).
func readSweepFile(path string) (*sweep.File, *Input, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, &Error{Msg: fmt.Sprintf("read %s: %v", path, err)}
	}
	f, err := sweep.ParseFile(data)
	if err != nil {
		kind := BadSweepFile
		if errors.Is(err, sweep.ErrAlias) {
			kind = SweepAlias
		}
		return nil, nil, &Error{Kind: kind, Msg: fmt.Sprintf("%s: %v", path, err), Err: err}
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

// Checker checks jobs against the job contract and finds their files,
// and checks each job against its script's field declaration
// (internal/fieldcheck), when the script has one: a value the declaration
// refuses is a BadField *Error; a field it does not name is a warning
// (Warnings), or with Strict an UnknownField *Error.
type Checker struct {
	ScriptsDir, DataDir string
	Priority            int                         // of every job
	Strict              bool                        // refuse undeclared fields rather than warn
	checked             map[string]error            // fileIn's answers, by path
	decls               map[string]*fieldcheck.Decl // by script; nil for a script without one
	tally               fieldcheck.Tally            // the warnings so far
}

// Warnings returns each distinct undeclared-field problem of the jobs
// checked so far, once, with the first job that had it and how many did.
func (c *Checker) Warnings() []fieldcheck.Warning { return c.tally.Warnings() }

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
			e := &Error{Msg: fmt.Sprintf("%s: %v", b.Where, err), Err: err}
			if errors.Is(err, sweep.ErrNoPath) && !plan.AllowNew {
				e.Kind = MissingPath
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

// definition is what the sweeps table keeps: the spec (see
// sweep.Spec.Definition), where the base jobs came from and the sweep file
// ("" for none).
func definition(spec *sweep.Spec, bases []Input, sweepFile string) ([]byte, error) {
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
		return nil, &Error{Kind: NotUTF8, Msg: name + ": not UTF-8 text"}
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, &Error{Kind: EmptyInput, Msg: name + ": empty input"}
	}
	if se := checkJSON(data); se != nil {
		at := name
		if se.Line > 0 {
			at = fmt.Sprintf("%s:%d:%d", name, se.Line, se.Col)
		}
		return nil, &Error{Kind: BadJSON, Msg: at + ": " + se.Error(), Err: se}
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

// checkJSON validates data (nil: valid) and turns a syntax error's offset
// into a line and column.
func checkJSON(data []byte) *SyntaxError {
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
		return &SyntaxError{Line: line, Col: col, Err: se}
	}
	return &SyntaxError{Err: err}
}

// check checks one job against the job contract (pyexec.ReadJob) and
// finds its script and data file.
func (c *Checker) check(where string, raw json.RawMessage) (db.NewJob, error) {
	raw = bytes.TrimSpace(raw)
	f, err := pyexec.ReadJob(raw)
	if err != nil {
		// pyexec's *ContractError, when it is one, carries its own advice.
		return db.NewJob{}, &Error{Kind: BadJob, Msg: where + ": " + err.Error(), Err: err}
	}
	if err := c.fileIn(c.ScriptsDir, f.Script); err != nil {
		return db.NewJob{}, &Error{Kind: NoScript, Msg: fmt.Sprintf("%s: script %q not found in %s", where, f.Script, c.ScriptsDir), Err: err}
	}
	if err := c.checkFields(where, f.Script, raw); err != nil {
		return db.NewJob{}, err
	}
	j := db.NewJob{Project: f.Project, Script: f.Script, Priority: c.Priority, Spec: []byte(raw),
		Artifacts: f.Artifacts, ArtifactsCap: f.ArtifactsCap}
	if f.DataFile != "" {
		if err := c.fileIn(c.DataDir, f.DataFile); err != nil {
			return db.NewJob{}, &Error{Kind: NoData, Msg: fmt.Sprintf("%s: data file %q not found in %s", where, f.DataFile, c.DataDir), Err: err}
		}
		j.DataFile = f.DataFile
	}
	return j, nil
}

// checkFields checks a job against its script's field declaration, if it
// has one: the refusals are one *Error (every problem of the job, so all
// are fixed at once), the unknown fields are tallied as warnings.
func (c *Checker) checkFields(where, script string, raw []byte) error {
	d, err := c.decl(script)
	if d == nil {
		return err
	}
	var refused []string
	kind := UnknownField
	for _, p := range d.Check(raw) {
		switch {
		case p.Unknown && !c.Strict:
			c.tally.Add(where, p)
		case p.Unknown:
			refused = append(refused, p.Msg)
		default:
			refused = append(refused, p.Msg)
			kind = BadField
		}
	}
	if refused != nil {
		return &Error{Kind: kind, Msg: where + ": " + strings.Join(refused, "; ")}
	}
	return nil
}

// decl returns script's field declaration, read once: nil for a script
// without one.
func (c *Checker) decl(script string) (*fieldcheck.Decl, error) {
	if d, ok := c.decls[script]; ok {
		return d, nil
	}
	d, err := fieldcheck.Find(c.ScriptsDir, script)
	if err != nil {
		return nil, &Error{Kind: BadFieldsFile, Msg: err.Error(), Err: err}
	}
	if c.decls == nil {
		c.decls = map[string]*fieldcheck.Decl{}
	}
	c.decls[script] = d
	return d, nil
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
