package pyexec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mljob/mljob/internal/run"
)

// Outcome is what mljob makes of a finished run.
type Outcome struct {
	Succeeded bool
	// Status is the script's "status" field (the seed's convention: 200 ok,
	// 400 bad job, 500 crash); nil when it printed none.
	Status       *int
	Loss, Metric *float64
	// JSON is the Outcome line, verbatim but for Python's NaN/Infinity
	// tokens, which are turned into strings so that it is strict JSON.
	JSON     []byte
	ExitCode *int
	// Error says why the run failed; "" when it succeeded.
	Error string
	// Warning says what of the Outcome line mljob could not read, on a
	// run that may well have succeeded (see ReadOutcomeLine); "" when
	// nothing.
	Warning                string
	Duration               time.Duration
	StdoutTail, StderrTail string
	// Cost is what the run cost (run.Result.Cost); nil when unknown.
	Cost *run.Cost
	// NoArtifactsDir is run.Result.NoArtifactsDir.
	NoArtifactsDir bool
}

// ParseOutcome reads the Outcome of a finished run: the last stdout line
// that is a JSON object without a "step" field (a line with one is a
// progress report, see ParseProgress). The run succeeded when it exited 0, printed such a
// line, and that line's status (if any) is 2xx. Only the tail that came
// back is read: see NeedsSearch and ParseSearched for an Outcome further up.
func ParseOutcome(res run.Result) Outcome {
	return ParseSearched(res, nil)
}

// ParseSearched is ParseOutcome with what SearchOutcome found in the whole
// stdout, when the tail held no Outcome line; s nil is ParseOutcome.
func ParseSearched(res run.Result, s *Search) Outcome {
	o := Outcome{
		Duration:   res.Duration(),
		StdoutTail: tail(res.Stdout, KeepTail),
		StderrTail: tail(res.Stderr, KeepTail),
		Cost:       res.Cost,

		NoArtifactsDir: res.NoArtifactsDir,
	}
	if !res.Lost {
		code := res.ExitCode
		o.ExitCode = &code
	}
	line, obj := lastObject(completeLines(res))
	if obj == nil && s != nil && s.Line != nil {
		line, obj = lastObject(s.Line)
	}
	var read OutcomeLine
	if obj != nil {
		o.JSON = line
		read = ReadOutcomeLine(obj)
		o.Status, o.Loss, o.Metric = read.Status, read.Loss, read.Metric
	}
	scriptErr := stringField(obj["error"])
	switch {
	case res.Lost:
		o.Error = "run ended without an exit code: its process was killed or the host restarted"
	case res.ExitCode != 0:
		o.Error = fmt.Sprintf("exit status %d", res.ExitCode)
		if res.ExitCode > 128 && res.ExitCode < 160 {
			o.Error = fmt.Sprintf("exit status %d (killed by signal %d)", res.ExitCode, res.ExitCode-128)
		}
		if scriptErr != "" {
			o.Error += ": " + scriptErr
		} else if last := lastLine(res.Stderr); last != "" {
			o.Error += ": " + last
		}
	case obj == nil && s != nil && s.Oversize > 0:
		o.Error = fmt.Sprintf("no outcome: the last stdout line that begins with \"{\" is %d bytes, over the %d MiB limit on an outcome line (stdout: %d bytes)",
			s.Oversize, MaxOutcomeLine>>20, res.StdoutSize)
	case obj == nil:
		o.Error = fmt.Sprintf("no outcome: no stdout line is a JSON object without a \"step\" (stdout: %d bytes, last line %q)",
			res.StdoutSize, clip(lastLine(res.Stdout), 80))
	case read.BadStatus != "":
		o.Error = read.BadStatus
	case o.Status != nil && (*o.Status < 200 || *o.Status > 299):
		o.Error = fmt.Sprintf("script reported status %d", *o.Status)
		if scriptErr != "" {
			o.Error += ": " + scriptErr
		}
	default:
		o.Succeeded = true
		if o.Status == nil {
			read.Warnings = append(read.Warnings, `no "status" in the outcome line: counted as succeeded because the script exited 0`)
		}
	}
	o.Warning = strings.Join(read.Warnings, "; ")
	return o
}

// OutcomeLine is what mljob reads of a script's Outcome line, the outcome
// contract:
//
//   - "status": optional; an integer (a JSON number, or a string of one,
//     as the seed's scripts wrote). 200–299 is success; any other fails the
//     run. Missing or null: the exit code decides, with a warning. Any
//     other value fails the run (BadStatus), as mljob cannot tell what the
//     script meant.
//   - "loss", "metric": optional; a JSON number, a numeric string, or NaN,
//     Infinity, -Infinity (as Python's json writes them, bare or quoted).
//     Missing or null: none. Any other value (a word, a boolean, an
//     object, a number beyond float64 such as 1e400) is recorded as
//     missing, with a warning naming it; the run's success does not depend
//     on it.
//   - "error": optional; a string, shown as the reason of a failed run.
//
// Every other field is the script's, kept verbatim.
type OutcomeLine struct {
	Status       *int
	Loss, Metric *float64
	BadStatus    string   // why "status" cannot be read; "" when it can
	Warnings     []string // what else could not be read
}

