//go:build bench

package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProfile is where the profile note of BENCHMARKS.md comes from (run
// by hand: go test -tags bench -run TestProfile -v ./bench/; it needs
// strace and perf). It counts the programs the host executes per job under
// mljob and under the floor (strace -f on one host's sshd), and records the
// dispatcher's own CPU profile with perf.
func TestProfile(t *testing.T) {
	const jobs = 40
	for _, bin := range []string{"strace", "perf"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("PROFILE NOT RUN: %s not found", bin)
		}
	}
	tl := buildTools(t)
	l := startLab(t, tl.dir, 1, 2)
	pid := sshdPID(t, l.servers[0].Dir)
	list := makeJobs("profile", jobs, 0)

	count := func(name string, run func() (measured, string)) {
		out := filepath.Join(tl.dir, "strace-"+strings.Fields(name)[0]+".txt")
		st := exec.Command("strace", "-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-o", out, "-p", strconv.Itoa(pid))
		if err := st.Start(); err != nil {
			t.Fatal(err)
		}
		waitTraced(t, pid)
		m, problem := run()
		_ = st.Process.Signal(os.Interrupt)
		_ = st.Wait()
		if problem != "" {
			t.Fatalf("%s under strace: %s", name, problem)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		progs := map[string]int{}
		total := 0
		for line := range strings.Lines(string(b)) {
			if mm := execLine.FindStringSubmatch(strings.TrimSpace(line)); mm != nil {
				progs[filepath.Base(mm[1])]++
				total++
			}
		}
		var keys []string
		for k := range progs {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return progs[keys[i]] > progs[keys[j]] })
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+" "+strconv.FormatFloat(float64(progs[k])/jobs, 'f', 2, 64))
		}
		t.Logf("%s: %d jobs, %.2fs under strace, %.2f execs per job on the host: %s", name, jobs, m.wall.Seconds(),
			float64(total)/jobs, strings.Join(parts, ", "))
	}
	count("mljob dispatch", func() (measured, string) { return tl.runMljob(t, l, list) })
	count("floor", func() (measured, string) {
		return tl.runRaw(t, list, tl.floor, "-hosts", l.floorHosts, "-user", l.keys.User,
			"-identity", l.keys.IdentityFile, "-known-hosts", l.keys.KnownHosts, "-slots", "2")
	})

	// The dispatcher's CPU: perf record over a 200-job run on 4 hosts.
	l4 := startLab(t, tl.dir, 4, 2)
	dbPath := filepath.Join(mustMkdirTemp(t, tl.dir, "perf-"), "mljob.db")
	tl.mustMljob(t, dbPath, nil, "submit", "--scripts", tl.scripts, jobsJSON(t, tl.dir, makeJobs("perf", 200, 0)))
	data := filepath.Join(tl.dir, "perf.data")
	m := measure(context.Background(), tl.mljobEnv(dbPath), nil, "perf", "record", "-q", "-F", "2999", "-g", "-o", data, "--",
		tl.mljob, "dispatch", "--hosts", l4.hostsYAML, "--scripts", tl.scripts, "--poll", pollInterval.String())
	if m.err != nil {
		t.Fatal(m.err)
	}
	if s := tl.checkOutcomes(t, dbPath, 200); s != "" {
		t.Fatalf("perf run: %s", s)
	}
	rep, err := exec.Command("perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "sym", "-g", "none",
		"--percent-limit", "1.5").CombinedOutput()
	if err != nil {
		t.Fatalf("perf report: %v\n%s", err, rep)
	}
	t.Logf("perf report (dispatcher, 200 jobs, %.2fs wall, cpu %v):\n%s", m.wall.Seconds(), m.cpu, bytes.TrimSpace(rep))
	// Grouped by package: what share of the samples each part takes.
	raw, err := exec.Command("perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "sym", "-g", "none").Output()
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]float64{}
	for line := range strings.Lines(string(raw)) {
		mm := perfLine.FindStringSubmatch(line)
		if mm == nil {
			continue
		}
		p, _ := strconv.ParseFloat(mm[1], 64)
		groups[groupOf(mm[2])] += p
	}
	var names []string
	for k := range groups {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return groups[names[i]] > groups[names[j]] })
	var parts []string
	for _, k := range names {
		parts = append(parts, k+" "+strconv.FormatFloat(groups[k], 'f', 1, 64)+"%")
	}
	t.Logf("dispatcher CPU by part: %s", strings.Join(parts, ", "))
}

// execLine matches a successful execve in strace's output.
var execLine = regexp.MustCompile(`execve\("([^"]+)".* = 0$`)

// perfLine matches "    12.34%  [.] symbol" of perf report.
var perfLine = regexp.MustCompile(`^\s+([\d.]+)%\s+\[[.k]\]\s+(.+?)\s*$`)

// groupOf buckets a symbol by the code it belongs to.
func groupOf(sym string) string {
	switch {
	case strings.Contains(sym, "modernc.org/"):
		return "sqlite (modernc)"
	case strings.Contains(sym, "golang.org/x/crypto") || strings.HasPrefix(sym, "crypto/") || strings.Contains(sym, "vendor/golang.org/x/crypto"):
		return "ssh crypto"
	case strings.HasPrefix(sym, "runtime.gc") || strings.HasPrefix(sym, "runtime.scan") || strings.HasPrefix(sym, "runtime.mark") ||
		strings.Contains(sym, "gcBgMarkWorker") || strings.HasPrefix(sym, "runtime.greyobject") || strings.HasPrefix(sym, "runtime.findObject"):
		return "GC"
	case strings.HasPrefix(sym, "runtime."):
		return "runtime (scheduler, syscalls, alloc)"
	case strings.Contains(sym, "mljob/"):
		return "mljob"
	case strings.HasPrefix(sym, "0x") || strings.Contains(sym, "[unknown]"):
		return "unknown"
	case !strings.ContainsAny(sym, "./"):
		return "kernel (syscalls, scheduler, page cache)"
	default:
		return "other Go and C libraries"
	}
}

// sshdPID finds the listening daemon whose config is in dir.
func sshdPID(tb testing.TB, dir string) int {
	tb.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := filepath.Join(dir, "sshd_config")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		// sshd rewrites its title ("sshd: /usr/sbin/sshd -D -e -f cfg
		// [listener] ..."), so match the text, not argv words.
		if cmd := string(b); strings.Contains(cmd, "sshd") && strings.Contains(cmd, cfg) && !strings.Contains(cmd, "strace") {
			return p
		}
	}
	tb.Fatalf("no sshd with config %s", cfg)
	return 0
}

// waitTraced waits until strace has attached to pid.
func waitTraced(tb testing.TB, pid int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err == nil && !strings.Contains(string(b), "TracerPid:\t0\n") {
			return
		}
		time.Sleep(10 * time.Millisecond) // a poll on /proc: attaching raises no event here
	}
	tb.Fatalf("strace did not attach to %d", pid)
}
