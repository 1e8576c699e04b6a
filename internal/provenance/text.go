package provenance

import (
	"fmt"
	"strings"

	"github.com/mljob/mljob/internal/db"
)

// CodeText is c in words, as show and diff print it: "commit C (clean)",
// "commit C (dirty, diff of N bytes)", "not a git repo", "git missing",
// "git failed: …", with the note after a semicolon.
func CodeText(c *db.Code) string {
	if c == nil {
		return "not recorded"
	}
	var s string
	switch c.Repo {
	case db.RepoGit:
		commit := c.Commit
		if commit == "" {
			commit = "none"
		}
		state := "clean"
		if c.Dirty {
			state = "dirty"
			if c.Diff != nil {
				state += fmt.Sprintf(", diff of %d bytes", c.DiffSize)
			} else {
				state += ", no diff of tracked files"
			}
		}
		s = fmt.Sprintf("commit %s (%s)", commit, state)
	case db.RepoNone:
		s = "not a git repo"
	case db.RepoNoGit:
		s = "git missing"
	default:
		s = "git failed"
	}
	if c.Note != "" {
		s += "; " + c.Note
	}
	return s
}

// CodeJSON is c as show's JSON "code" object; nil without a record.
func CodeJSON(c *db.Code) map[string]any {
	if c == nil {
		return nil
	}
	m := map[string]any{"repo": c.Repo, "commit": c.Commit, "dirty": c.Dirty,
		"scriptHash": c.ScriptHash, "dataHash": c.DataHash}
	if c.Diff != nil {
		m["diffHash"], m["diffBytes"] = c.DiffHash, c.DiffSize
	}
	if c.Note != "" {
		m["note"] = c.Note
	}
	return m
}

// Lines is e as show prints it, one fact a line.
func (e Environment) Lines() []string {
	host := e.Host
	var hw []string
	if e.CPU != "" {
		hw = append(hw, e.CPU)
	}
	if e.CPUs > 0 {
		hw = append(hw, fmt.Sprintf("%d CPUs", e.CPUs))
	}
	if len(hw) > 0 {
		host += " (" + strings.Join(hw, ", ") + ")"
	}
	lines := []string{
		"python  " + e.Python + " (" + e.Executable + ")",
		"modules " + orNone(e.ModuleText()),
		"host    " + host,
		"GPUs    " + e.GPUText(),
	}
	if e.Note != "" {
		lines = append(lines, "note    "+e.Note)
	}
	return lines
}

func orNone(s string) string {
	if s == "" {
		return "none outside the standard library"
	}
	return s
}
