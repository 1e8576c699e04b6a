package slurmtest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/proctree"
)

// jobTimeout bounds a wait for a job to reach a state; jobs start in
// scheduler waves about 3 s apart, and a loaded machine (the whole suite
// runs packages side by side) can stretch a wave several times over.
// It is a deadline for a hang, not a speed check.
const jobTimeout = 60 * time.Second

// waitStates polls the job's records until done accepts them.
func waitStates(tb testing.TB, c *Cluster, jobID string, done func(map[string]string) bool) map[string]string {
	tb.Helper()
	deadline := time.Now().Add(jobTimeout)
	for {
		s := c.JobStates(tb, jobID)
		if done(s) {
			return s
		}
		if time.Now().After(deadline) {
			tb.Fatalf("job %s: states %v after %v", jobID, s, jobTimeout)
		}
		time.Sleep(pollInterval)
	}
}

// allIn reports whether there are n records, each in one of states.
func allIn(n int, states ...string) func(map[string]string) bool {
	return func(s map[string]string) bool {
		if len(s) != n {
			return false
		}
		for _, st := range s {
			ok := false
			for _, want := range states {
				ok = ok || st == want
			}
			if !ok {
				return false
			}
		}
		return true
	}
}

func sbatch(tb testing.TB, c *Cluster, args ...string) string {
	tb.Helper()
	return strings.TrimSpace(c.MustRun(tb, "sbatch", append([]string{"--parsable"}, args...)...))
}

// TestCluster runs every check on one cluster, as each Start costs about
// two seconds. The subtests run side by side, so the node has a CPU for
// each of their tasks: scancel's two sleeps, array's two at a time and
// wrap's one. With the machine's own count (2 here) array and wrap waited
// for scancel's sleeps to be cancelled, and a slow cancel failed them.
func TestCluster(t *testing.T) {
	c := Start(t, Options{CPUs: 5})

	t.Run("up", func(t *testing.T) {
		if out := c.MustRun(t, "scontrol", "ping"); !strings.Contains(out, "is UP") {
			t.Fatalf("scontrol ping: %q", out)
		}
		conf, err := os.ReadFile(c.Conf)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			fmt.Sprintf("SlurmctldPort=%d\n", c.CtldPort),
			fmt.Sprintf("SlurmdPort=%d\n", c.SlurmdPort),
			"AuthInfo=socket=" + c.MungeSocket + "\n",
		} {
			if !strings.Contains(string(conf), want) {
				t.Errorf("slurm.conf lacks %q", want)
			}
		}
		fi, err := os.Stat(filepath.Dir(c.MungeSocket))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("munge socket dir mode %v, want 0755", fi.Mode().Perm())
		}
		if got := c.Env(); len(got) != 1 || got[0] != "SLURM_CONF="+c.Conf {
			t.Errorf("Env() = %q", got)
		}
	})

	t.Run("wrap", func(t *testing.T) {
		t.Parallel()
		out := t.TempDir()
		id := sbatch(t, c, "--chdir", out, "--output", filepath.Join(out, "%j.out"), "--wrap", "echo hi")
		waitStates(t, c, id, allIn(1, "COMPLETED"))
		b, err := os.ReadFile(filepath.Join(out, id+".out"))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != "hi\n" {
			t.Fatalf("output %q, want %q", b, "hi\n")
		}
	})

	t.Run("array", func(t *testing.T) {
		t.Parallel()
		out := t.TempDir()
		id := sbatch(t, c, "--array=0-2%2", "--chdir", out, "--output", filepath.Join(out, "%A_%a.out"),
			"--wrap", `echo task $SLURM_ARRAY_TASK_ID`)
		waitStates(t, c, id, allIn(3, "COMPLETED"))
		for i := range 3 {
			name := fmt.Sprintf("%s_%d.out", id, i)
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("task %d\n", i); string(b) != want {
				t.Errorf("%s: %q, want %q", name, b, want)
			}
		}
	})

	t.Run("scancel", func(t *testing.T) {
		t.Parallel()
		out := t.TempDir()
		id := sbatch(t, c, "--array=0-1", "--chdir", out, "--output", filepath.Join(out, "%A_%a.out"),
			"--wrap", "sleep 300")
		task := id + "_1"
		waitStates(t, c, task, func(s map[string]string) bool { return s[task] == "RUNNING" })
		c.MustRun(t, "scancel", task)
		waitStates(t, c, task, func(s map[string]string) bool { return s[task] == "CANCELLED" })
		c.MustRun(t, "scancel", id)
		waitStates(t, c, id, allIn(2, "CANCELLED"))
	})
}

