package pyexec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mljob/mljob/internal/artifacts"
	"github.com/mljob/mljob/internal/jobfields"
	"github.com/mljob/mljob/internal/run"
)

// The job contract: the fields of a Job that mljob itself reads, by these
// exact keys. Every other field belongs to the script and is kept verbatim.
const (
	KeyScript  = "scriptName"     // required: a plain file name in the scripts dir
	KeyProject = "projectName"    // required: see CheckProject
	KeyData    = "dataFileName"   // optional: a plain file name in the data dir
	KeyTimeout = "timeoutSeconds" // optional: a number of seconds, > 0
	// KeyArtifacts: optional, an array of globs relative to the run dir
	// (artifacts.CheckGlob) naming the files its runs bring home.
	KeyArtifacts = "artifacts"
	// KeyArtifactsCap: optional, the most bytes of artifacts a run brings
	// home: a number of bytes or a size ("100MB", artifacts.ParseSize).
	KeyArtifactsCap = "artifactsCap"
	// KeyGPUs: optional, how many GPUs a run needs (1 to MaxGPUs), all on
	// one host; a job without it takes one slot, a GPU or not.
	KeyGPUs = "gpus"
)

// MaxGPUs bounds a job's "gpus".
const MaxGPUs = 64

// contractKeys are the keys ReadJob reads, with the type each wants.
var contractKeys = []struct{ key, want string }{
	{KeyScript, "a string"},
	{KeyProject, "a string"},
	{KeyData, "a string"},
	{KeyTimeout, "a number of seconds"},
	{KeyArtifacts, "an array of globs"},
	{KeyArtifactsCap, "a size"},
	{KeyGPUs, "a whole number of GPUs"},
}

// MaxTimeoutSeconds bounds timeoutSeconds, so that it fits a
// time.Duration (about 292 years) with room to spare.
const MaxTimeoutSeconds = 1e9

// MaxProjectLen bounds a project name, in bytes.
const MaxProjectLen = 100

// JobFields are the contract fields of a job.
type JobFields struct {
	Script, Project string
	DataFile        string        // "" when the job has none
	Timeout         time.Duration // 0 when the job sets none
	Artifacts       []string      // nil when the job names none
	ArtifactsCap    int64         // 0 when the job sets none
	GPUs            int           // 0 when the job sets none
}

// ContractError is a job that breaks the contract. Key is the key at
// fault (a dotted path for a nested one), Hint what to do about it.
type ContractError struct {
	Key, Msg, Hint string
}

func (e *ContractError) Error() string { return e.Msg }

// ReadJob checks spec, a JSON object, against the job contract and returns
// its fields. It refuses, with a *ContractError:
//   - a key that appears twice in one object, at any depth (JSON readers
//     disagree on which one counts, so show and the script could disagree);
//   - a top-level key that differs from a contract key only by case (Go's
//     encoding/json would read "SCRIPTNAME" as scriptName);
//   - a contract field of the wrong type or out of range, a missing
//     scriptName or projectName, names that break CheckName or
//     CheckProject, a data file named as the script.
//
// ReadJob reads keys exactly, never through a struct decoder.
func ReadJob(spec []byte) (JobFields, error) {
	spec = bytes.TrimSpace(spec)
	if !json.Valid(spec) {
		return JobFields{}, &ContractError{Msg: "not valid JSON"}
	}
	if len(spec) == 0 || spec[0] != '{' {
		return JobFields{}, &ContractError{Msg: "a job must be a JSON object"}
	}
	vals := map[string][]byte{}
	if err := walkKeys(spec, 0, "", func(path, key string, v []byte) error {
		if path != "" {
			return nil
		}
		for _, c := range contractKeys {
			if key != c.key && strings.EqualFold(key, c.key) {
				return &ContractError{Key: key,
					Msg:  fmt.Sprintf("key %q differs from %q only by case", key, c.key),
					Hint: fmt.Sprintf("mljob reads %q exactly: rename the key, or remove it", c.key)}
			}
			if key == c.key {
				vals[key] = v
			}
		}
		return nil
	}); err != nil {
		return JobFields{}, err
	}
	var f JobFields
	for _, c := range contractKeys {
		v, ok := vals[c.key]
		if !ok || string(v) == "null" {
			continue
		}
		var err error
		switch c.key {
		case KeyScript:
			f.Script, err = stringValue(c.key, v)
		case KeyProject:
			f.Project, err = stringValue(c.key, v)
		case KeyData:
			f.DataFile, err = stringValue(c.key, v)
		case KeyTimeout:
			f.Timeout, err = timeoutValue(v)
		case KeyArtifacts:
			f.Artifacts, err = globsValue(v)
		case KeyArtifactsCap:
			f.ArtifactsCap, err = capValue(v)
		case KeyGPUs:
			f.GPUs, err = gpusValue(v)
		}
		if err != nil {
			return JobFields{}, err
		}
	}
	for _, k := range []struct{ key, v string }{{KeyScript, f.Script}, {KeyProject, f.Project}} {
		if k.v == "" {
			return JobFields{}, &ContractError{Key: k.key, Msg: fmt.Sprintf("%q is missing", k.key),
				Hint: `every job needs "scriptName" (e.g. "nn.py") and "projectName"`}
		}
	}
	if err := CheckName(KeyScript, f.Script); err != nil {
		return JobFields{}, &ContractError{Key: KeyScript, Msg: err.Error(), Hint: nameHint}
	}
	if err := CheckProject(f.Project); err != nil {
		return JobFields{}, &ContractError{Key: KeyProject, Msg: err.Error(), Hint: projectHint}
	}
	if f.DataFile != "" {
		if err := CheckName(KeyData, f.DataFile); err != nil {
			return JobFields{}, &ContractError{Key: KeyData, Msg: err.Error(), Hint: nameHint}
		}
		if f.DataFile == f.Script {
			return JobFields{}, &ContractError{Key: KeyData, Msg: fmt.Sprintf("dataFileName %q is the script's name", f.DataFile),
				Hint: "rename the data file"}
		}
	}
	return f, nil
}

