package hostcheck

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/sshtest"
)

// TestCheckThroughGateway checks a host behind a gateway: the report
// shows the route; with the gateway's key changed, or the gateway down,
// the one problem names the gateway and gives the gateway's fix.
func TestCheckThroughGateway(t *testing.T) {
	servers, keys := sshtest.Start(t, 2, sshtest.Options{SkipBashrc: true})
	gw, target := servers[0], servers[1]
	h := sshHost(target, keys, keys.KnownHosts)
	h.Jump = []hosts.Hop{{Name: gw.Name, Address: gw.Host, Port: gw.Port, User: keys.User, IdentityFile: keys.IdentityFile, KnownHosts: []string{keys.KnownHosts}}}
	opts := Options{Timeout: 20 * time.Second, HostsFile: "hosts.yaml"}
	route := "via " + gw.Name

	r := CheckHost(context.Background(), h, opts)
	if r.Verdict == Fail || !r.Reachable || r.Route != route || r.FailedHop != "" || r.PythonVersion == "" {
		t.Fatalf("through the gateway: %+v", r)
	}

	restore := gw.RotateHostKey(t)
	r = CheckHost(context.Background(), h, opts)
	wantFix := fmt.Sprintf("ssh-keygen -R '[127.0.0.1]:%d'", gw.Port)
	if r.Verdict != Fail || r.FailedHop != gw.Name || r.Reachable || len(r.Problems) != 1 ||
		!strings.HasPrefix(r.Problems[0].Problem, "gateway "+gw.Name+" (on the way "+route+"): host key CHANGED") ||
		!strings.Contains(r.Problems[0].Fix, wantFix) {
		t.Errorf("gateway key changed: %+v, want one problem naming %s with the fix %q", r, gw.Name, wantFix)
	}
	restore()

	gw.Stop()
	r = CheckHost(context.Background(), h, opts)
	if r.Verdict != Fail || r.FailedHop != gw.Name || len(r.Problems) != 1 ||
		!strings.Contains(r.Problems[0].Problem, "gateway "+gw.Name) || !strings.Contains(r.Problems[0].Problem, "unreachable") {
		t.Errorf("gateway down: %+v", r)
	}
}
