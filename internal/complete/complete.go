// Package complete turns what the queue holds into a shell's completion
// candidates: the projects, the sweeps and the job or order ids that
// begin with what the user typed, each but a project described after a
// tab, as cobra hands candidates to the shell. Reading the queue, and
// giving up quietly when it cannot be read, is cmd/mljob's.
package complete

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/db"
)

// Projects are the projects that begin with prefix.
func Projects(projects []string, prefix string) []string {
	var out []string
	for _, p := range projects {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// Sweeps are the names of the sweeps (of project, unless it is "") that
// begin with prefix, each described by its id, project and size.
func Sweeps(sweeps []db.Sweep, project, prefix string) []string {
	var out []string
	for _, sw := range sweeps {
		if (project == "" || sw.Project == project) && strings.HasPrefix(sw.Name, prefix) {
			out = append(out, fmt.Sprintf("%s\tsweep %d, project %s, %d job(s)", sw.Name, sw.ID, sw.Project, sw.Jobs))
		}
	}
	return out
}

// IDs are the job ids (order ids when orders) of jobs that begin with
// prefix, each described by the other id, its project, script and state.
func IDs(jobs []db.JobSummary, orders bool, prefix string) []string {
	var out []string
	for _, j := range jobs {
		id, what := j.JobID, fmt.Sprintf("order %d", j.OrderID)
		if orders {
			id, what = j.OrderID, fmt.Sprintf("job %d", j.JobID)
		}
		s := strconv.FormatInt(id, 10)
		if strings.HasPrefix(s, prefix) {
			out = append(out, fmt.Sprintf("%s\t%s, %s %s, %s", s, what, j.Project, j.Script, j.State))
		}
	}
	return out
}