const (
	nameHint    = "use a plain file name: letters, digits, . _ + -, not starting with a dot or dash, and not one of the run dir's own files (" + JobFile + ", stdout, stderr, exit_code, pid)"
	projectHint = "use a project name of printable characters (letters, digits, punctuation, inner spaces), at most 100 bytes"
)

// JobTimeout returns a job's timeoutSeconds as a duration, or 0 when it
// sets none or an unusable one (a job queued before ReadJob checked it).
func JobTimeout(spec []byte) time.Duration {
	spec = bytes.TrimSpace(spec)
	if !json.Valid(spec) || len(spec) == 0 || spec[0] != '{' {
		return 0
	}
	i, _ := jobfields.Member(spec, 0, KeyTimeout)
	if i < 0 {
		return 0
	}
	d, err := timeoutValue(spec[i:jobfields.ValueEnd(spec, i)])
	if err != nil {
		return 0
	}
	return d
}

// JobGPUs returns a job's "gpus", or 0 when it sets none or an unusable
// one (a job queued before ReadJob checked it).
func JobGPUs(spec []byte) int {
	spec = bytes.TrimSpace(spec)
	if !json.Valid(spec) || len(spec) == 0 || spec[0] != '{' {
		return 0
	}
	i, _ := jobfields.Member(spec, 0, KeyGPUs)
	if i < 0 {
		return 0
	}
	n, err := gpusValue(spec[i:jobfields.ValueEnd(spec, i)])
	if err != nil {
		return 0
	}
	return n
}

