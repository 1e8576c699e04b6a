package outcomeview

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/jobfields"
)

// outcomeKeys are mljob's own keys of an outcome's JSON object, sorted as
// encoding/json sorts map keys. "error", "outcomeWarning" and "superseded"
// (why the outcome does not count for its order: another attempt's does)
// and "cost" (what the attempt cost: cost.go) are written only when there
// is one; the script's own fields never
// override any of these. "objective" and "goal" are the job's objective,
// "objectiveValue" the outcome's value of it.
var outcomeKeys = []string{"attempt", "cost", "durationSeconds", "error", "exitCode", "finishedAt", "goal", "host", "jobId",
	"loss", "metric", "objective", "objectiveValue", "orderId", "outcomeWarning", "projectName", "state", "status",
	"superseded"}

// outcomeOnlyKeys are outcomeKeys less those an Encoder without WithJob
// leaves to the job.
var outcomeOnlyKeys = slices.DeleteFunc(slices.Clone(outcomeKeys), func(k string) bool {
	return k == "objective" || k == "goal"
})

// JobFieldPrefix starts the key of a job field in the outcomes' JSON and
// CSV: "job." and the field's dotted path, as --columns takes it.
const JobFieldPrefix = "job."

// scriptField is one top-level field of a script's Outcome JSON, or one
// job field of the row.
type scriptField struct {
	key string
	raw []byte // the value as the script wrote it
}

// Encoder writes outcome objects: the script's Outcome JSON (every field,
// verbatim) merged with mljob's own fields, which win on a clash, keys
// sorted, as encoding/json would write the merged map with a two-space
// indent and no HTML escaping. It is the one outcome encoder: outcomes -o
// json writes its objects, show embeds them. It keeps its scratch space
// from row to row; the zero value is ready to use.
type Encoder struct {
	// WithJob adds what the row takes from its job: its objective
	// ("objective", the name, and "goal") and every field of its spec,
	// flattened, as "job.PATH" (mljob's own keys, so they win over a
	// script's key of that name). show leaves it off: the job's own JSON
	// holds them.
	WithJob bool
	fields  []scriptField
	job     []scriptField
	flat    jobfields.Flattener
	jobRaw  []byte   // the job fields' values, JSON
	jobKeys []string // "job."+path by Param.ID, made once per path
	jobEnds []int    // where each job field's value ends in jobRaw
	indent  bytes.Buffer
	first   bool // no key written yet in the current object
}

// Append appends r (Fill it first) as one element of a top-level array:
// indented by two, no trailing comma or newline.
func (e *Encoder) Append(dst []byte, r *db.OutcomeRow) ([]byte, error) {
	e.fields = scriptFields(e.fields[:0], r.JSON)
	e.jobFields(r.Spec)
	dst = append(dst, "  {"...)
	e.first = true
	keys := outcomeOnlyKeys
	if e.WithJob {
		keys = outcomeKeys
	}
	fi, ki, ji := 0, 0, 0
	var err error
	for ki < len(keys) || ji < len(e.job) {
		// Ours next: a built-in key or a job field, whichever sorts first.
		isJob := ki == len(keys) || ji < len(e.job) && e.job[ji].key < keys[ki]
		k := keys[min(ki, len(keys)-1)]
		if isJob {
			k = e.job[ji].key
		}
		// The script's fields that sort before it.
		for ; fi < len(e.fields) && e.fields[fi].key < k; fi++ {
			if dst, err = e.appendField(dst, e.fields[fi]); err != nil {
				return dst, err
			}
		}
		if fi < len(e.fields) && e.fields[fi].key == k {
			fi++ // ours wins
		}
		if isJob {
			dst, err = e.appendField(dst, e.job[ji])
			ji++
		} else {
			dst, err = e.appendOwn(dst, k, r)
			ki++
		}
		if err != nil {
			return dst, err
		}
	}
	for ; fi < len(e.fields); fi++ {
		if dst, err = e.appendField(dst, e.fields[fi]); err != nil {
			return dst, err
		}
	}
	return append(dst, "\n  }"...), nil
}