// ReadOutcomeLine reads the fields of the outcome contract from obj, the
// Outcome line's members (after StrictJSON).
func ReadOutcomeLine(obj map[string]json.RawMessage) OutcomeLine {
	var l OutcomeLine
	if raw, ok := obj["status"]; ok && string(raw) != "null" {
		if l.Status = intField(raw); l.Status == nil {
			l.BadStatus = fmt.Sprintf(`outcome line: "status" must be an integer such as 200, not %s`, clip(string(raw), 40))
		}
	}
	for _, f := range []struct {
		key string
		dst **float64
	}{{"loss", &l.Loss}, {"metric", &l.Metric}} {
		raw, ok := obj[f.key]
		if !ok || string(raw) == "null" {
			continue
		}
		if *f.dst = Number(raw); *f.dst == nil {
			why := "not a number"
			if raw[0] != '"' && raw[0] != '{' && raw[0] != '[' && raw[0] != 't' && raw[0] != 'f' {
				why = "beyond a float64's range"
			}
			l.Warnings = append(l.Warnings, fmt.Sprintf("%q is %s (%s): recorded as missing", f.key, why, clip(string(raw), 40)))
		}
	}
	return l
}

// completeLines is the stdout that came back, less a partial first line
// when it is only the tail of a longer stream.
func completeLines(res run.Result) []byte {
	stdout := res.Stdout
	if res.StdoutSize > int64(len(stdout)) {
		if i := bytes.IndexByte(stdout, '\n'); i >= 0 {
			return stdout[i+1:]
		}
		return nil
	}
	return stdout
}

// lastObject returns the last line of out that parses as a JSON object
// without a "step" field: the Outcome line. A line with one is a progress
// report (see ParseProgress), never the Outcome, even when it comes last.
func lastObject(out []byte) ([]byte, map[string]json.RawMessage) {
	lines := bytes.Split(out, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		line := bytes.TrimSpace(lines[i])
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		line = StrictJSON(line)
		var obj map[string]json.RawMessage
		if json.Unmarshal(line, &obj) == nil && obj != nil {
			if _, progress := obj["step"]; progress {
				continue
			}
			return line, obj
		}
	}
	return nil, nil
}

// StrictJSON rewrites the bare NaN, Infinity and -Infinity tokens that
// Python's json module writes for non-finite floats into JSON strings,
// leaving everything inside strings alone. Other input comes back as is.
func StrictJSON(b []byte) []byte {
	if !bytes.Contains(b, []byte("NaN")) && !bytes.Contains(b, []byte("Infinity")) {
		return b
	}
	var out []byte
	inString, escaped := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
			out = append(out, c)
			continue
		}
		replaced := false
		for _, tok := range []string{"-Infinity", "Infinity", "NaN"} {
			if bytes.HasPrefix(b[i:], []byte(tok)) {
				out = append(out, '"')
				out = append(out, tok...)
				out = append(out, '"')
				i += len(tok) - 1
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, c)
		}
	}
	return out
}

// Number reads a "loss" or "metric" value of an Outcome line: a JSON
// number, or a numeric string (the seed's later scripts wrote strings)
// that strconv.ParseFloat reads once trimmed, in any case: "NaN", "nan",
// "Inf", "+inf", "-Infinity", "infinity". Anything else is nil. It is the
// one rule for these values: the dispatcher applies it when it records an
// outcome, and the outcome views (internal/outcomeview) when they read
// one back, since SQLite stores a NaN as NULL and only the Outcome JSON
// still says which it was.
func Number(raw json.RawMessage) *float64 {
	if len(raw) == 0 || string(raw) == "null" {
		return nil // json.Unmarshal would leave a float 0
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return &f
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	s = strings.TrimSpace(s)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil
	}
	return &f
}

func intField(raw json.RawMessage) *int {
	f := Number(raw)
	if f == nil || math.IsNaN(*f) || math.IsInf(*f, 0) || *f != math.Trunc(*f) {
		return nil
	}
	n := int(*f)
	return &n
}

func stringField(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && json.Unmarshal(raw, &s) == nil {
		return clip(s, 500)
	}
	return ""
}

func lastLine(b []byte) string {
	s := strings.TrimRight(string(b), "\r\n \t")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return clip(strings.TrimSpace(s), 300)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
