package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/hostcheck"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/hostsview"
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
where nvidia-smi is, whether torch sees CUDA and which GPUs others use
(gpu_busy), the lock dir (LEASES: writable? who holds which lease, who
waits), load and free disk under the workdir. Each problem is printed below the table
with its fix. A module that will not import, an entry listing more gpus
than nvidia-smi shows, and a lock dir runs cannot use are FAIL. Without --hosts it checks this machine.

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
	return a.loadHostsGPUs(ctx, hostsFile, slots, python, "", "")
}

// loadHostsGPUs is loadHosts where this machine may run one run per GPU
// of gpus ("0,1", dispatch --gpus), leased in lockDir.
func (a *app) loadHostsGPUs(ctx context.Context, hostsFile string, slots int, python, gpus, lockDir string) ([]hosts.Host, error) {
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
	h := hosts.LocalHost(slots, python, filepath.Join(data, "local"))
	if gpus != "" {
		ids, err := hosts.ParseGPUList(gpus)
		if err != nil {
			return nil, &userError{msg: "--gpus: " + err.Error(), hint: "name this machine's GPUs as nvidia-smi numbers them, e.g. --gpus 0,1"}
		}
		h = h.WithGPUs(ids, lockDir)
	}
	return []hosts.Host{h}, nil
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
	if err := hostsview.WriteCheck(opts.app.io.Out, opts.output, reports); err != nil {
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
	rows := hostsview.Rows(recs, runs)
	if len(rows) == 0 && opts.output == render.FormatTable {
		fmt.Fprintln(opts.app.io.ErrOut, "No hosts yet: mljob dispatch records the hosts it uses.")
		return nil
	}
	return render.Write(opts.app.io.Out, opts.output, hostsview.ListTable(rows, opts.output), rows)
}