// TestStopLeavesNothing stops a cluster with a job running and checks in
// /proc that no daemon, job step or job process is left.
func TestStopLeavesNothing(t *testing.T) {
	c := Start(t, Options{CPUs: 4})
	out := t.TempDir()
	id := sbatch(t, c, "--chdir", out, "--wrap", "sleep 300")
	waitStates(t, c, id, allIn(1, "RUNNING"))

	// The step and its sleep need a moment after RUNNING to appear.
	var before []proc
	deadline := time.Now().Add(jobTimeout)
	for {
		before = clusterMembers(c)
		if hasComm(before, "slurmstepd") && hasComm(before, "sleep") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slurmstepd and sleep among %v", before)
		}
		time.Sleep(pollInterval)
	}
	for _, name := range []string{"munged", "slurmctld", "slurmd"} {
		if !hasComm(before, name) {
			t.Fatalf("no %s among %v", name, before)
		}
	}

	c.Stop()
	c.Stop() // idempotent
	for _, p := range before {
		if q, ok := proctree.Read(p.PID); ok && q.State != 'Z' && q.Comm == p.Comm {
			t.Errorf("%s (pid %d) outlived Stop", p.Comm, p.PID)
		}
	}
	if left := clusterMembers(c); len(left) > 0 {
		t.Errorf("left after Stop: %v", left)
	}
	// Their ports are free again: a client would wait out its message
	// timeout (10 s) to find that out, a listen does not.
	for _, port := range []int{c.CtldPort, c.SlurmdPort} {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Errorf("port %d still taken after Stop: %v", port, err)
			continue
		}
		l.Close()
	}
}

// clusterMembers lists the live processes of c, found as Stop finds them,
// and every slurm or munge process whose working dir is c.Dir.
func clusterMembers(c *Cluster) []proc {
	c.mu.Lock()
	var roots []int
	for _, d := range c.daemons {
		roots = append(roots, d.cmd.Process.Pid)
	}
	c.mu.Unlock()
	var out []proc
	for _, pid := range clusterProcs(c.Dir, roots) {
		if p, ok := proctree.Read(pid); ok {
			out = append(out, withCwd(p))
		}
	}
	for _, p := range listProcs() {
		if p.State != 'Z' && p.cwd == c.Dir && !hasPID(out, p.PID) &&
			(strings.Contains(p.Comm, "slurm") || strings.Contains(p.Comm, "munge")) {
			out = append(out, p)
		}
	}
	return out
}

func hasComm(ps []proc, comm string) bool {
	for _, p := range ps {
		if p.Comm == comm {
			return true
		}
	}
	return false
}

func hasPID(ps []proc, pid int) bool {
	for _, p := range ps {
		if p.PID == pid {
			return true
		}
	}
	return false
}

// TestTimeLimit checks that a job past its --time ends as TIMEOUT. Slurm
// keeps time limits in whole minutes (seconds round up, OverTimeLimit only
// adds minutes) and the controller checks them every 30 s, so it takes
// 60-100 s (75 s and 91 s measured): it runs only when MLJOB_SLURM_SLOW
// is set.
func TestTimeLimit(t *testing.T) {
	if os.Getenv("MLJOB_SLURM_SLOW") == "" {
		t.Skip("takes 60-100 s: Slurm's shortest time limit is one minute; set MLJOB_SLURM_SLOW=1 to run it")
	}
	c := Start(t, Options{})
	id := sbatch(t, c, "--time=1", "--chdir", t.TempDir(), "--wrap", "sleep 300")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s := c.JobStates(t, id)[id]
		if s == "TIMEOUT" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: state %s after 2 min, want TIMEOUT", id, s)
		}
		time.Sleep(time.Second)
	}
}
