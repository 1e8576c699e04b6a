package slurmtest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/mljob/mljob/internal/testdep"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts bound waits on daemons that misbehave; a healthy cluster is idle
// within about two seconds and gone within milliseconds of a kill.
const (
	readyTimeout = 30 * time.Second
	pollInterval = 100 * time.Millisecond
	stopTimeout  = 10 * time.Second
)

// Options changes the cluster Start brings up.
type Options struct {
	// CPUs is the node's CPU count in slurm.conf; 0 = runtime.NumCPU().
	// It may exceed the machine's (SlurmdParameters=config_overrides), so
	// a test can run more array tasks at once than it has cores.
	CPUs int

	// ExtraConf holds slurm.conf lines appended after the generated ones;
	// Slurm takes the last value of a repeated parameter.
	ExtraConf []string
}

// Cluster is one running munged, slurmctld and slurmd. Clients reach it
// with Env (or Command, which sets it).
type Cluster struct {
	Dir         string // its temp dir: config, key, state, spool and logs
	Conf        string // slurm.conf
	MungeSocket string // munged's socket, in a dir of mode 0755
	Name        string // ClusterName
	CPUs        int    // the node's CPUs, as configured

	CtldPort   int // SlurmctldPort, on 127.0.0.1
	SlurmdPort int // SlurmdPort, on 127.0.0.1

	tb      testing.TB // reports processes that outlive Stop
	mu      sync.Mutex // guards daemons
	daemons []*daemon  // in start order; nil once stopped
}

// daemon is one process Start ran, and the goroutine that waits for it.
type daemon struct {
	name   string
	log    string // its stdout and stderr
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait returns
}

// Start brings up a single-node cluster in a t.TempDir: munged -F with its
// own key and socket, slurmctld -D and slurmd -D -N localhost on free
// loopback ports. It returns once the node is idle, and registers a
// cleanup that stops everything (see Stop) and, when the test failed, logs
// the daemons' output.
func Start(tb testing.TB, opts Options) *Cluster {
	tb.Helper()
	Require(tb, append(append([]string{}, daemons...), clients...)...)

	dir := tb.TempDir()
	c := &Cluster{
		Dir:  dir,
		Conf: filepath.Join(dir, "slurm.conf"),
		Name: "mljobtest",
		CPUs: opts.CPUs,
		tb:   tb,
	}
	if c.CPUs <= 0 {
		c.CPUs = runtime.NumCPU()
	}
	tb.Cleanup(func() {
		c.Stop()
		if tb.Failed() {
			tb.Logf("slurmtest: daemon logs:\n%s", c.Log())
		}
	})
	if err := c.layout(opts); err != nil {
		tb.Fatalf("slurmtest: %v", err)
	}

	mungeDir := filepath.Dir(c.MungeSocket)
	if err := c.start("munged", mustLookPath(tb, "munged"), "-F",
		"--key-file="+filepath.Join(dir, "munge.key"),
		"--socket="+c.MungeSocket,
		"--pid-file="+filepath.Join(mungeDir, "munged.pid"),
		"--seed-file="+filepath.Join(dir, "munged.seed"),
		"--log-file="+filepath.Join(dir, "log", "munged.log"),
	); err != nil {
		tb.Fatalf("slurmtest: %v", err)
	}
	// slurmctld fails at once on a socket that is not there yet.
	if err := c.waitFor(func() error {
		_, err := os.Stat(c.MungeSocket)
		return err
	}); err != nil {
		tb.Fatalf("slurmtest: munged socket: %v\n%s", err, c.Log())
	}
	if err := c.start("slurmctld", mustLookPath(tb, "slurmctld"), "-D", "-f", c.Conf); err != nil {
		tb.Fatalf("slurmtest: %v", err)
	}
	if err := c.start("slurmd", mustLookPath(tb, "slurmd"), "-D", "-N", "localhost", "-f", c.Conf); err != nil {
		tb.Fatalf("slurmtest: %v", err)
	}
	if err := c.waitFor(c.nodeIdle); err != nil {
		tb.Fatalf("slurmtest: cluster not up: %v\n%s", err, c.Log())
	}
	return c
}

