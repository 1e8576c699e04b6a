package engines

import (
	"testing"

	"github.com/mljob/mljob/internal/hosts"
)

// TestSSHConfigRoute checks that an entry's gateways become Configs
// chained from the host back to this machine, each with its own keys,
// and that sshconn tells the route as hosts does.
func TestSSHConfigRoute(t *testing.T) {
	h := hosts.Host{
		Name: "gpu", Address: "10.0.0.5", Port: 22, User: "alice", KnownHosts: []string{"/kh"},
		Jump: []hosts.Hop{
			{Name: "gw1", Address: "1.1.1.1", Port: 22, User: "a", KnownHosts: []string{"/kh1"}, ProxyCommand: "iap %h"},
			{Name: "bob@gw2:2022", Address: "gw2", Port: 2022, User: "bob", IdentityFile: "/k2", KnownHosts: []string{"/kh2"}},
		},
	}
	cfg := SSHConfig(h)
	if cfg.Jump == nil || cfg.Jump.Name != "bob@gw2:2022" || cfg.Jump.IdentityFile != "/k2" || cfg.Jump.Port != 2022 {
		t.Fatalf("host's jump = %+v, want gw2", cfg.Jump)
	}
	first := cfg.Jump.Jump
	if first == nil || first.Name != "gw1" || first.KnownHosts[0] != "/kh1" || first.ProxyCommand != "iap %h" || first.Jump != nil {
		t.Fatalf("gw2's jump = %+v, want gw1 reached through its proxy command", first)
	}
	if got, want := cfg.Route(), h.Route(); got != want || got != "via proxy command, gw1, bob@gw2:2022" {
		t.Errorf("sshconn route %q, hosts route %q", got, want)
	}
	if direct := SSHConfig(hosts.Host{Name: "d", Address: "d"}); direct.Jump != nil || direct.Route() != "" {
		t.Errorf("a direct host: %+v", direct)
	}
}
