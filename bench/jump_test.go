//go:build bench

package bench

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// jumpGoal is the bound on 400 trivial jobs through one
// ProxyJump gateway: wall within 1.3× of the same dispatch direct.
const jumpGoal = 1.3

// TestProxyJump times 400 trivial jobs on 4 hosts × 2 slots, dispatched
// directly and through one ProxyJump gateway (a fifth loopback sshd), in
// alternation, and reports the ratio of walls taken within each round.
// Every run's record is checked (each job once, succeeded), and the
// gateway's log must show one login per dispatch through it: one shared
// connection carries all four hosts.
func TestProxyJump(t *testing.T) {
	rounds := envInt("BENCH_ROUNDS", defaultRounds)
	nJobs := envInt("BENCH_JOBS", defaultJobs)
	nHosts := envInt("BENCH_HOSTS", defaultHosts)
	tl := buildTools(t)
	all := startLab(t, tl.dir, nHosts+1, envInt("BENCH_SLOTS", defaultSlots))
	gw := all.servers[0]
	t.Logf("machine:\n%s", machineInfo(t))

	direct, jump := *all, *all
	direct.servers, jump.servers = all.servers[1:], all.servers[1:]
	direct.hostsYAML = jumpHostsFile(t, tl.dir, &direct, "")
	jump.hostsYAML = jumpHostsFile(t, tl.dir, &jump, fmt.Sprintf("%s@%s:%d", all.keys.User, gw.Host, gw.Port))

	ds := []dispatcher{
		{name: "direct", run: func(tb testing.TB, jobs []benchJob) (measured, string) { return tl.runMljob(tb, &direct, jobs) }},
		{name: "via gateway", run: func(tb testing.TB, jobs []benchJob) (measured, string) { return tl.runMljob(tb, &jump, jobs) }},
	}
	res := alternate(t, ds, rounds, makeJobs("jump", nJobs, 0))

	logins := strings.Count(gw.Log(), "Accepted publickey for ")
	if logins != rounds {
		t.Errorf("the gateway accepted %d logins over %d dispatches through it, want one each", logins, rounds)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| route | wall median (min–max) | jobs/s | CPU per job, ms | peak RSS, MB | runs ok |\n|---|---|---|---|---|---|\n")
	for _, d := range ds {
		r := res[d.name]
		w, c, m := summarise(r.walls), summarise(r.cpuPerJob), summarise(r.rss)
		fmt.Fprintf(&b, "| %s | %.2f s (%.2f–%.2f) | %.1f | %.2f | %.1f | %d/%d |\n",
			d.name, w.med, w.min, w.max, float64(nJobs)/w.med, c.med, m.med, len(r.walls), rounds)
	}
	var ratios []float64
	rd, rj := res["direct"], res["via gateway"]
	for i := range min(len(rd.byRound), len(rj.byRound)) {
		if rd.byRound[i] > 0 && rj.byRound[i] > 0 {
			ratios = append(ratios, rj.byRound[i]/rd.byRound[i])
		}
	}
	s := summarise(ratios)
	met := "no"
	if len(ratios) > 0 && s.med <= jumpGoal {
		met = "**yes**"
	}
	fmt.Fprintf(&b, "\n| ratio | per round | median (min–max) | goal | met |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| via gateway ÷ direct | %s | %.3f (%.3f–%.3f) | ≤ %.1f | %s |\n", fmtList(ratios), s.med, s.min, s.max, jumpGoal, met)
	fmt.Fprintf(&b, "\ngateway logins: %d over %d dispatches through it\n", logins, rounds)
	t.Logf("ProxyJump, %d jobs, %d hosts × %d slots, %d rounds:\n%s", nJobs, len(jump.servers), all.slots, rounds, b.String())
	if len(ratios) == 0 {
		t.Fatal("no round where both runs succeeded")
	}
}

// jumpHostsFile writes a hosts file for l's servers, all behind the
// gateway proxyJump ("" = direct), and returns its path.
func jumpHostsFile(tb testing.TB, dir string, l *lab, proxyJump string) string {
	tb.Helper()
	var y strings.Builder
	fmt.Fprintf(&y, "defaults:\n  user: %q\n  identity_file: %q\n  known_hosts: %q\n  python: %q\n  connect_timeout: 10s\n",
		l.keys.User, l.keys.IdentityFile, l.keys.KnownHosts, hostPython)
	if proxyJump != "" {
		// The gateway is known and reached with the defaults' known_hosts
		// and key, as a lab's bastion would be.
		fmt.Fprintf(&y, "  proxy_jump: %q\n", proxyJump)
	}
	y.WriteString("hosts:\n")
	for _, s := range l.servers {
		fmt.Fprintf(&y, "  - name: %s\n    address: %s\n    port: %d\n    workdir: %q\n    lock_dir: %q\n    slots: %d\n", s.Name, s.Host, s.Port, s.Workdir, s.LockDir, l.slots)
	}
	name := "hosts-direct.yaml"
	if proxyJump != "" {
		name = "hosts-jump.yaml"
	}
	return mustWriteFile(tb, filepath.Join(mustMkdirTemp(tb, dir, "jump-"), name), y.String(), 0o644)
}

// fmtList formats ratios as "1.02, 0.98, 1.05".
func fmtList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.3f", x)
	}
	return strings.Join(parts, ", ")
}