// layout creates the dirs, the munge key and slurm.conf.
func (c *Cluster) layout(opts Options) error {
	for _, d := range []string{"state", "spool", "log"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, d), 0o755); err != nil {
			return err
		}
	}
	// munged wants its socket dir 0755: not writable by others, and
	// searchable by the users whose clients connect.
	mungeDir := filepath.Join(c.Dir, "munge")
	if err := os.Mkdir(mungeDir, 0o755); err != nil {
		return err
	}
	// munged also wants every dir above the socket searchable by all;
	// t.TempDir makes its dir and the test's parent dir 0700.
	for _, d := range []string{c.Dir, filepath.Dir(c.Dir)} {
		if err := addSearch(d); err != nil {
			return err
		}
	}
	c.MungeSocket = filepath.Join(mungeDir, "munge.socket")
	key := make([]byte, 1024)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("munge key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "munge.key"), key, 0o600); err != nil {
		return fmt.Errorf("munge key: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	c.CtldPort, c.SlurmdPort = ports[0], ports[1]
	return os.WriteFile(c.Conf, []byte(c.slurmConf(opts)), 0o644)
}

// slurmConf is the minimal config that runs batch jobs on one node
// without cgroups, systemd or slurmdbd: processes are tracked through
// /proc, and finished jobs stay in the controller an hour (MinJobAge), so
// scontrol show job still shows them; sacct needs slurmdbd and does not
// work.
func (c *Cluster) slurmConf(opts Options) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("ClusterName=%s", c.Name)
	p("SlurmctldHost=localhost")
	p("SlurmctldPort=%d", c.CtldPort)
	p("SlurmdPort=%d", c.SlurmdPort)
	p("AuthType=auth/munge")
	p("CredType=cred/munge")
	p("AuthInfo=socket=%s", c.MungeSocket)
	p("SlurmUser=root")
	p("SlurmdUser=root")
	p("StateSaveLocation=%s", filepath.Join(c.Dir, "state"))
	p("SlurmdSpoolDir=%s", filepath.Join(c.Dir, "spool"))
	p("SlurmctldPidFile=%s", filepath.Join(c.Dir, "slurmctld.pid"))
	p("SlurmdPidFile=%s", filepath.Join(c.Dir, "slurmd.pid"))
	p("ProctrackType=proctrack/linuxproc")
	p("TaskPlugin=task/none")
	p("SelectType=select/cons_tres")
	p("SelectTypeParameters=CR_Core")
	p("SlurmdParameters=config_overrides")
	p("MpiDefault=none")
	p("ReturnToService=2")
	p("MinJobAge=3600")
	p("JobCompType=jobcomp/filetxt")
	p("JobCompLoc=%s", filepath.Join(c.Dir, "jobcomp.txt"))
	p("NodeName=localhost CPUs=%d State=UNKNOWN", c.CPUs)
	p("PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP")
	for _, l := range opts.ExtraConf {
		p("%s", l)
	}
	return b.String()
}

// start runs one daemon in its own process group, with the cluster dir as
// working directory (killCluster finds slurmstepd by it) and its output in
// log/NAME.out.
func (c *Cluster) start(name, bin string, args ...string) error {
	logPath := filepath.Join(c.Dir, "log", name+".out")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	defer f.Close() // the daemon holds its own copy
	cmd := exec.Command(bin, args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env()...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, log: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		defer close(d.exited)
		_ = cmd.Wait() // the log says why; Stop only needs to know it ended
	}()
	c.mu.Lock()
	c.daemons = append(c.daemons, d)
	c.mu.Unlock()
	return nil
}

// errExited is a daemon that ended while Start waited for the cluster.
var errExited = errors.New("exited")

// waitFor polls check until it returns nil, a daemon exits, or
// readyTimeout passes.
func (c *Cluster) waitFor(check func() error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		c.mu.Lock()
		ds := c.daemons
		c.mu.Unlock()
		for _, d := range ds {
			select {
			case <-d.exited:
				return fmt.Errorf("%s %w: %v", d.name, errExited, d.cmd.ProcessState)
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", readyTimeout, err)
		}
		time.Sleep(pollInterval)
	}
}