// jobFields sets e.job to the fields of spec as "job.PATH" members, sorted
// by key; none unless e.WithJob.
func (e *Encoder) jobFields(spec []byte) {
	e.job, e.jobRaw = e.job[:0], e.jobRaw[:0]
	if !e.WithJob {
		return
	}
	pairs := e.flat.Add(spec)
	e.jobEnds = e.jobEnds[:0]
	for _, p := range pairs {
		if p.IsString() {
			e.jobRaw = AppendString(e.jobRaw, p.Value)
		} else {
			e.jobRaw = append(e.jobRaw, p.Value...)
		}
		e.jobEnds = append(e.jobEnds, len(e.jobRaw))
	}
	// Sliced once e.jobRaw has stopped growing.
	start := 0
	for i, p := range pairs {
		for len(e.jobKeys) <= p.Param.ID {
			e.jobKeys = append(e.jobKeys, "")
		}
		if e.jobKeys[p.Param.ID] == "" {
			e.jobKeys[p.Param.ID] = JobFieldPrefix + p.Param.Path
		}
		e.job = append(e.job, scriptField{key: e.jobKeys[p.Param.ID], raw: e.jobRaw[start:e.jobEnds[i]]})
		start = e.jobEnds[i]
	}
	slices.SortFunc(e.job, func(a, b scriptField) int { return strings.Compare(a.key, b.key) })
}

// key appends the separator and the key of the next member.
func (e *Encoder) key(dst []byte, k string) []byte {
	if !e.first {
		dst = append(dst, ',')
	}
	e.first = false
	dst = append(dst, "\n    "...)
	dst = AppendString(dst, k)
	return append(dst, ": "...)
}

func (e *Encoder) appendField(dst []byte, f scriptField) ([]byte, error) {
	return e.AppendRaw(e.key(dst, f.key), f.raw)
}

// appendOwn appends mljob's own field k of r, if r has it.
func (e *Encoder) appendOwn(dst []byte, k string, r *db.OutcomeRow) ([]byte, error) {
	switch k {
	case "error", "outcomeWarning", "superseded":
		s := r.Error
		if k == "outcomeWarning" {
			s = r.Warning
		} else if k == "superseded" {
			s = r.Superseded
		}
		if s != "" {
			dst = AppendString(e.key(dst, k), s)
		}
		return dst, nil
	}
	if k == "cost" {
		if r.Cost == nil {
			return dst, nil
		}
		obj, err := appendCost(nil, r.Cost)
		if err != nil {
			return nil, err
		}
		return e.AppendRaw(e.key(dst, k), obj)
	}
	dst = e.key(dst, k)
	switch k {
	case "attempt":
		return strconv.AppendInt(dst, int64(r.Attempt), 10), nil
	case "durationSeconds":
		return AppendFloat(dst, math.Round(r.DurationSeconds*1000)/1000)
	case "exitCode":
		if r.ExitCode == nil {
			return append(dst, "null"...), nil
		}
		return strconv.AppendInt(dst, int64(*r.ExitCode), 10), nil
	case "goal":
		return AppendString(dst, string(ObjectiveOf(r).Goal)), nil
	case "objective":
		return AppendString(dst, ObjectiveOf(r).Name), nil
	case "objectiveValue":
		return AppendNumber(dst, ObjectiveValue(r))
	case "finishedAt":
		dst = append(dst, '"')
		dst = r.CreatedAt.UTC().AppendFormat(dst, time.RFC3339)
		return append(dst, '"'), nil
	case "host":
		return AppendString(dst, r.Host), nil
	case "jobId":
		return strconv.AppendInt(dst, r.JobID, 10), nil
	case "loss":
		return AppendNumber(dst, r.Loss)
	case "metric":
		return AppendNumber(dst, r.Metric)
	case "orderId":
		return strconv.AppendInt(dst, r.OrderID, 10), nil
	case "projectName":
		return AppendString(dst, r.Project), nil
	case "state":
		return append(dst, `"`+State(r)+`"`...), nil
	}
	// "status": the script's, else the seed's convention: 200 or 500.
	switch {
	case r.Status != nil:
		return strconv.AppendInt(dst, int64(*r.Status), 10), nil
	case r.Succeeded:
		return append(dst, "200"...), nil
	}
	return append(dst, "500"...), nil
}

