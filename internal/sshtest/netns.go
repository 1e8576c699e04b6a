package sshtest

import (
	"fmt"
	"github.com/mljob/mljob/internal/testdep"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// Netns is a network namespace joined to this one by a veth pair on a
// private /30 (in 10.231.0.0/16) that exists only between the two ends:
// traffic to Addr reaches nothing but what the test starts in the
// namespace. Down and Up cut and restore the link, a network partition
// that leaves the processes on both sides running.
type Netns struct {
	Name     string // the namespace, for Options.Netns
	Link     string // the veth end in this namespace
	HostAddr string // this side's address
	Addr     string // the address inside the namespace, for Options.Address

	peer   string // the veth end inside the namespace, which Down and Up switch
	subnet string // the /30
}

// netnsSeq tells apart the namespaces of one test process.
var netnsSeq atomic.Int32

// NewNetns creates a namespace and its link and registers a cleanup that
// deletes both. It needs root and iproute2's ip: without ip it fails when
// CI is set and skips loudly otherwise; as a non-root user, or where the
// kernel or a sandbox refuses namespaces, it skips with the reason.
func NewNetns(tb testing.TB) *Netns {
	tb.Helper()
	testdep.Require(tb, "install iproute2", "ip")
	if os.Geteuid() != 0 {
		tb.Skipf("NETNS TEST NOT RUN: network namespaces need root (euid %d)", os.Geteuid())
	}
	// The pid spreads concurrent test processes over the /16; seq tells
	// apart the namespaces of this one.
	idx := (os.Getpid()%2048)*8 + int(netnsSeq.Add(1)%8)
	base := idx * 4
	n := &Netns{
		Name:     fmt.Sprintf("mljob-test-%d", idx),
		Link:     fmt.Sprintf("mjh%d", idx),
		HostAddr: fmt.Sprintf("10.231.%d.%d", base/256, base%256+1),
		Addr:     fmt.Sprintf("10.231.%d.%d", base/256, base%256+2),
		peer:     fmt.Sprintf("mjp%d", idx),
		subnet:   fmt.Sprintf("10.231.%d.%d/30", base/256, base%256),
	}
	peer := n.peer
	if out, err := ipCmd("netns", "add", n.Name); err != nil {
		if strings.Contains(out, "Operation not permitted") || strings.Contains(out, "Permission denied") {
			tb.Skipf("NETNS TEST NOT RUN: the kernel or sandbox refuses network namespaces: ip netns add: %v: %s", err, out)
		}
		tb.Fatalf("sshtest: ip netns add %s: %v: %s", n.Name, err, out)
	}
	tb.Cleanup(func() {
		// Deleting the namespace deletes the veth end in it, and so the
		// pair; the link delete covers a setup that failed half way.
		if out, err := ipCmd("netns", "del", n.Name); err != nil {
			tb.Errorf("sshtest: ip netns del %s: %v: %s", n.Name, err, out)
		}
		_, _ = ipCmd("link", "del", n.Link)
		if out, err := ipCmd("route", "del", "unreachable", n.subnet, "metric", fallbackMetric); err != nil {
			tb.Errorf("sshtest: ip route del unreachable %s: %v: %s", n.subnet, err, out)
		}
	})
	for _, args := range [][]string{
		// WARNING: without this route, traffic to the /30 would follow the
		// default route off the machine whenever the link's own route is
		// gone; with it, such traffic fails here.
		{"route", "add", "unreachable", n.subnet, "metric", fallbackMetric},
		{"link", "add", n.Link, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", n.Name},
		{"addr", "add", n.HostAddr + "/30", "dev", n.Link},
		{"link", "set", n.Link, "up"},
		{"-n", n.Name, "addr", "add", n.Addr + "/30", "dev", peer},
		{"-n", n.Name, "link", "set", peer, "up"},
		{"-n", n.Name, "link", "set", "lo", "up"},
	} {
		if out, err := ipCmd(args...); err != nil {
			tb.Fatalf("sshtest: ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return n
}

// fallbackMetric ranks the unreachable route for the /30 below the link's
// own route (metric 0), so it only counts when the link's route is gone.
const fallbackMetric = "1000000"

// Down cuts the link at the far end, as a pulled cable would: this side
// loses carrier, packets either way are dropped, and established
// connections stall without a reset.
func (n *Netns) Down(tb testing.TB) {
	tb.Helper()
	if out, err := ipCmd("-n", n.Name, "link", "set", n.peer, "down"); err != nil {
		tb.Fatalf("sshtest: link %s in %s down: %v: %s", n.peer, n.Name, err, out)
	}
}

// Up restores the link; the kernel puts the /30's routes back with it.
func (n *Netns) Up(tb testing.TB) {
	tb.Helper()
	if out, err := ipCmd("-n", n.Name, "link", "set", n.peer, "up"); err != nil {
		tb.Fatalf("sshtest: link %s in %s up: %v: %s", n.peer, n.Name, err, out)
	}
}

func ipCmd(args ...string) (string, error) {
	out, err := exec.Command(mustIP(), args...).CombinedOutput()
	return string(out), err
}

// mustIP is the path of iproute2's ip, or "ip" for exec to report.
func mustIP() string {
	p, err := testdep.LookPath("ip")
	if err != nil {
		return "ip"
	}
	return p
}
