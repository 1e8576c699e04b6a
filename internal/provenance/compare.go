package provenance

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/jobfields"
)

// Change is one thing that differs between two jobs: what (a dotted job
// path, or a code or environment fact) and its value in each; "" where a
// job lacks it.
type Change struct {
	What string `json:"what"`
	A    string `json:"a"`
	B    string `json:"b"`
}

// Comparison is what differs between two jobs (Compare).
type Comparison struct {
	A, B   int64    // the jobs' ids
	Fields []Change // the job fields (dotted paths), and project/script/data
	Code   []Change // commit, dirty, the diff's and the files' hashes
	Env    []Change // python, modules, host, CPU, GPUs of their last runs
	// Patch is a unified diff of the jobs' stored diffs when those differ
	// ("" when they are equal or neither has one).
	Patch string
}

// Compare says what differs between the jobs a and b: their fields, their
// code, and the environments of their latest attempts that have one.
func Compare(a, b *db.JobHistory) Comparison {
	c := Comparison{A: a.Job.ID, B: b.Job.ID}
	add := func(list *[]Change, what, x, y string) {
		if x != y {
			*list = append(*list, Change{What: what, A: x, B: y})
		}
	}
	add(&c.Fields, "projectName", a.Job.Project, b.Job.Project)
	add(&c.Fields, "scriptName", a.Job.Script, b.Job.Script)
	add(&c.Fields, "dataFileName", a.Job.DataFile, b.Job.DataFile)
	fa, _ := jobfields.Flatten(a.Job.Spec)
	fb, _ := jobfields.Flatten(b.Job.Spec)
	for _, p := range unionKeys(fa, fb) {
		if p == "projectName" || p == "scriptName" || p == "dataFileName" {
			continue
		}
		add(&c.Fields, p, value(fa, p), value(fb, p))
	}

	ca, cb := a.Code, b.Code
	add(&c.Code, "code", CodeText(ca), CodeText(cb))
	if ca != nil && cb != nil {
		add(&c.Code, "scriptHash", ca.ScriptHash, cb.ScriptHash)
		add(&c.Code, "dataHash", ca.DataHash, cb.DataHash)
		if ca.DiffHash != cb.DiffHash {
			c.Patch = Unified(fmt.Sprintf("job %d diff", a.Job.ID), fmt.Sprintf("job %d diff", b.Job.ID),
				string(ca.Diff), string(cb.Diff))
		}
	}

	ea, eb := lastEnv(a), lastEnv(b)
	if ea != nil || eb != nil {
		var x, y Environment
		if ea != nil {
			x = *ea
		}
		if eb != nil {
			y = *eb
		}
		add(&c.Env, "python", x.Python, y.Python)
		add(&c.Env, "executable", x.Executable, y.Executable)
		for _, m := range unionKeys(x.Modules, y.Modules) {
			add(&c.Env, "module "+m, x.Modules[m], y.Modules[m])
		}
		add(&c.Env, "host", x.Host, y.Host)
		add(&c.Env, "cpu", x.CPU, y.CPU)
		add(&c.Env, "platform", x.Platform, y.Platform)
		add(&c.Env, "gpus", x.GPUText(), y.GPUText())
	}
	return c
}

// lastEnv is the environment of h's latest attempt that has one.
func lastEnv(h *db.JobHistory) *Environment {
	if len(h.Envs) == 0 {
		return nil
	}
	e, err := ParseEnvironment(h.Envs[len(h.Envs)-1].Spec)
	if err != nil {
		return &Environment{Note: err.Error()}
	}
	return &e
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]V{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// value is the field at path p as JSON text; "" when absent.
func value(f map[string]any, p string) string {
	v, ok := f[p]
	if !ok {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Write writes the comparison as text: a section per kind of difference,
// each "WHAT: A → B", then the patch; "no differences" when none.
func (c Comparison) Write(w io.Writer) error {
	var b strings.Builder
	sections := []struct {
		title string
		list  []Change
	}{{"Fields", c.Fields}, {"Code", c.Code}, {"Environment", c.Env}}
	any := false
	for _, s := range sections {
		if len(s.list) == 0 {
			continue
		}
		any = true
		fmt.Fprintf(&b, "%s (job %d → job %d):\n", s.title, c.A, c.B)
		for _, ch := range s.list {
			fmt.Fprintf(&b, "  %s: %s → %s\n", ch.What, orAbsent(ch.A), orAbsent(ch.B))
		}
	}
	if c.Patch != "" {
		any = true
		fmt.Fprintf(&b, "Uncommitted changes, job %d's diff against job %d's:\n%s", c.A, c.B, c.Patch)
	}
	if !any {
		fmt.Fprintf(&b, "Jobs %d and %d do not differ in fields, code or environment.\n", c.A, c.B)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orAbsent(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
