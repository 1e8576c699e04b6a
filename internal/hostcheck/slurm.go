package hostcheck

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/sshconn"
)

// slurmProgram is run as sh -c slurmProgram mljob-slurm-check NENV ENV...
// PARTITION...
//
//go:embed slurm.sh
var slurmProgram string

// slurmCommands are the commands mljob runs on a login node; sacct is
// optional (see SlurmReport.Accounting) and checked apart.
var slurmCommands = []string{"sbatch", "squeue", "scancel"}

// SlurmReport is what the check found of a slurm entry's cluster, asked
// from its login node with the entry's env.
type SlurmReport struct {
	Sbatch     string `json:"sbatch"`     // its path on the login node; "" when not found
	Version    string `json:"version"`    // of sbatch --version, e.g. "22.05.8"
	Controller bool   `json:"controller"` // slurmctld answered squeue
	// Accounting: sacct works. Without it mljob learns how a task ended
	// from squeue and the run dir alone.
	Accounting bool `json:"accounting"`
	// Partition is what the entry's sbatch options (or its env's
	// SBATCH_PARTITION) ask for, as given; "" = the cluster's default.
	Partition        string   `json:"partition"`
	Partitions       []string `json:"partitions"`       // sinfo's, without its '*'
	DefaultPartition string   `json:"defaultPartition"` // the one sinfo marks '*'
}

// slurmStep is one record of slurm.sh: a command's exit code, argument
// and output.
type slurmStep struct {
	rc  int
	arg string
	out []string
}

func (s slurmStep) text() string { return strings.Join(s.out, "\n") }

// parseSlurmSteps reads slurm.sh's records, by name in order.
func parseSlurmSteps(b []byte) map[string][]slurmStep {
	steps := map[string][]slurmStep{}
	var last *slurmStep
	for _, line := range strings.Split(string(b), "\n") {
		if out, ok := strings.CutPrefix(line, "> "); ok {
			if last != nil {
				last.out = append(last.out, out)
			}
			continue
		}
		f := strings.SplitN(line, " ", 3)
		if len(f) < 2 {
			last = nil
			continue
		}
		rc, err := strconv.Atoi(f[1])
		if err != nil {
			last = nil
			continue
		}
		s := slurmStep{rc: rc}
		if len(f) == 3 {
			s.arg = f[2]
		}
		steps[f[0]] = append(steps[f[0]], s)
		l := steps[f[0]]
		last = &l[len(l)-1]
	}
	return steps
}

