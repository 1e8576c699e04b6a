package hostsview

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mljob/mljob/internal/hostcheck"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/render"
)

// CheckTable is the hosts check table, a row per report. The SLURM column
// is there only when a report has something to put in it, so the output of
// hosts files without Slurm stays as it was.
func CheckTable(reports []hostcheck.Report) render.Table {
	t := render.Table{
		Headers: []string{"HOST", "VERDICT", "AUTH", "KEY", "PYTHON", "IMPORTS", "GPUS", "LOAD", "DISK"},
		Keys:    []string{"host", "verdict", "auth", "hostKey", "python", "imports", "gpus", "load", "disk"},
	}
	slurm := false
	for _, r := range reports {
		slurm = slurm || r.Slurm != nil
	}
	if slurm {
		t.Headers = append(t.Headers, "SLURM")
		t.Keys = append(t.Keys, "slurm")
	}
	leases := false
	for _, r := range reports {
		leases = leases || r.LockDir != nil
	}
	if leases {
		t.Headers = append(t.Headers, "LEASES")
		t.Keys = append(t.Keys, "leases")
	}
	for _, r := range reports {
		row := []string{hostCell(r), string(r.Verdict), authCell(r), dash(r.HostKey), pythonCell(r),
			importsCell(r), gpusCell(r), loadCell(r), diskCell(r)}
		if slurm {
			row = append(row, slurmCell(r))
		}
		if leases {
			row = append(row, leasesCell(r))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// WriteCheck writes the reports in format: the table with a line per
// problem and its fix below it, the reports themselves as JSON, or the
// table's cells as CSV.
func WriteCheck(w io.Writer, format string, reports []hostcheck.Report) error {
	if format == render.FormatJSON {
		return render.JSON(w, reports)
	}
	if err := render.Write(w, format, CheckTable(reports), nil); err != nil {
		return err
	}
	if format != render.FormatTable {
		return nil
	}
	var lines strings.Builder
	for _, r := range reports {
		if d := r.LockDir; d != nil {
			for _, l := range d.Leases {
				if l.Held {
					fmt.Fprintf(&lines, "%s: lease %s held by %s\n", r.Host, l.Name, l.Who())
				}
			}
			for _, tk := range d.Waiting {
				fmt.Fprintf(&lines, "%s: a dispatcher waits for a lease since %s (%s)\n", r.Host,
					time.Unix(int64(tk.Since), 0).UTC().Format(time.RFC3339), tk.Name)
			}
		}
	}
	for _, r := range reports {
		for _, p := range r.Problems {
			fmt.Fprintf(&lines, "%s: %s — %s\n", r.Host, p.Problem, p.Fix)
		}
	}
	if lines.Len() > 0 {
		_, err := io.WriteString(w, "\n"+lines.String())
		return err
	}
	return nil
}

// hostCell is the host's name and, when it is not reached directly, its
// route: "gpu1 via bastion", "gpu1 via proxy command".
func hostCell(r hostcheck.Report) string {
	if r.Route == "" {
		return r.Host
	}
	return r.Host + " " + r.Route
}

// dash is s, or "-" for nothing known.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// authCell says how mljob got in; "key" is short for an identity file.
func authCell(r hostcheck.Report) string {
	if r.Auth == hostcheck.AuthIdentityFile {
		return "key"
	}
	return dash(r.Auth)
}

// pythonCell is the host's Python version and path: "3.11.2 /usr/bin/python3".
func pythonCell(r hostcheck.Report) string {
	if r.PythonVersion == "" {
		return "-"
	}
	return r.PythonVersion + " " + r.PythonPath
}

// importsCell lists the scripts' third-party modules with their versions
// ("numpy 1.24.2, torch 2.1.0"), or the missing ones.
func importsCell(r hostcheck.Report) string {
	if r.PythonVersion == "" {
		return "-"
	}
	var missing, found []string
	for m, ok := range r.Imports {
		if !ok {
			missing = append(missing, m)
			continue
		}
		if v := r.Modules[m].Version; v != "" {
			m += " " + v
		}
		found = append(found, m)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return "missing " + strings.Join(missing, ",")
	}
	if len(found) == 0 {
		return "ok (0)"
	}
	sort.Strings(found)
	return strings.Join(found, ", ")
}

// gpusCell is what nvidia-smi lists, then whether torch sees CUDA when a
// script imports torch: "2x A100 · torch: CUDA 2", "none · torch: no CUDA".
func gpusCell(r hostcheck.Report) string {
	s := gpusList(r)
	if s != "-" && r.CUDA != nil {
		if r.CUDA.Available {
			s += " · torch: CUDA " + strconv.Itoa(r.CUDA.Devices)
		} else {
			s += " · torch: no CUDA"
		}
	}
	return s
}

// gpusList counts the GPUs by model, in nvidia-smi's order: "2x A100,
// 1x T4"; "-" where it was not looked at (no Python, or a slurm entry,
// whose login node is not where runs go).
func gpusList(r hostcheck.Report) string {
	switch {
	case r.PythonVersion == "" || r.Kind == string(hosts.KindSlurm):
		return "-"
	case len(r.GPUs) == 0:
		return "none"
	}
	names := map[string]int{}
	var order []string
	for _, g := range r.GPUs {
		if names[g.Name] == 0 {
			order = append(order, g.Name)
		}
		names[g.Name]++
	}
	parts := make([]string, len(order))
	for i, n := range order {
		parts[i] = strconv.Itoa(names[n]) + "x " + n
	}
	return strings.Join(parts, ", ")
}

// leasesCell is the lock dir's state: "2/4 held, 1 waiting", "none
// held", "not made yet" (the first run makes it), "-" where the host takes
// no leases or was not looked at.
func leasesCell(r hostcheck.Report) string {
	d := r.LockDir
	switch {
	case d == nil:
		return "-"
	case !d.Exists:
		return "not made yet"
	}
	s := "none held"
	if n := d.Held(); n > 0 {
		s = fmt.Sprintf("%d/%d held", n, len(d.Leases))
	}
	if len(d.Waiting) > 0 {
		s += fmt.Sprintf(", %d waiting", len(d.Waiting))
	}
	return s
}

// loadCell is the 1-minute load over the CPUs: "0.52/16".
func loadCell(r hostcheck.Report) string {
	if r.Load == nil {
		return "-"
	}
	s := strconv.FormatFloat(*r.Load, 'f', 2, 64)
	if r.CPUs > 0 {
		s += "/" + strconv.Itoa(r.CPUs)
	}
	return s
}

// diskCell is the free space under the workdir, saying when the workdir
// is yet to be made.
func diskCell(r hostcheck.Report) string {
	if r.Free == nil {
		return "-"
	}
	s := hostcheck.Bytes(*r.Free) + " free"
	if !r.Exists {
		s += " (workdir missing, will be created)"
	}
	return s
}

// slurmCell sums up a slurm entry's cluster: "22.05.8, partition debug
// (default), no sacct".
func slurmCell(r hostcheck.Report) string {
	s := r.Slurm
	switch {
	case s == nil:
		return "-"
	case s.Sbatch == "":
		return "no sbatch"
	}
	parts := []string{dash(s.Version)}
	if !s.Controller {
		return strings.Join(append(parts, "no controller"), ", ")
	}
	switch {
	case s.Partition != "":
		parts = append(parts, "partition "+s.Partition)
	case s.DefaultPartition != "":
		parts = append(parts, "partition "+s.DefaultPartition+" (default)")
	}
	if s.Accounting {
		parts = append(parts, "sacct")
	} else {
		parts = append(parts, "no sacct")
	}
	return strings.Join(parts, ", ")
}
