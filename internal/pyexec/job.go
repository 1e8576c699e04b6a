package pyexec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/run"
)

// JobFile is the name of the Job JSON in every run dir.
const JobFile = "job.json"

// Tail sizes: how much of each stream comes back from the host, and how
// much of it is kept with the outcome.
const (
	StdoutFetch = 256 << 10 // the outcome line is searched in this tail
	StderrFetch = 16 << 10
	KeepTail    = 4 << 10
)

// Job is one attempt of a submitted job.
type Job struct {
	Queue          string // the queue file's id (db.QueueID)
	JobID, OrderID int64
	Attempt        int
	Spec           []byte // the submitted JSON object, verbatim
	Script         string // file name in the scripts dir
	DataFile       string // file name in the data dir, or ""
}

// Settings say where a job's files come from and how the host runs Python.
type Settings struct {
	ScriptsDir string
	DataDir    string
	Python     string   // interpreter on the host, e.g. "/usr/bin/python3"
	Env        []string // KEY=VALUE added to the run's environment
}

var plainName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// CheckName reports whether name is a plain file name: no directory part,
// no leading dot or dash, nothing a path could escape through.
func CheckName(field, name string) error {
	if name == "" {
		return fmt.Errorf("%s is empty", field)
	}
	if !plainName.MatchString(name) {
		return fmt.Errorf("%s %q is not a plain file name (letters, digits, . _ + -; no / and no leading dot)", field, name)
	}
	if isRunFile(name) {
		return fmt.Errorf("%s %q is the name of a file mljob writes in every run dir", field, name)
	}
	return nil
}

// RunID names the run dir of an attempt: <queue>-<order>-<attempt>, where
// queue names the queue file (db.QueueID), so that two queue files sharing
// a host's workdir never collide.
func RunID(queue string, orderID int64, attempt int) string {
	return queue + "-" + strconv.FormatInt(orderID, 10) + "-" + strconv.Itoa(attempt)
}

// ParseRunID reads back a RunID of queue; ok is false for any other name.
func ParseRunID(queue, id string) (orderID int64, attempt int, ok bool) {
	rest, ok := strings.CutPrefix(id, queue+"-")
	if !ok {
		return 0, 0, false
	}
	o, a, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, 0, false
	}
	orderID, err1 := strconv.ParseInt(o, 10, 64)
	attempt, err2 := strconv.Atoi(a)
	if err1 != nil || err2 != nil || RunID(queue, orderID, attempt) != id {
		return 0, 0, false
	}
	return orderID, attempt, true
}

// Arg returns the Job JSON the script receives: the submitted object, byte
// for byte, with "jobId" and "assignmentId" (the order id, as the seed's
// worker set it) appended. JSON readers keep the last of duplicate keys, so
// these win over any stale copies in the spec.
func Arg(spec []byte, jobID, orderID int64) ([]byte, error) {
	s := bytes.TrimRight(spec, " \t\r\n")
	if len(s) == 0 || s[len(s)-1] != '}' || bytes.TrimLeft(s, " \t\r\n")[0] != '{' {
		return nil, errors.New("job spec is not a JSON object")
	}
	body := s[:len(s)-1]
	sep := ","
	if len(bytes.TrimSpace(bytes.TrimLeft(bytes.TrimSpace(body), "{"))) == 0 {
		sep = ""
	}
	out := make([]byte, 0, len(s)+64)
	out = append(out, body...)
	out = fmt.Appendf(out, `%s"jobId":%d,"assignmentId":%d}`, sep, jobID, orderID)
	return out, nil
}

// Files hashes local files for upload, remembering each hash while the
// file's size and modification time stay the same, so a 100 MB data file
// is read once per dispatch, not once per job.
type Files struct {
	mu     sync.Mutex // guards seen and parsed
	seen   map[string]fileStamp
	parsed map[string]parsedImports
}

type fileStamp struct {
	size  int64
	mtime time.Time
	hash  string
}

// File returns the run.File for the local file at path, linked as name.
func (fs *Files) File(name, path string) (run.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return run.File{}, err
	}
	if !st.Mode().IsRegular() {
		return run.File{}, fmt.Errorf("%s is not a regular file", path)
	}
	fs.mu.Lock()
	if fs.seen == nil {
		fs.seen = map[string]fileStamp{}
	}
	s, ok := fs.seen[path]
	fs.mu.Unlock()
	if ok && s.size == st.Size() && s.mtime.Equal(st.ModTime()) {
		return run.File{Name: name, Path: path, Hash: s.hash, Size: s.size}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return run.File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return run.File{}, fmt.Errorf("hash %s: %w", path, err)
	}
	if n != st.Size() {
		return run.File{}, fmt.Errorf("hash %s: file changed while reading", path)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	fs.mu.Lock()
	fs.seen[path] = fileStamp{size: n, mtime: st.ModTime(), hash: sum}
	fs.mu.Unlock()
	return run.File{Name: name, Path: path, Hash: sum, Size: n}, nil
}

