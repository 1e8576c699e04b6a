//go:build bench

package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// leaseGoal is the bound on what leases cost: the bench's 400
// trivial jobs with leases on within 1.1× of the same with leases: false.
const leaseGoal = 1.1

// leaseSlots is the one host's slots in TestLeaseOverhead: 8, as the
// comparison's 4 hosts × 2, under OpenSSH's MaxSessions of 10.
const leaseSlots = 8

// TestLeaseOverhead times 400 trivial jobs on one loopback sshd host ×
// 8 slots with leases on (each run takes its slot's flock in the host's
// lock dir, each probe asks which are held) and with leases: false, the
// two runs of each round back to back, alternating which goes first, and
// reports the ratio of walls taken within each round. Every run's record
// is checked (each job once, succeeded), and the leased runs must have
// left their lease files in the lock dir, the unleased none.
func TestLeaseOverhead(t *testing.T) {
	rounds := envInt("BENCH_ROUNDS", defaultRounds)
	nJobs := envInt("BENCH_JOBS", defaultJobs)
	tl := buildTools(t)
	l := startLab(t, tl.dir, 1, envInt("BENCH_SLOTS", leaseSlots))
	t.Logf("machine:\n%s", machineInfo(t))
	srv := l.servers[0]

	on, off := *l, *l
	on.hostsYAML = leaseHostsFile(t, tl.dir, l, true)
	off.hostsYAML = leaseHostsFile(t, tl.dir, l, false)
	startLoad := loadAvg()
	ds := []dispatcher{
		{name: "leases on", run: func(tb testing.TB, jobs []benchJob) (measured, string) { return tl.runMljob(tb, &on, jobs) }},
		{name: "leases: false", run: func(tb testing.TB, jobs []benchJob) (measured, string) { return tl.runMljob(tb, &off, jobs) }},
	}
	res := alternate(t, ds, rounds, makeJobs("lease", nJobs, 0))
	endLoad := loadAvg()

	// Leased runs take slot-0 .. slot-7 in the host's lock dir; the
	// unleased ones never make it.
	names, err := os.ReadDir(srv.LockDir)
	if err != nil {
		t.Errorf("lock dir %s: %v (the leased runs should have made it)", srv.LockDir, err)
	}
	slots := 0
	for _, n := range names {
		if strings.HasPrefix(n.Name(), "slot-") {
			slots++
		}
	}
	if slots != l.slots {
		t.Errorf("%d slot-N lease files in %s, want %d: one per slot the leased runs took", slots, srv.LockDir, l.slots)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\n| leases | wall median (min–max) | jobs/s | CPU per job, ms | peak RSS, MB | runs ok |\n|---|---|---|---|---|---|\n")
	for _, d := range ds {
		r := res[d.name]
		w, c, m := summarise(r.walls), summarise(r.cpuPerJob), summarise(r.rss)
		fmt.Fprintf(&b, "| %s | %.2f s (%.2f–%.2f) | %.1f | %.2f | %.1f | %d/%d |\n",
			d.name, w.med, w.min, w.max, float64(nJobs)/w.med, c.med, m.med, len(r.walls), rounds)
	}
	var ratios []float64
	ron, roff := res["leases on"], res["leases: false"]
	for i := range min(len(ron.byRound), len(roff.byRound)) {
		if ron.byRound[i] > 0 && roff.byRound[i] > 0 {
			ratios = append(ratios, ron.byRound[i]/roff.byRound[i])
		}
	}
	s := summarise(ratios)
	met := "no"
	if len(ratios) > 0 && s.med <= leaseGoal {
		met = "**yes**"
	}
	fmt.Fprintf(&b, "\n| ratio | per round | median (min–max) | goal | met |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| leases on ÷ leases: false | %s | %.3f (%.3f–%.3f) | ≤ %.1f | %s |\n", fmtList(ratios), s.med, s.min, s.max, leaseGoal, met)
	fmt.Fprintf(&b, "\nload average (1, 5, 15 min): %s at the start, %s at the end\n", startLoad, endLoad)
	t.Logf("leases, %d jobs, 1 host × %d slots, %d rounds:\n%s", nJobs, l.slots, rounds, b.String())
	if len(ratios) == 0 {
		t.Fatal("no round where both runs succeeded")
	}
}

// leaseHostsFile writes a hosts file for l's servers with leases on (in
// each server's own lock dir) or off, and returns its path.
func leaseHostsFile(tb testing.TB, dir string, l *lab, leases bool) string {
	tb.Helper()
	var y strings.Builder
	fmt.Fprintf(&y, "defaults:\n  user: %q\n  identity_file: %q\n  known_hosts: %q\n  python: %q\n  connect_timeout: 10s\n",
		l.keys.User, l.keys.IdentityFile, l.keys.KnownHosts, hostPython)
	y.WriteString("hosts:\n")
	for _, s := range l.servers {
		fmt.Fprintf(&y, "  - name: %s\n    address: %s\n    port: %d\n    workdir: %q\n    slots: %d\n", s.Name, s.Host, s.Port, s.Workdir, l.slots)
		if leases {
			fmt.Fprintf(&y, "    lock_dir: %q\n", s.LockDir)
		} else {
			y.WriteString("    leases: false\n")
		}
	}
	name := "hosts-leases-off.yaml"
	if leases {
		name = "hosts-leases-on.yaml"
	}
	return mustWriteFile(tb, filepath.Join(mustMkdirTemp(tb, dir, "lease-"), name), y.String(), 0o644)
}