// nodeIdle asks the controller for the node's state: nil once it is idle.
func (c *Cluster) nodeIdle() error {
	out, err := c.Command("sinfo", "--noheader", "--Node", "--format=%T").CombinedOutput()
	if err != nil {
		return fmt.Errorf("sinfo: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if s := strings.TrimSpace(string(out)); s != "idle" {
		return fmt.Errorf("node state %q", s)
	}
	return nil
}

// Env returns the variables a Slurm client needs to reach this cluster,
// to append to os.Environ() or to pass over ssh as `env K=V` words. The
// munge socket is named in slurm.conf (AuthInfo), so SLURM_CONF is all.
func (c *Cluster) Env() []string {
	return []string{"SLURM_CONF=" + c.Conf}
}

// Command returns a client command (sbatch, scontrol, ...) with Env set.
func (c *Cluster) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), c.Env()...)
	return cmd
}

// MustRun runs a client command and returns its stdout, failing the test
// with its stderr when it fails.
func (c *Cluster) MustRun(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	cmd := c.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("slurmtest: %s %q: %v\n%s", name, args, err, stderr.String())
	}
	return string(out)
}

// JobStates returns the state of each job record of jobID, as scontrol
// show job prints it (PENDING, RUNNING, COMPLETED, CANCELLED, TIMEOUT,
// ...), keyed by "ARRAYJOB_TASK" for array tasks and by the job id
// otherwise. A pending array's not yet split tasks share one record,
// keyed by "ARRAYJOB_[range]".
func (c *Cluster) JobStates(tb testing.TB, jobID string) map[string]string {
	tb.Helper()
	out := c.MustRun(tb, "scontrol", "--oneliner", "show", "job", jobID)
	states := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				if _, dup := fields[k]; !dup {
					fields[k] = v
				}
			}
		}
		id := fields["JobId"]
		if id == "" {
			continue
		}
		if a, t := fields["ArrayJobId"], fields["ArrayTaskId"]; a != "" && t != "" {
			id = a + "_" + t
		}
		states[id] = fields["JobState"]
	}
	return states
}

// Log returns the daemons' output so far, one section each.
func (c *Cluster) Log() string {
	var b strings.Builder
	for _, name := range []string{"munged", "slurmctld", "slurmd"} {
		out, err := os.ReadFile(filepath.Join(c.Dir, "log", name+".out"))
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "--- %s ---\n%s", name, out)
	}
	return b.String()
}

// Stop kills the daemons, their process groups and every job step and job
// process of the cluster, and waits until they are gone. It is idempotent
// and runs at cleanup. Jobs are not ended cleanly: a Stop is a power cut.
func (c *Cluster) Stop() {
	c.mu.Lock()
	ds := c.daemons
	c.daemons = nil
	c.mu.Unlock()
	if len(ds) == 0 {
		return
	}
	roots := make([]int, 0, len(ds))
	for _, d := range ds {
		roots = append(roots, d.cmd.Process.Pid)
	}
	pids := killCluster(c.Dir, roots)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	for _, d := range ds {
		select {
		case <-d.exited:
		case <-timer.C:
			// A SIGKILLed process that does not exit is stuck in the
			// kernel; waitGone below reports it.
		}
	}
	if alive := waitGone(pids, stopTimeout); len(alive) > 0 {
		c.tb.Errorf("slurmtest: processes %v outlived Stop", alive)
	}
}

// addSearch adds the execute (search) bits for group and others to dir.
func addSearch(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	return os.Chmod(dir, fi.Mode().Perm()|0o011)
}

// freePorts returns n distinct loopback ports nobody listens on right now.
// Another process could take one before the daemons bind it; the daemon
// then exits and Start fails with its log.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func mustLookPath(tb testing.TB, name string) string {
	tb.Helper()
	p, err := testdep.LookPath(name)
	if err != nil {
		tb.Fatalf("slurmtest: %v", err)
	}
	return p
}
