package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/hostcheck"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/render"
)

func newHostsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hosts",
		Short: "Check your hosts before a dispatch, and see what the dispatcher saw of them",
		Args:  cobra.NoArgs,
		Example: `  mljob hosts check --hosts hosts.yaml
  mljob hosts list`,
	}
	cmd.AddCommand(newHostsCheckCmd(a), newHostsListCmd(a))
	return cmd
}

// hostsCheckOptions are the flags of mljob hosts check.
type hostsCheckOptions struct {
	app        *app
	hostsFile  string
	python     string
	scriptsDir string
	timeout    time.Duration
	output     string
}

func newHostsCheckCmd(a *app) *cobra.Command {
	opts := &hostsCheckOptions{app: a}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check that each host can run your scripts, and say how to fix what cannot",
		Long: `Check connects to every host of the hosts file at once, as dispatch would, and
reports: reachable, the auth method that got in (agent or identity file), the
host key status, the host's Python and version, the modules the scripts in
the scripts dir import (torch, sklearn, ...) as the host's python finds them
with the entry's env, each with its installed version, GPUs (nvidia-smi) and,
where nvidia-smi is, whether torch sees CUDA, load and free disk under the
workdir. Each problem is printed below the table
with its fix. A module that will not import, and an entry listing more gpus
than nvidia-smi shows, are FAIL. Without --hosts it checks this machine.

For an entry of kind slurm it checks the login node (this machine with
local: true) the same way, without load and GPUs: Slurm picks the nodes.
With the entry's env it also checks that sbatch, squeue and scancel are
found, that the controller answers, that the entry's --partition exists and
whether sacct works, and shows Slurm's version in the SLURM column. The
workdir must be on a filesystem the compute nodes share: check cannot tell.

VERDICT is ok, warn (runs will start, but look at the problem) or FAIL
(runs will not work there).

Exit codes: 0 every host ok or warn, 1 a host FAILed (or another error),
2 usage error, 130 interrupted.`,
		Example: `  mljob hosts check --hosts hosts.yaml
  mljob hosts check --hosts hosts.yaml -o json
  mljob hosts check --python /usr/bin/python3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.timeout <= 0 {
				return usagef(cmd, "--timeout must be positive")
			}
			var err error
			opts.scriptsDir, _, err = resolveScriptsDir(cmd, a, opts.scriptsDir, "")
			if err != nil {
				return err
			}
			return runHostsCheck(cmd.Context(), opts)
		},
	}
	addHostsFlags(cmd, &opts.hostsFile, &opts.python)
	f := cmd.Flags()
	addScriptsFlag(cmd, &opts.scriptsDir, "directory holding the scripts whose imports are checked")
	f.DurationVar(&opts.timeout, "timeout", hostcheck.DefaultTimeout, "give up on a host after this long")
	addOutputFlag(cmd, &opts.output)
	return cmd
}

// addHostsFlags adds --hosts and --python, which pick the hosts of
// dispatch and hosts check: the same flags, so that hosts check checks
// what dispatch would run on.
func addHostsFlags(cmd *cobra.Command, hostsFile, python *string) {
	f := cmd.Flags()
	f.StringVar(hostsFile, "hosts", "", "hosts file (YAML); default: this machine only")
	f.StringVar(python, "python", defaultLocalPython, "Python interpreter on this machine when no --hosts is given")
}

// loadHosts returns the hosts of hostsFile or, without one, this machine
// with slots slots and python as its interpreter. Local runs live beside
// the database they belong to.
func (a *app) loadHosts(ctx context.Context, hostsFile string, slots int, python string) ([]hosts.Host, error) {
	if hostsFile != "" {
		f, err := hosts.DefaultResolver().Load(ctx, hostsFile)
		if err != nil {
			return nil, &userError{msg: err.Error(), hint: "fix the hosts file; see README.md for its format"}
		}
		return f.Hosts, nil
	}
	data, err := a.dataDir()
	if err != nil {
		return nil, err
	}
	return []hosts.Host{hosts.LocalHost(slots, python, filepath.Join(data, "local"))}, nil
}

func runHostsCheck(ctx context.Context, opts *hostsCheckOptions) error {
	imports, err := pyexec.ScriptImports(opts.scriptsDir)
	if err != nil {
		return &userError{msg: err.Error(), hint: "check --scripts (or MLJOB_SCRIPTS)"}
	}
	// Without --hosts, the same host dispatch uses (with one slot).
	hs, err := opts.app.loadHosts(ctx, opts.hostsFile, 1, opts.python)
	if err != nil {
		return err
	}
	reports := hostcheck.Check(ctx, hs, hostcheck.Options{Imports: imports, Timeout: opts.timeout, HostsFile: opts.hostsFile})
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := renderHostsCheck(opts.app.io.Out, opts.output, reports); err != nil {
		return fmt.Errorf("hosts check: %w", err)
	}
	failed := 0
	for _, r := range reports {
		if r.Verdict == hostcheck.Fail {
			failed++
		}
	}
	if failed > 0 {
		return &userError{msg: fmt.Sprintf("%d of %d host(s) failed the check", failed, len(reports)),
			hint: "apply the fixes listed, then run mljob hosts check again"}
	}
	return nil
}

// renderHostsCheck writes the table and the problem lines below it, or
// the reports as JSON or CSV.
func renderHostsCheck(w io.Writer, format string, reports []hostcheck.Report) error {
	t := render.Table{
		Headers: []string{"HOST", "VERDICT", "AUTH", "KEY", "PYTHON", "IMPORTS", "GPUS", "LOAD", "DISK"},
		Keys:    []string{"host", "verdict", "auth", "hostKey", "python", "imports", "gpus", "load", "disk"},
	}
	// The SLURM column only when there is something to put in it, so the
	// output of hosts files without Slurm stays as it was.
	slurm := false
	for _, r := range reports {
		slurm = slurm || r.Slurm != nil
	}
	if slurm {
		t.Headers = append(t.Headers, "SLURM")
		t.Keys = append(t.Keys, "slurm")
	}
	for _, r := range reports {
		row := []string{r.Host, string(r.Verdict), authCell(r), dash(r.HostKey), pythonCell(r),
			importsCell(r), gpusCell(r), loadCell(r), diskCell(r)}
		if slurm {
			row = append(row, slurmCell(r))
		}
		t.Rows = append(t.Rows, row)
	}
	if format == render.FormatJSON {
		return render.JSON(w, reports)
	}
	if err := render.Write(w, format, t, nil); err != nil {
		return err
	}
	if format != render.FormatTable {
		return nil
	}
	var lines strings.Builder
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

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func authCell(r hostcheck.Report) string {
	if r.Auth == hostcheck.AuthIdentityFile {
		return "key"
	}
	return dash(r.Auth)
}

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

// hostsListOptions are the flags of mljob hosts list.
type hostsListOptions struct {
	app    *app
	output string
}

func newHostsListCmd(a *app) *cobra.Command {
	opts := &hostsListOptions{app: a}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Show what the dispatcher last saw of each host, and its runs",
		Long: `List shows, for each host a dispatcher has used, its status (up, down,
refused) and since when, when it last answered, its load then, its runs
(attempts given to it), how many succeeded, failed or are active, the mean
run time of the finished ones and its last error. It reads the queue only;
run mljob hosts check to look at the hosts now.

Exit codes: 0 ok, 1 error, 2 usage error.`,
		Example: `  mljob hosts list
  mljob hosts list -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHostsList(cmd.Context(), opts)
		},
	}
	addOutputFlag(cmd, &opts.output)
	return cmd
}

