package hosts

import (
	"context"
	"errors"
	"github.com/mljob/mljob/internal/testdep"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// mustSSH returns the ssh binary, which the alias tests run as `ssh -G`
// (no connection is made). Without it the test fails when CI is set and
// skips loudly otherwise.
func mustSSH(tb testing.TB) string {
	tb.Helper()
	testdep.Require(tb, "the ssh config tests need OpenSSH's client: install openssh-client", "ssh")
	p, err := testdep.LookPath("ssh")
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// writeFile writes content to path, creating its directory.
func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func TestResolveAlias(t *testing.T) {
	ssh := mustSSH(t)
	home := t.TempDir()
	key := filepath.Join(home, "key")
	writeFile(t, key, "not really a key\n")
	// A default key name that exists: ssh -G lists it even though no config
	// names it, and it must not be taken as the host's identity file.
	writeFile(t, filepath.Join(home, ".ssh", "id_ed25519"), "default key\n")
	writeFile(t, filepath.Join(home, ".ssh", "config"), strings.Join([]string{
		"Host lab",
		" HostName 127.0.0.1",
		" Port 2222",
		" User bob",
		" IdentityFile " + key,
		"",
		"Host strict",
		" HostName 127.0.0.2",
		" UserKnownHostsFile " + home + "/kh1 " + home + "/kh2",
		"",
		"Host missingkey",
		" HostName 127.0.0.3",
		" IdentityFile " + home + "/nope",
		"",
	}, "\n"))
	// ssh -G answers with the process's login name when no config names a
	// user, so the expected local user is the real one.
	me := DefaultResolver().User
	r := Resolver{SSH: ssh, Home: home, User: me}
	defaultKH := []string{home + "/.ssh/known_hosts"}

	type conn struct {
		Address      string
		Port         int
		User         string
		IdentityFile string
		KnownHosts   []string
	}
	tests := []struct {
		name string
		src  string
		want conn
	}{
		{
			name: "alias fills address, port, user and key",
			src:  "hosts:\n  - name: lab\n    address: lab\n",
			want: conn{"127.0.0.1", 2222, "bob", key, defaultKH},
		},
		{
			name: "explicit host values beat the alias",
			src: "hosts:\n  - name: lab\n    address: lab\n    port: 2200\n    user: carol\n" +
				"    identity_file: ~/other\n    known_hosts: ~/mine\n",
			want: conn{"127.0.0.1", 2200, "carol", home + "/other", []string{home + "/mine"}},
		},
		{
			name: "defaults beat the alias too",
			src:  "defaults:\n  user: dave\n  identity_file: \"\"\nhosts:\n  - name: lab\n    address: lab\n",
			want: conn{"127.0.0.1", 2222, "dave", "", defaultKH},
		},
		{
			name: "config known hosts files are used",
			src:  "hosts:\n  - name: s\n    address: strict\n",
			want: conn{"127.0.0.2", 22, me, "", []string{home + "/kh1", home + "/kh2"}},
		},
		{
			name: "a configured key that does not exist is ignored",
			src:  "hosts:\n  - name: m\n    address: missingkey\n",
			want: conn{"127.0.0.3", 22, me, "", defaultKH},
		},
		{
			name: "no alias: address kept, port 22, local user",
			src:  "hosts:\n  - name: plain\n    address: 10.1.2.3\n",
			want: conn{"10.1.2.3", 22, me, "", defaultKH},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, r, tt.src)
			h := f.Hosts[0]
			got := conn{h.Address, h.Port, h.User, h.IdentityFile, h.KnownHosts}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("resolved %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestResolveBadConfig(t *testing.T) {
	ssh := mustSSH(t)
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".ssh", "config"), "Host lab\n NoSuchOption yes\n")
	r := Resolver{SSH: ssh, Home: home, User: "tester"}
	_, err := r.Parse(context.Background(), "hosts.yaml", []byte("hosts:\n  - name: lab\n    address: lab\n"))
	if err == nil {
		t.Fatal("Parse with a broken ssh config succeeded, want an error")
	}
	if msg := err.Error(); !strings.HasPrefix(msg, `hosts.yaml:2: host "lab": resolve "lab" with ssh -G: `) {
		t.Errorf("error = %q, want it to name the file, line, host and ssh -G", msg)
	}
}

func TestParseSSHG(t *testing.T) {
	out := "host lab\nuser bob\nhostname 127.0.0.1\nport 2222\nidentityfile ~/.ssh/id_rsa\n" +
		"identityfile /k/lab\nuserknownhostsfile /h/.ssh/known_hosts /h/.ssh/known_hosts2\n"
	got, err := parseSSHG([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := sshConfig{
		hostname:      "127.0.0.1",
		port:          2222,
		user:          "bob",
		knownHosts:    []string{"/h/.ssh/known_hosts", "/h/.ssh/known_hosts2"},
		identityFiles: []string{"~/.ssh/id_rsa", "/k/lab"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseSSHG = %+v, want %+v", got, want)
	}
	if _, err := parseSSHG([]byte("port twenty\n")); err == nil {
		t.Error("parseSSHG accepted a non-numeric port")
	}
}

func TestIsDefaultKnownHosts(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  bool
	}{
		{"openssh default", []string{"/home/alice/.ssh/known_hosts", "/home/alice/.ssh/known_hosts2"}, true},
		{"none", nil, true},
		{"one file", []string{"/home/alice/.ssh/known_hosts"}, false},
		{"other dir", []string{"/a/known_hosts", "/a/known_hosts2"}, false},
		{"reordered", []string{"/r/.ssh/known_hosts2", "/r/.ssh/known_hosts"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isDefaultKnownHosts(tt.files); got != tt.want {
				t.Errorf("isDefaultKnownHosts(%q) = %v, want %v", tt.files, got, tt.want)
			}
		})
	}
}

func TestResolveCancelled(t *testing.T) {
	ssh := mustSSH(t)
	r := Resolver{SSH: ssh, Home: t.TempDir(), User: "tester"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Parse(ctx, "hosts.yaml", []byte("hosts:\n  - name: a\n    address: a\n"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Parse with a cancelled context = %v, want context.Canceled", err)
	}
	if errors.Is(err, ErrInvalid) {
		t.Errorf("a cancelled resolve is not an invalid file: %v", err)
	}
}
