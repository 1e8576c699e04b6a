package outcomeview

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/provenance"
)

// EnvRef is the environment one attempt ran in, as show prints it.
type EnvRef struct {
	OrderID int64                  `json:"orderId"`
	Attempt int                    `json:"attempt"`
	Hash    string                 `json:"envHash"`
	Env     provenance.Environment `json:"environment"`
}

// newEnvs reads the stored environments; one that does not parse is shown
// by its note.
func newEnvs(es []db.AttemptEnv) []EnvRef {
	out := make([]EnvRef, 0, len(es))
	for _, e := range es {
		env, err := provenance.ParseEnvironment(e.Spec)
		if err != nil {
			env.Note = err.Error()
		}
		out = append(out, EnvRef{OrderID: e.OrderID, Attempt: e.Attempt, Hash: e.Hash, Env: env})
	}
	return out
}

// writeCode writes the job's code lines; nothing for a job submitted
// before mljob recorded code.
func (j *Job) writeCode(w io.Writer) {
	if j.Code == nil {
		return
	}
	fmt.Fprintf(w, "Code: %s\n", provenance.CodeText(j.Code))
	fmt.Fprintf(w, "Script: sha256 %s", j.Code.ScriptHash)
	if j.Code.DataHash != "" {
		fmt.Fprintf(w, "  data: sha256 %s", j.Code.DataHash)
	}
	fmt.Fprintln(w)
}

// writeEnvs writes, after a blank line, each distinct environment the
// job's attempts ran in, headed by the attempts that ran in it.
func (j *Job) writeEnvs(w io.Writer) {
	var order []string
	who := map[string][]string{}
	env := map[string]provenance.Environment{}
	for _, e := range j.Envs {
		if _, ok := env[e.Hash]; !ok {
			order = append(order, e.Hash)
			env[e.Hash] = e.Env
		}
		who[e.Hash] = append(who[e.Hash], fmt.Sprintf("order %d attempt %d", e.OrderID, e.Attempt))
	}
	for _, h := range order {
		fmt.Fprintf(w, "\nEnvironment %s of %s:\n", h[:min(12, len(h))], strings.Join(who[h], ", "))
		for _, l := range env[h].Lines() {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
}

// envKeys are the CSV columns of an attempt's environment, and codeKeys
// of the job's code, added only when there is one.
var (
	envKeys  = []string{"envHash", "python", "host", "cpu", "gpus", "modules"}
	codeKeys = []string{"codeRepo", "codeCommit", "codeDirty", "codeDiffBytes", "scriptHash", "dataHash"}
)

// envCells are the envKeys cells of an attempt, empty without one.
func (j *Job) envCells(orderID int64, attempt int) []string {
	for _, e := range j.Envs {
		if e.OrderID == orderID && e.Attempt == attempt {
			gpus := ""
			if len(e.Env.GPUs) > 0 {
				gpus = e.Env.GPUText()
			}
			return []string{e.Hash, e.Env.Python, e.Env.Host, e.Env.CPU, gpus, e.Env.ModuleText()}
		}
	}
	return make([]string, len(envKeys))
}

// codeCells are the codeKeys cells of the job.
func (j *Job) codeCells() []string {
	c := j.Code
	diff := ""
	if c.Diff != nil {
		diff = strconv.FormatInt(c.DiffSize, 10)
	}
	return []string{c.Repo, c.Commit, strconv.FormatBool(c.Dirty), diff, c.ScriptHash, c.DataHash}
}
