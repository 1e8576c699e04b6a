package hosts

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestResolveRoute resolves ProxyJump and ProxyCommand through `ssh -G`
// (no connection is made), with the hosts file's proxy_jump and
// proxy_command winning over the ssh config.
func TestResolveRoute(t *testing.T) {
	ssh := mustSSH(t)
	home := t.TempDir()
	key := filepath.Join(home, "gwkey")
	writeFile(t, key, "not really a key\n")
	writeFile(t, filepath.Join(home, ".ssh", "config"), strings.Join([]string{
		"Host gw",
		" HostName 127.0.0.9",
		" Port 2201",
		" User gwuser",
		" IdentityFile " + key,
		" UserKnownHostsFile " + home + "/gw_known",
		"Host gw2",
		" HostName 127.0.0.10",
		" ProxyJump gw",
		"Host tgt",
		" HostName 10.0.0.5",
		" ProxyJump gw",
		"Host two",
		" ProxyJump gw,carol@other:2022",
		"Host deep",
		" ProxyJump gw2",
		"Host pc",
		" ProxyCommand ssh -W %h:%p gw",
		"Host tunnelled",
		" ProxyCommand iap-tunnel %h",
		"Host behindtunnel",
		" ProxyJump tunnelled",
		"Host loopa",
		" ProxyJump loopb",
		"Host loopb",
		" ProxyJump loopa",
		"",
	}, "\n"))
	me := DefaultResolver().User
	r := Resolver{SSH: ssh, Home: home, User: me}
	defaultKH := []string{home + "/.ssh/known_hosts"}
	gw := Hop{Name: "gw", Address: "127.0.0.9", Port: 2201, User: "gwuser", IdentityFile: key, KnownHosts: []string{home + "/gw_known"}}

	type route struct {
		Address      string
		Jump         []Hop
		ProxyCommand string
		Route        string
	}
	tests := []struct {
		name string
		src  string
		want route
	}{
		{
			name: "ProxyJump from the ssh config, the gateway resolved by its own block",
			src:  "hosts:\n  - name: t\n    address: tgt\n",
			want: route{"10.0.0.5", []Hop{gw}, "", "via gw"},
		},
		{
			name: "two hops, the second with its user and port",
			src:  "hosts:\n  - name: t\n    address: two\n",
			want: route{"two", []Hop{gw, {Name: "carol@other:2022", Address: "other", Port: 2022, User: "carol", KnownHosts: defaultKH}}, "", "via gw, carol@other:2022"},
		},
		{
			name: "the first gateway's own ProxyJump is followed",
			src:  "hosts:\n  - name: t\n    address: deep\n",
			want: route{"deep", []Hop{gw, {Name: "gw2", Address: "127.0.0.10", Port: 22, User: me, KnownHosts: defaultKH}}, "", "via gw, gw2"},
		},
		{
			name: "ProxyCommand from the ssh config, tokens left for the dial",
			src:  "hosts:\n  - name: t\n    address: pc\n",
			want: route{"pc", nil, "ssh -W %h:%p gw", "via proxy command"},
		},
		{
			name: "the first gateway's ProxyCommand",
			src:  "hosts:\n  - name: t\n    address: behindtunnel\n",
			want: route{"behindtunnel", []Hop{{Name: "tunnelled", Address: "tunnelled", Port: 22, User: me, KnownHosts: defaultKH, ProxyCommand: "iap-tunnel %h"}}, "", "via proxy command, tunnelled"},
		},
		{
			name: "proxy_jump: none beats the config",
			src:  "hosts:\n  - name: t\n    address: tgt\n    proxy_jump: none\n",
			want: route{"10.0.0.5", nil, "", ""},
		},
		{
			name: "the hosts file's proxy_command beats the config's ProxyJump",
			src:  "hosts:\n  - name: t\n    address: tgt\n    proxy_command: nc %h %p\n",
			want: route{"10.0.0.5", nil, "nc %h %p", "via proxy command"},
		},
		{
			name: "defaults' proxy_jump, the hop's known_hosts the entry's",
			src:  "defaults:\n  proxy_jump: bob@10.1.1.1:2200\n  known_hosts: ~/lab_known\nhosts:\n  - name: t\n    address: 10.2.2.2\n",
			want: route{"10.2.2.2", []Hop{{Name: "bob@10.1.1.1:2200", Address: "10.1.1.1", Port: 2200, User: "bob", KnownHosts: []string{home + "/lab_known"}}}, "", "via bob@10.1.1.1:2200"},
		},
		{
			name: "an entry's proxy_command beats the defaults' proxy_jump",
			src:  "defaults:\n  proxy_jump: gw\nhosts:\n  - name: t\n    address: 10.2.2.2\n    proxy_command: nc %h %p\n",
			want: route{"10.2.2.2", nil, "nc %h %p", "via proxy command"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustParse(t, r, tt.src).Hosts[0]
			got := route{h.Address, h.Jump, h.ProxyCommand, h.Route()}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("resolved\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}

	t.Run("gateways that name each other", func(t *testing.T) {
		_, err := r.Parse(context.Background(), "hosts.yaml", []byte("hosts:\n  - name: t\n    address: loopa\n"))
		if err == nil || !strings.Contains(err.Error(), "more than 8 gateways") {
			t.Fatalf("Parse = %v, want the loop refused", err)
		}
	})
}

// TestRouteProblems checks proxy_jump and proxy_command as written.
func TestRouteProblems(t *testing.T) {
	r := Resolver{Home: t.TempDir(), User: "tester"}
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"both", "hosts:\n  - name: t\n    address: a\n    proxy_jump: gw\n    proxy_command: nc %h %p\n", `hosts.yaml:5: host "t": give proxy_jump or proxy_command, not both`},
		{"empty jump", "hosts:\n  - name: t\n    address: a\n    proxy_jump: \"\"\n", `hosts.yaml:4: host "t": proxy_jump is empty`},
		{"empty command", "defaults:\n  proxy_command: \"\"\nhosts:\n  - name: t\n    address: a\n", `hosts.yaml:2: defaults: proxy_command is empty`},
		{"bad port", "hosts:\n  - name: t\n    address: a\n    proxy_jump: gw:99999\n", `hosts.yaml:4: host "t": proxy_jump hop "gw:99999": port must be 1-65535`},
		{"option", "hosts:\n  - name: t\n    address: a\n    proxy_jump: -oProxyCommand=x\n", `hosts.yaml:4: host "t": proxy_jump hop "-oProxyCommand=x": not [user@]host[:port]`},
		{"space", "hosts:\n  - name: t\n    address: a\n    proxy_jump: gw, bad host\n", `proxy_jump hop "bad host": not [user@]host[:port]`},
		{"local entry", "hosts:\n  - name: t\n    kind: slurm\n    local: true\n    proxy_jump: gw\n", `hosts.yaml:5: host "t": proxy_jump: a local: true entry is not reached over SSH`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Parse(context.Background(), "hosts.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestResolveCertificates: a CertificateFile of the ssh config, and a
// certificate beside one of OpenSSH's default keys (for the agent's copy
// of the key), are offered when they exist.
func TestResolveCertificates(t *testing.T) {
	ssh := mustSSH(t)
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".ssh", "id_ed25519-cert.pub"), "cert\n")
	writeFile(t, filepath.Join(home, "lab-cert.pub"), "cert\n")
	writeFile(t, filepath.Join(home, ".ssh", "config"),
		"Host lab\n CertificateFile ~/lab-cert.pub\n CertificateFile ~/missing-cert.pub\n")
	r := Resolver{SSH: ssh, Home: home, User: "tester"}
	h := mustParse(t, r, "hosts:\n  - name: lab\n    address: lab\n").Hosts[0]
	want := []string{home + "/lab-cert.pub", home + "/.ssh/id_ed25519-cert.pub"}
	if !reflect.DeepEqual(h.CertificateFiles, want) {
		t.Errorf("CertificateFiles = %q, want %q", h.CertificateFiles, want)
	}
}