// hostRow is one host of mljob hosts list -o json.
type hostRow struct {
	Host           string     `json:"host"`
	Status         string     `json:"status"`
	Since          *time.Time `json:"since"`
	SeenAt         *time.Time `json:"seenAt"`
	Load           *float64   `json:"load"`
	Runs           int        `json:"runs"`
	Done           int        `json:"done"`
	Failed         int        `json:"failed"`
	Active         int        `json:"active"`
	MeanRunSeconds *float64   `json:"meanRunSeconds"`
	LastError      string     `json:"lastError"`
}

func runHostsList(ctx context.Context, opts *hostsListOptions) error {
	store, err := opts.app.openDB(ctx, db.ReadOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	recs, err := store.Hosts(ctx)
	if err != nil {
		return fmt.Errorf("hosts list: %w", err)
	}
	runs, err := store.HostRuns(ctx)
	if err != nil {
		return fmt.Errorf("hosts list: %w", err)
	}
	rows := hostRows(recs, runs)
	if len(rows) == 0 && opts.output == render.FormatTable {
		fmt.Fprintln(opts.app.io.ErrOut, "No hosts yet: mljob dispatch records the hosts it uses.")
		return nil
	}
	t := render.Table{
		Headers: []string{"HOST", "STATUS", "SINCE", "LAST SEEN", "LOAD", "RUNS", "DONE", "FAILED", "ACTIVE", "MEAN RUN", "LAST ERROR"},
		Keys:    []string{"host", "status", "since", "seenAt", "load", "runs", "done", "failed", "active", "meanRunSeconds", "lastError"},
		Numeric: map[int]bool{4: true, 5: true, 6: true, 7: true, 8: true, 9: true},
	}
	for _, r := range rows {
		mean := "-"
		if r.MeanRunSeconds != nil {
			mean = (time.Duration(*r.MeanRunSeconds * float64(time.Second))).Round(100 * time.Millisecond).String()
			if opts.output == render.FormatCSV {
				mean = strconv.FormatFloat(*r.MeanRunSeconds, 'f', -1, 64)
			}
		}
		load := "-"
		if r.Load != nil {
			load = strconv.FormatFloat(*r.Load, 'f', 2, 64)
		}
		t.Rows = append(t.Rows, []string{r.Host, dash(r.Status), timeCell(r.Since, opts.output), timeCell(r.SeenAt, opts.output), load,
			strconv.Itoa(r.Runs), strconv.Itoa(r.Done), strconv.Itoa(r.Failed), strconv.Itoa(r.Active), mean, dash(r.LastError)})
	}
	return render.Write(opts.app.io.Out, opts.output, t, rows)
}

// hostRows joins the recorded hosts with their attempt counts; a host with
// attempts but no record (an older queue) still gets a row.
func hostRows(recs []db.HostRecord, runs []db.HostRuns) []hostRow {
	byHost := map[string]*hostRow{}
	rows := []hostRow{}
	for _, h := range recs {
		r := hostRow{Host: h.Name, Status: h.Status, Since: timePtr(h.Since), SeenAt: timePtr(h.SeenAt), Load: h.Load, LastError: h.LastError}
		rows = append(rows, r)
	}
	for i := range rows {
		byHost[rows[i].Host] = &rows[i]
	}
	var extra []hostRow
	for _, n := range runs {
		r := byHost[n.Host]
		if r == nil {
			extra = append(extra, hostRow{Host: n.Host})
			r = &extra[len(extra)-1]
		}
		r.Runs, r.Done, r.Failed, r.Active = n.Runs, n.Succeeded, n.Failed, n.Active
		if n.Timed > 0 {
			s := n.MeanRun.Seconds()
			r.MeanRunSeconds = &s
		}
	}
	rows = append(rows, extra...)
	sort.Slice(rows, func(i, j int) bool { return rows[i].Host < rows[j].Host })
	return rows
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// timeCell shows a time in local time for people, RFC 3339 UTC in CSV.
func timeCell(t *time.Time, format string) string {
	if t == nil {
		return "-"
	}
	if format == render.FormatCSV {
		return t.UTC().Format(time.RFC3339)
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