// State is the row's state: db.OutcomePruned when its pruner stopped its
// attempt, else db.OutcomeSucceeded or db.OutcomeFailed.
func State(r *db.OutcomeRow) string {
	if r.Pruned {
		return db.OutcomePruned
	}
	if r.Succeeded {
		return db.OutcomeSucceeded
	}
	return db.OutcomeFailed
}

// AppendRaw appends a script's value at the depth of an outcome's fields:
// scalars as written, objects and arrays re-indented as encoding/json
// indents a json.RawMessage.
func (e *Encoder) AppendRaw(dst, raw []byte) ([]byte, error) {
	if raw[0] != '{' && raw[0] != '[' {
		return append(dst, raw...), nil
	}
	e.indent.Reset()
	if err := json.Indent(&e.indent, raw, "    ", "  "); err != nil {
		return dst, err
	}
	return append(dst, e.indent.Bytes()...), nil
}

// Object returns r (Fill it first) as one JSON object, for a caller that
// embeds it in JSON of its own (mljob show).
func (e *Encoder) Object(r *db.OutcomeRow) (json.RawMessage, error) {
	b, err := e.Append(nil, r)
	return json.RawMessage(b), err
}

// scriptFields appends the top-level fields of a script's Outcome JSON to
// dst, sorted by key, the last of duplicate keys kept, mljob's keys still
// in (Append skips them). Anything but a valid JSON object gives none, as
// json.Unmarshal into a map does.
func scriptFields(dst []scriptField, js []byte) []scriptField {
	if len(js) == 0 || !json.Valid(js) {
		return dst
	}
	i := jobfields.SkipSpace(js, 0)
	if js[i] != '{' {
		return dst // null, or not an object
	}
	i = jobfields.SkipSpace(js, i+1)
	for js[i] != '}' {
		end := jobfields.ValueEnd(js, i)
		k := jobfields.Unquote(js[i:end])
		i = jobfields.SkipSpace(js, end)
		i = jobfields.SkipSpace(js, i+1) // the colon
		end = jobfields.ValueEnd(js, i)
		dst = append(dst, scriptField{key: k, raw: js[i:end]})
		i = jobfields.SkipSpace(js, end)
		if js[i] == ',' {
			i = jobfields.SkipSpace(js, i+1)
		}
	}
	// Stable, so that the last of equal keys stays last; json.Unmarshal
	// into a map keeps the last.
	slices.SortStableFunc(dst, func(a, b scriptField) int { return strings.Compare(a.key, b.key) })
	out := dst[:0]
	for i, f := range dst {
		if i+1 < len(dst) && dst[i+1].key == f.key {
			continue
		}
		if f.key == "error" {
			continue // written (or dropped) by Append: the failure's own
		}
		out = append(out, f)
	}
	return out
}

// WriteJSON writes the rows as an indented JSON array of Encoder objects
// with their job fields, "[]" when there are none, and returns the
// objectives of the rows.
func WriteJSON(w io.Writer, batches <-chan []*db.OutcomeRow) (ObjectiveCounts, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	var (
		buf  []byte
		enc  = Encoder{WithJob: true}
		n    int
		err  error
		objs ObjectiveCounts
	)
	for batch := range batches {
		for _, r := range batch {
			objs.add(ObjectiveOf(r))
			buf = append(buf[:0], ",\n"...)
			if n == 0 {
				buf = append(buf[:0], "[\n"...)
			}
			if buf, err = enc.Append(buf, r); err != nil {
				return nil, fmt.Errorf("render json: %w", err)
			}
			if _, err := bw.Write(buf); err != nil {
				return nil, fmt.Errorf("render json: %w", err)
			}
			n++
		}
	}
	return objs, endJSONArray(bw, n)
}

// endJSONArray closes a JSON array of n objects written row by row ("[]"
// when there were none) and flushes it.
func endJSONArray(bw *bufio.Writer, n int) error {
	end := "\n]\n"
	if n == 0 {
		end = "[]\n"
	}
	if _, err := bw.WriteString(end); err != nil {
		return fmt.Errorf("render json: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("render json: %w", err)
	}
	return nil
}