// Spec builds the run.Spec of a job attempt: the script and data file are
// shipped, job.json holds the Job JSON, and the script runs as
// `python -u SCRIPT <job json>` with cwd = the run dir.
func Spec(job Job, s Settings, files *Files) (run.Spec, error) {
	if job.Queue == "" {
		return run.Spec{}, errors.New("no queue id: run dirs would not be unique")
	}
	if err := CheckName("scriptName", job.Script); err != nil {
		return run.Spec{}, err
	}
	script, err := files.File(job.Script, filepath.Join(s.ScriptsDir, job.Script))
	if err != nil {
		return run.Spec{}, fmt.Errorf("script %s: %w", job.Script, err)
	}
	fl := []run.File{script}
	// The script's sibling modules (e.g. mljob_job.py) go along, so that
	// `import` works in the run dir as it does beside the script.
	mods, err := siblingModules(s.ScriptsDir, job.Script, job.DataFile, files)
	if err != nil {
		return run.Spec{}, err
	}
	fl = append(fl, mods...)
	if job.DataFile != "" {
		if err := CheckName("dataFileName", job.DataFile); err != nil {
			return run.Spec{}, err
		}
		if job.DataFile == job.Script {
			return run.Spec{}, fmt.Errorf("dataFileName %q is the script's name", job.DataFile)
		}
		data, err := files.File(job.DataFile, filepath.Join(s.DataDir, job.DataFile))
		if err != nil {
			return run.Spec{}, fmt.Errorf("data file %s: %w", job.DataFile, err)
		}
		fl = append(fl, data)
	}
	arg, err := Arg(job.Spec, job.JobID, job.OrderID)
	if err != nil {
		return run.Spec{}, err
	}
	python := s.Python
	if python == "" {
		python = "python3"
	}
	return run.Spec{
		ID:         RunID(job.Queue, job.OrderID, job.Attempt),
		Files:      fl,
		Input:      run.Input{Name: JobFile, Data: arg},
		Argv:       []string{python, "-u", job.Script}, // -u: output reaches the run dir as it is printed, as in the seed
		ArgFile:    JobFile,
		Env:        s.Env,
		StdoutTail: StdoutFetch,
		StderrTail: StderrFetch,
	}, nil
}

// siblingModules returns the .py files of the scripts dir that the script
// imports, directly or through one another: only those go along, since
// every file linked into a run dir costs the host a process per job.
func siblingModules(dir, script, dataFile string, files *Files) ([]run.File, error) {
	seen := map[string]bool{script: true}
	queue := []string{script}
	var out []run.File
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		mods, err := files.imports(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		for _, m := range mods {
			file := m + ".py"
			if seen[file] || file == dataFile || CheckName("module", file) != nil {
				continue
			}
			seen[file] = true
			st, err := os.Stat(filepath.Join(dir, file))
			if err != nil || !st.Mode().IsRegular() {
				continue // not ours: a library module
			}
			f, err := files.File(file, filepath.Join(dir, file))
			if err != nil {
				return nil, fmt.Errorf("module %s: %w", file, err)
			}
			out = append(out, f)
			queue = append(queue, file)
		}
	}
	return out, nil
}

// imports lists the top-level names of the modules a Python file imports,
// at any indentation (parseImports), remembered while the file's size and
// modification time stay the same.
func (fs *Files) imports(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	fs.mu.Lock()
	c, ok := fs.parsed[path]
	fs.mu.Unlock()
	if ok && c.size == st.Size() && c.mtime.Equal(st.ModTime()) {
		return c.mods, nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var mods []string
	for _, im := range parseImports(src) {
		mods = append(mods, im.module)
	}
	fs.mu.Lock()
	if fs.parsed == nil {
		fs.parsed = map[string]parsedImports{}
	}
	fs.parsed[path] = parsedImports{size: st.Size(), mtime: st.ModTime(), mods: mods}
	fs.mu.Unlock()
	return mods, nil
}

type parsedImports struct {
	size  int64
	mtime time.Time
	mods  []string
}