// CheckProject reports whether name is a usable project name: 1 to
// MaxProjectLen bytes of valid UTF-8, printable characters only (no
// control characters, terminal escapes or invisible formatting), no
// leading or trailing space. Project names are echoed to terminals.
func CheckProject(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("projectName is empty")
	case len(name) > MaxProjectLen:
		return fmt.Errorf("projectName is %d bytes long, more than %d", len(name), MaxProjectLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("projectName %q is not valid UTF-8", name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("projectName %q starts or ends with a space", name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("projectName %q holds the character %U, which is not printable", name, r)
		}
	}
	return nil
}

// stringValue reads a contract field that wants a JSON string.
func stringValue(key string, v []byte) (string, error) {
	if v[0] != '"' {
		return "", wrongType(key, "a string", v)
	}
	s, err := unquote(v)
	if err != nil {
		return "", wrongType(key, "a string", v)
	}
	return s, nil
}

// unquote decodes the JSON string literal lit (valid JSON), through
// encoding/json only when it holds an escape.
func unquote(lit []byte) (string, error) {
	if bytes.IndexByte(lit, '\\') < 0 {
		return string(lit[1 : len(lit)-1]), nil
	}
	var s string
	err := json.Unmarshal(lit, &s)
	return s, err
}

// timeoutValue reads timeoutSeconds: a JSON number, 0 < n <= MaxTimeoutSeconds.
func timeoutValue(v []byte) (time.Duration, error) {
	if v[0] == '"' || v[0] == '{' || v[0] == '[' || v[0] == 't' || v[0] == 'f' {
		return 0, wrongType(KeyTimeout, "a number of seconds", v)
	}
	n, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(n, 0) || n <= 0 || n > MaxTimeoutSeconds {
		return 0, &ContractError{Key: KeyTimeout,
			Msg:  fmt.Sprintf("%q is %s: want a number of seconds above 0 and at most %g", KeyTimeout, v, float64(MaxTimeoutSeconds)),
			Hint: `leave "timeoutSeconds" out for no limit`}
	}
	return time.Duration(n * float64(time.Second)), nil
}

// gpusValue reads gpus: a whole JSON number, 1 <= n <= MaxGPUs.
func gpusValue(v []byte) (int, error) {
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 1 || n > MaxGPUs {
		if v[0] == '"' || v[0] == '{' || v[0] == '[' || v[0] == 't' || v[0] == 'f' {
			return 0, wrongType(KeyGPUs, "a whole number of GPUs", v)
		}
		return 0, &ContractError{Key: KeyGPUs,
			Msg:  fmt.Sprintf("%q is %s: want a whole number of GPUs from 1 to %d", KeyGPUs, clipValue(v), MaxGPUs),
			Hint: `e.g. "gpus": 2 (all on one host); leave it out for one slot`}
	}
	return n, nil
}

// globsValue reads artifacts: a JSON array of globs that stay in the run
// dir.
func globsValue(v []byte) ([]string, error) {
	var globs []string
	if err := json.Unmarshal(v, &globs); err != nil {
		return nil, &ContractError{Key: KeyArtifacts,
			Msg:  fmt.Sprintf("%q is %s: want an array of globs", KeyArtifacts, clipValue(v)),
			Hint: `e.g. "artifacts": ["*.pt", "plots/*.png"]`}
	}
	if err := artifacts.CheckGlobs(globs); err != nil {
		return nil, &ContractError{Key: KeyArtifacts, Msg: err.Error(),
			Hint: `name files inside the run dir, e.g. "*.pt" or "plots/*.png"; a script may also write them into artifacts/ in its run dir`}
	}
	return globs, nil
}

// capValue reads artifactsCap: a number of bytes, or a size string.
func capValue(v []byte) (int64, error) {
	text := string(v)
	if len(v) > 0 && v[0] == '"' {
		s, err := unquote(v)
		if err != nil {
			return 0, err
		}
		text = s
	}
	n, err := artifacts.ParseSize(text)
	if err != nil {
		return 0, &ContractError{Key: KeyArtifactsCap, Msg: fmt.Sprintf("%q: %v", KeyArtifactsCap, err),
			Hint: `e.g. "artifactsCap": "2GB"`}
	}
	return n, nil
}

func clipValue(v []byte) string {
	if len(v) > 60 {
		return string(v[:60]) + "…"
	}
	return string(v)
}

// wrongType is the error of a contract field holding another JSON type.
func wrongType(key, want string, v []byte) error {
	kind := "value"
	switch v[0] {
	case '"':
		kind = "string"
	case '{':
		kind = "object"
	case '[':
		kind = "array"
	case 't', 'f':
		kind = "boolean"
	default:
		kind = "number"
	}
	hint := fmt.Sprintf("write %q as %s", key, want)
	if key == KeyTimeout && kind == "string" {
		var s string
		if json.Unmarshal(v, &s) == nil {
			if _, err := strconv.ParseFloat(s, 64); err == nil {
				hint = fmt.Sprintf(`drop the quotes: "%s": %s`, key, s)
			}
		}
	}
	return &ContractError{Key: key, Msg: fmt.Sprintf("%q must be %s, not a JSON %s (%s)", key, want, kind, clip(string(v), 40)), Hint: hint}
}

// walkKeys calls fn for each member of the object at b[i] and of every
// object inside it, with the dotted path of the object that holds it ("" at
// the top); a key repeated in one object is a *ContractError. b must be
// valid JSON.
func walkKeys(b []byte, i int, path string, fn func(path, key string, v []byte) error) error {
	switch b[i] {
	case '{':
		// A job is read once per job of a sweep (a million of them, at
		// most): keys are compared in a slice, and decoded only when they
		// hold an escape.
		var seen []string
		j := jobfields.SkipSpace(b, i+1)
		for b[j] != '}' {
			kEnd := jobfields.ValueEnd(b, j)
			key, err := unquote(b[j:kEnd])
			if err != nil {
				return &ContractError{Msg: fmt.Sprintf("bad key %s", b[j:kEnd])}
			}
			v := jobfields.SkipSpace(b, jobfields.SkipSpace(b, kEnd)+1) // past the ':'
			vEnd := jobfields.ValueEnd(b, v)
			full := key
			if path != "" {
				full = path + "." + key
			}
			if slices.Contains(seen, key) {
				where := ""
				if path != "" {
					where = " in " + path
				}
				return &ContractError{Key: full, Msg: fmt.Sprintf("key %q appears twice%s", key, where),
					Hint: "keep one of them: JSON readers differ on which one counts"}
			}
			seen = append(seen, key)
			if err := fn(path, key, b[v:vEnd]); err != nil {
				return err
			}
			if err := walkKeys(b, v, full, fn); err != nil {
				return err
			}
			j = jobfields.SkipSpace(b, vEnd)
			if b[j] == ',' {
				j = jobfields.SkipSpace(b, j+1)
			}
		}
	case '[':
		j := jobfields.SkipSpace(b, i+1)
		for n := 0; b[j] != ']'; n++ {
			p := strconv.Itoa(n)
			if path != "" {
				p = path + "." + p
			}
			if err := walkKeys(b, j, p, fn); err != nil {
				return err
			}
			j = jobfields.SkipSpace(b, jobfields.ValueEnd(b, j))
			if b[j] == ',' {
				j = jobfields.SkipSpace(b, j+1)
			}
		}
	}
	return nil
}

// isRunFile reports whether name is one of the files the run contract
// itself writes in a run dir.
func isRunFile(name string) bool { return name == JobFile || run.IsReserved(name) }