// probeSlurm checks, on the login node and with the entry's env, that
// Slurm's commands are there, that the controller answers, that the
// entry's partition exists and whether accounting works.
func (c *checker) probeSlurm(ctx context.Context, t sshconn.Transport) {
	sr := &SlurmReport{Partition: strings.Join(partitions(c.h), ","), Partitions: []string{}}
	c.r.Slurm = sr
	argv := []string{"sh", "-c", slurmProgram, "mljob-slurm-check", strconv.Itoa(len(c.h.Env))}
	for _, e := range c.h.Env {
		argv = append(argv, e.Key+"="+e.Value)
	}
	argv = append(argv, partitions(c.h)...)
	var stdout, stderr bytes.Buffer
	if err := t.Exec(ctx, argv, nil, &stdout, &stderr); err != nil {
		if ctx.Err() != nil {
			c.add(Fail, fmt.Sprintf("no answer from Slurm's commands on %s within %v", c.loginNode(), c.timeout),
				"run squeue there by hand: is the controller slow or down? raise --timeout for a slow cluster")
			return
		}
		c.add(Fail, fmt.Sprintf("the Slurm check did not run on %s (%v): %s", c.loginNode(), err, tail(stderr.String())),
			"check the env of "+c.entry()+", and run mljob hosts check again")
		return
	}
	steps := parseSlurmSteps(stdout.Bytes())
	first := func(name string) (slurmStep, bool) {
		if s := steps[name]; len(s) > 0 {
			return s[0], true
		}
		return slurmStep{}, false
	}

	paths := map[string]string{}
	for _, s := range steps["command"] {
		paths[s.arg] = s.text()
	}
	sr.Sbatch = paths["sbatch"]
	var missing []string
	for _, name := range slurmCommands {
		if paths[name] == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		path, _ := first("path")
		c.add(Fail, fmt.Sprintf("%s not found on %s (PATH=%s)", strings.Join(missing, ", "), c.loginNode(), path.text()),
			c.pathFix())
	}
	if conf, ok := first("conf-missing"); ok {
		c.add(Fail, fmt.Sprintf("SLURM_CONF=%s: no such file on %s", conf.text(), c.loginNode()),
			"set SLURM_CONF in the env of "+c.entry()+" to the cluster's slurm.conf there, or remove it to use the login node's own")
		return
	}
	if v, ok := first("version"); ok && v.rc == 0 && len(v.out) > 0 {
		// "slurm 23.02.1", or "slurm-wlm 22.05.8" from Debian's package.
		f := strings.Fields(v.out[0])
		if len(f) > 0 {
			sr.Version = f[len(f)-1]
		}
	}
	ctl, ok := first("controller")
	if !ok {
		return // squeue is missing: reported above
	}
	if ctl.rc != 0 {
		c.add(Fail, fmt.Sprintf("the Slurm controller does not answer: squeue: %s", tail(ctl.text())),
			"is slurmctld up? check that SLURM_CONF (env of "+c.entry()+") names this cluster's slurm.conf, and run squeue on "+c.loginNode()+" by hand")
		return
	}
	sr.Controller = true

	if acct, ok := first("sacct"); ok && acct.rc == 0 {
		sr.Accounting = true
	} else {
		said := "sacct not found"
		if ok {
			said = "sacct said: " + tail(acct.text())
		}
		c.add(Warn, "sacct not usable (accounting off?): mljob falls back to squeue and the run dirs; tasks Slurm has forgotten count as lost",
			"nothing to do if tasks end within the controller's MinJobAge; else ask the cluster's admins about accounting ("+said+")")
	}

	list, ok := first("partitions")
	if !ok {
		if sr.Partition != "" {
			c.add(Warn, "cannot check partition "+sr.Partition+": sinfo not found on "+c.loginNode(), c.pathFix())
		}
		return
	}
	if list.rc == 0 {
		for _, p := range list.out {
			p = strings.TrimSpace(p)
			name, def := strings.CutSuffix(p, "*")
			if name == "" {
				continue
			}
			sr.Partitions = append(sr.Partitions, name)
			if def {
				sr.DefaultPartition = name
			}
		}
	}
	for _, p := range steps["partition"] {
		switch {
		case p.rc != 0:
			c.add(Warn, fmt.Sprintf("cannot check partition %s: sinfo failed (exit %d)", p.arg, p.rc),
				"run sinfo -p "+sshconn.Quote(p.arg)+" on "+c.loginNode()+" by hand")
		case strings.TrimSpace(p.text()) == "":
			c.add(Fail, fmt.Sprintf("partition %s does not exist (sinfo lists: %s)", p.arg, sr.partitionList()),
				"set --partition in the sbatch options of "+c.entry()+" to one of "+sr.partitionList()+", or remove it for the default")
		}
	}
}

// partitionList names the cluster's partitions for a message.
func (sr *SlurmReport) partitionList() string {
	if len(sr.Partitions) == 0 {
		return "none"
	}
	names := make([]string, len(sr.Partitions))
	for i, p := range sr.Partitions {
		names[i] = p
		if p == sr.DefaultPartition {
			names[i] += " (default)"
		}
	}
	return strings.Join(names, ", ")
}

// loginNode names where Slurm's commands run, for messages.
func (c *checker) loginNode() string {
	if c.h.Local {
		return "this machine"
	}
	return "the login node"
}

// pathFix says how to make Slurm's commands found.
func (c *checker) pathFix() string {
	if c.h.Local {
		return "load Slurm before running mljob (e.g. module load slurm), or add the directory holding its commands to PATH in the env of " + c.entry()
	}
	return "load Slurm in the login node's non-interactive shell (e.g. module load slurm in ~/.bashrc there), or add the directory holding its commands to PATH in the env of " + c.entry()
}

// partitions returns the partitions h's runs are submitted to: its sbatch
// options' --partition (or -p), else its env's SBATCH_PARTITION, which
// sbatch reads too; nil = the cluster's default. A later option wins, as
// in sbatch; a comma-separated list is split.
func partitions(h hosts.Host) []string {
	val := ""
	for _, e := range h.Env {
		if e.Key == "SBATCH_PARTITION" {
			val = e.Value
		}
	}
	opts := h.Sbatch
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		if name, ok := strings.CutPrefix(o, "--"); ok {
			// getopt_long takes an unambiguous prefix: --part=, not --par
			// (--parsable).
			name, v, hasValue := strings.Cut(name, "=")
			if len(name) < len("part") || !strings.HasPrefix("partition", name) {
				continue
			}
			if !hasValue {
				if i+1 >= len(opts) {
					continue
				}
				i++
				v = opts[i]
			}
			val = v
			continue
		}
		if v, ok := strings.CutPrefix(o, "-p"); ok {
			if v == "" {
				if i+1 >= len(opts) {
					continue
				}
				i++
				v = opts[i]
			}
			val = v
		}
	}
	var out []string
	for p := range strings.SplitSeq(val, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
