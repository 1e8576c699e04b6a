package sshconn_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sync/errgroup"

	"github.com/mljob/mljob/internal/proctree"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshtest"
)

// MustDial dials cfg with no ssh-agent in sight, unless the test set
// SSH_AUTH_SOCK itself, and closes the client at cleanup.
func MustDial(tb testing.TB, cfg sshconn.Config) *sshconn.Client {
	tb.Helper()
	c, err := sshconn.Dial(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return c
}

// NoAgent hides the developer's ssh-agent so tests use only the key files
// they name.
func NoAgent(tb testing.TB) {
	tb.Helper()
	if t, ok := tb.(*testing.T); ok {
		t.Setenv("SSH_AUTH_SOCK", "")
	}
}

// lineWriter is a stdout that hands over its first line, so a test knows
// the remote command is running without sleeping.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	sent  bool
	Lines chan string // the first line, once
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if line, _, ok := strings.Cut(w.buf.String(), "\n"); ok && !w.sent {
		w.sent = true
		w.Lines <- line
	}
	return len(p), nil
}

// StartSleep runs "sleep seconds" on c in the background and returns once
// it runs, with the channel Exec's error arrives on and the remote pids of
// the sleep and of its parent. The hosts are this machine, so the sleep
// is killed at cleanup: it outlives a lost or cancelled session, as
// detached runs must.
func StartSleep(tb testing.TB, ctx context.Context, c *sshconn.Client, seconds int) (done <-chan error, pid, ppid int) {
	tb.Helper()
	stdout := &lineWriter{Lines: make(chan string, 1)}
	errc := make(chan error, 1)
	go func() {
		errc <- c.Exec(ctx, []string{"sh", "-c", `echo "$$ $PPID"; exec sleep "$1"`, "sh", strconv.Itoa(seconds)}, nil, stdout, nil)
	}()
	var line string
	select {
	case line = <-stdout.Lines:
	case err := <-errc:
		tb.Fatalf("sleep ended before it started: %v", err)
	case <-time.After(10 * time.Second): // a safety net for a broken test, not a synchronisation
		tb.Fatal("remote sleep not started after 10s")
	}
	if _, err := fmt.Sscan(line, &pid, &ppid); err != nil {
		tb.Fatalf("pids %q: %v", line, err)
	}
	tb.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	return errc, pid, ppid
}

// Await returns the error from done, failing the test after 10s.
func Await(tb testing.TB, done <-chan error, what string) error {
	tb.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		tb.Fatalf("Exec still waiting 10s after %s", what)
		return nil
	}
}

func TestExec(t *testing.T) {
	NoAgent(t)
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	c := MustDial(t, servers[0].Config(keys))
	hostile := "it's $(id) `id` \"$HOME\" *\n; rm -rf ~"

	tests := []struct {
		name       string
		argv       []string
		stdin      string
		wantStdout string
		wantStderr string
		wantExit   *sshconn.ExitError
	}{
		{name: "stdin to stdout", argv: []string{"cat"}, stdin: "hello\nworld\n", wantStdout: "hello\nworld\n"},
		{name: "hostile argument arrives intact", argv: []string{"printf", "%s", hostile}, wantStdout: hostile},
		{name: "empty argument keeps its place", argv: []string{"printf", "[%s]", "", "x"}, wantStdout: "[][x]"},
		{name: "stderr", argv: []string{"sh", "-c", "echo oops >&2"}, wantStderr: "oops\n"},
		{name: "exit 3", argv: []string{"sh", "-c", "echo partial; exit 3"}, wantStdout: "partial\n", wantExit: &sshconn.ExitError{Code: 3}},
		{name: "killed by signal", argv: []string{"sh", "-c", "kill -KILL $$"}, wantExit: &sshconn.ExitError{Code: 137, Signal: "KILL"}},
		{name: "missing command", argv: []string{"mljob-no-such-command"}, wantExit: &sshconn.ExitError{Code: 127}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := c.Exec(context.Background(), tc.argv, strings.NewReader(tc.stdin), &stdout, &stderr)
			if tc.wantExit == nil {
				if err != nil {
					t.Fatalf("Exec: %v (stderr %q)", err, stderr.String())
				}
			} else {
				var ee *sshconn.ExitError
				if !errors.As(err, &ee) || *ee != *tc.wantExit {
					t.Fatalf("Exec error = %#v, want %#v", err, tc.wantExit)
				}
				if errors.Is(err, sshconn.ErrConnLost) {
					t.Errorf("an exit status is not a lost connection: %v", err)
				}
			}
			if stdout.String() != tc.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tc.wantStdout)
			}
			if tc.name != "missing command" && stderr.String() != tc.wantStderr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tc.wantStderr)
			}
		})
	}

	t.Run("nil streams", func(t *testing.T) {
		if err := c.Exec(context.Background(), []string{"echo", "discarded"}, nil, nil, nil); err != nil {
			t.Fatalf("Exec: %v", err)
		}
	})
	t.Run("empty argv", func(t *testing.T) {
		if err := c.Exec(context.Background(), nil, nil, nil, nil); err == nil {
			t.Fatal("Exec(nil argv) succeeded")
		}
	})
}

// fingerprint returns the SHA256 fingerprint of an authorized_keys line.
func fingerprint(tb testing.TB, line string) string {
	tb.Helper()
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		tb.Fatalf("parse %q: %v", line, err)
	}
	return ssh.FingerprintSHA256(k)
}

// otherKeyLine returns a known_hosts line giving addr a fresh ed25519 key
// that no server has.
func otherKeyLine(tb testing.TB, addr string) string {
	tb.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return addr + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func TestHostKeys(t *testing.T) {
	NoAgent(t)
	servers, keys := sshtest.Start(t, 2, sshtest.Options{SkipBashrc: true})
	s, other := servers[0], servers[1]
	addr := fmt.Sprintf("[127.0.0.1]:%d", s.Port)
	offered := fingerprint(t, s.HostPublicKey)

	tests := []struct {
		name       string
		knownHosts string // file contents
		wantErr    error
		wantLine   int      // HostKeyError.Line
		wantHint   []string // substrings of Hint
	}{
		{
			name:       "known",
			knownHosts: other.KnownHostsLine + "\n" + s.KnownHostsLine + "\n",
		},
		{
			name:       "unknown host",
			knownHosts: other.KnownHostsLine + "\n",
			wantErr:    sshconn.ErrUnknownHost,
			wantHint:   []string{"check the fingerprint, then: ssh-keyscan -p " + strconv.Itoa(s.Port) + " -t ed25519 127.0.0.1 >> "},
		},
		{
			name:       "changed key",
			knownHosts: "# first line is a comment\n" + otherKeyLine(t, addr) + "\n" + other.KnownHostsLine + "\n",
			wantErr:    sshconn.ErrHostKeyChanged,
			wantLine:   2,
			wantHint:   []string{"if the host was really reinstalled: ssh-keygen -R '" + addr + "' -f ", ", then verify and add the new key"},
		},
		{
			name:       "key filed under port 22 does not count for another port",
			knownHosts: strings.Replace(s.KnownHostsLine, addr, "127.0.0.1", 1) + "\n",
			wantErr:    sshconn.ErrUnknownHost,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(file, []byte(tc.knownHosts), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := s.Config(keys)
			cfg.KnownHosts = []string{file}
			c, err := sshconn.Dial(context.Background(), cfg)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer c.Close()
				if err := c.Exec(context.Background(), []string{"true"}, nil, nil, nil); err != nil {
					t.Fatalf("Exec: %v", err)
				}
				return
			}
			if c != nil {
				c.Close()
				t.Fatalf("Dial succeeded, want %v", tc.wantErr)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Dial error = %v, want %v", err, tc.wantErr)
			}
			var hk *sshconn.HostKeyError
			if !errors.As(err, &hk) {
				t.Fatalf("Dial error %v is not a *HostKeyError", err)
			}
			want := sshconn.HostKeyError{
				Host: s.Name, Address: addr, KnownHosts: file, Fingerprint: offered, KeyType: "ssh-ed25519",
				Changed: tc.wantErr == sshconn.ErrHostKeyChanged, Line: tc.wantLine,
			}
			if *hk != want {
				t.Errorf("HostKeyError = %+v, want %+v", *hk, want)
			}
			for _, msg := range []string{err.Error(), hk.Error()} {
				if !strings.Contains(msg, addr) || !strings.Contains(msg, offered) {
					t.Errorf("message %q lacks the address or fingerprint", msg)
				}
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("dial %s (127.0.0.1:%d): ", s.Name, s.Port)) {
				t.Errorf("error %q does not name the host", err)
			}
			for _, h := range tc.wantHint {
				if !strings.Contains(hk.Hint(), h) || !strings.Contains(hk.Hint(), file) {
					t.Errorf("Hint() = %q, want it to contain %q and %q", hk.Hint(), h, file)
				}
			}
		})
	}

	t.Run("hint works", func(t *testing.T) {
		sshtest.Require(t, "ssh-keyscan", "ssh-keygen")
		// Run the hints as a user would paste them: trust an unknown host,
		// then "reinstall" it (replace its key) and remove the old key.
		file := filepath.Join(t.TempDir(), "known hosts") // a space, to test the quoting
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := s.Config(keys)
		cfg.KnownHosts = []string{file}
		_, err := sshconn.Dial(context.Background(), cfg)
		var hk *sshconn.HostKeyError
		if !errors.As(err, &hk) {
			t.Fatalf("Dial error = %v, want a *HostKeyError", err)
		}
		_, cmd, _ := strings.Cut(hk.Hint(), "then: ")
		if out, err := exec.Command("/bin/sh", "-c", cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		c := MustDial(t, cfg)
		if err := c.Exec(context.Background(), []string{"true"}, nil, nil, nil); err != nil {
			t.Fatalf("Exec after trusting: %v", err)
		}

		if err := os.WriteFile(file, []byte(otherKeyLine(t, addr)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = sshconn.Dial(context.Background(), cfg)
		if !errors.As(err, &hk) || !hk.Changed {
			t.Fatalf("Dial error = %v, want a changed key", err)
		}
		cmd = strings.TrimPrefix(hk.Hint(), "if the host was really reinstalled: ")
		cmd, _, _ = strings.Cut(cmd, ", then")
		if out, err := exec.Command("/bin/sh", "-c", cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		_, err = sshconn.Dial(context.Background(), cfg)
		if !errors.Is(err, sshconn.ErrUnknownHost) {
			t.Fatalf("after ssh-keygen -R, Dial error = %v, want ErrUnknownHost", err)
		}
	})

	t.Run("missing named known_hosts", func(t *testing.T) {
		cfg := s.Config(keys)
		cfg.KnownHosts = []string{filepath.Join(t.TempDir(), "nope")}
		_, err := sshconn.Dial(context.Background(), cfg)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Dial error = %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("missing default known_hosts is empty", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv("HOME", home)
		cfg := s.Config(keys)
		cfg.KnownHosts = nil
		_, err := sshconn.Dial(context.Background(), cfg)
		var hk *sshconn.HostKeyError
		if !errors.As(err, &hk) || hk.Changed {
			t.Fatalf("Dial error = %v, want an unknown host", err)
		}
		if want := filepath.Join(home, ".ssh", "known_hosts"); hk.KnownHosts != want {
			t.Errorf("KnownHosts = %q, want %q", hk.KnownHosts, want)
		}
	})
}

// TestHostKeyAlgorithms checks a host with both rsa and ed25519 host keys
// against known_hosts files holding only one of them. x/crypto by default
// prefers RSA, so the ed25519-only case fails as a "changed key" unless
// HostKeyAlgorithms is set from known_hosts (melbahja/goph issue 80).
func TestHostKeyAlgorithms(t *testing.T) {
	NoAgent(t)
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true, ExtraHostKeyTypes: []string{"rsa"}})
	s := servers[0]
	tests := []struct {
		name  string
		lines []string
	}{
		{"rsa only", []string{s.HostKeyLines["ssh-rsa"]}},
		{"ed25519 only", []string{s.HostKeyLines["ssh-ed25519"]}},
		{"both", []string{s.HostKeyLines["ssh-ed25519"], s.HostKeyLines["ssh-rsa"]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, l := range tc.lines {
				if l == "" {
					t.Fatalf("server lacks a host key: %v", s.HostKeyLines)
				}
			}
			file := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(file, []byte(strings.Join(tc.lines, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := s.Config(keys)
			cfg.KnownHosts = []string{file}
			c := MustDial(t, cfg)
			if err := c.Exec(context.Background(), []string{"true"}, nil, nil, nil); err != nil {
				t.Fatalf("Exec: %v", err)
			}
		})
	}
}

func TestSharedConnection(t *testing.T) {
	NoAgent(t)
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	c := MustDial(t, servers[0].Config(keys))

	// SSH_CONNECTION is "client_ip client_port server_ip server_port": one
	// TCP connection means one client port across all sessions.
	const n = 20
	conns := make([]string, n)
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			var out bytes.Buffer
			argv := []string{"sh", "-c", `echo "$1 $SSH_CONNECTION"`, "sh", strconv.Itoa(i)}
			if err := c.Exec(context.Background(), argv, nil, &out, nil); err != nil {
				return fmt.Errorf("exec %d: %w", i, err)
			}
			idx, conn, _ := strings.Cut(strings.TrimSpace(out.String()), " ")
			if idx != strconv.Itoa(i) {
				return fmt.Errorf("exec %d got output of %q", i, out.String())
			}
			conns[i] = conn
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for i, conn := range conns {
		if conn == "" || conn != conns[0] {
			t.Fatalf("exec %d ran on connection %q, exec 0 on %q", i, conn, conns[0])
		}
	}
}

func TestConnLost(t *testing.T) {
	NoAgent(t)
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	s := servers[0]
	cfg := s.Config(keys)
	cfg.KeepAlive = time.Hour // the loss must be seen without the keepalive's help
	c := MustDial(t, cfg)

	done, _, _ := StartSleep(t, context.Background(), c, 60)
	s.Stop()
	err := Await(t, done, "the host vanished")
	if !errors.Is(err, sshconn.ErrConnLost) {
		t.Fatalf("Exec error = %v, want ErrConnLost", err)
	}
	var ee *sshconn.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("a lost connection reported as an exit: %v", err)
	}
	if !strings.Contains(err.Error(), s.Name) {
		t.Errorf("error %q does not name the host", err)
	}

	// While the host is down the next Exec fails to dial, naming the host.
	err = c.Exec(context.Background(), []string{"true"}, nil, nil, nil)
	if want := fmt.Sprintf("dial %s (127.0.0.1:%d): ", s.Name, s.Port); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Exec with the host down = %v, want an error starting %q", err, want)
	}

	s.Restart(t)
	var out bytes.Buffer
	if err := c.Exec(context.Background(), []string{"echo", "back"}, nil, &out, nil); err != nil {
		t.Fatalf("Exec after Restart: %v", err)
	}
	if out.String() != "back\n" {
		t.Errorf("stdout = %q, want %q", out.String(), "back\n")
	}
}

func TestKeepAliveDetectsLoss(t *testing.T) {
	NoAgent(t)
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	s := servers[0]
	cfg := s.Config(keys)
	cfg.KeepAlive = 100 * time.Millisecond
	c := MustDial(t, cfg)

	// SIGSTOP freezes the host with the TCP connection open: no FIN, no
	// RST, as when a laptop's wifi drops. Only the keepalive can notice.
	done, _, sessionPid := StartSleep(t, context.Background(), c, 60)
	stopped := sessionSSHD(t, sessionPid)
	for _, p := range stopped {
		if err := syscall.Kill(p, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, p := range stopped {
			_ = syscall.Kill(p, syscall.SIGCONT)
		}
	})

	if err := Await(t, done, "the host froze"); !errors.Is(err, sshconn.ErrConnLost) {
		t.Fatalf("Exec error = %v, want ErrConnLost", err)
	}
}

func TestCancel(t *testing.T) {
	NoAgent(t)
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	c := MustDial(t, servers[0].Config(keys))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, pid, _ := StartSleep(t, ctx, c, 30)
	start := time.Now()
	cancel()
	err := Await(t, done, "cancel")
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Exec returned %v after cancel", elapsed)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Exec error = %v, want context.Canceled", err)
	}
	// The remote process goes on: detached runs rely on that.
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("remote sleep gone after cancel: %v", err)
	}

	// The connection stays usable for the next command.
	if err := c.Exec(context.Background(), []string{"true"}, nil, nil, nil); err != nil {
		t.Fatalf("Exec after cancel: %v", err)
	}
	// A context already done runs nothing.
	if err := c.Exec(ctx, []string{"true"}, nil, nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Exec with a done ctx = %v, want context.Canceled", err)
	}
}

func TestClose(t *testing.T) {
	NoAgent(t)
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	c, err := sshconn.Dial(context.Background(), servers[0].Config(keys))
	if err != nil {
		t.Fatal(err)
	}
	done, _, _ := StartSleep(t, context.Background(), c, 30)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := Await(t, done, "Close"); !errors.Is(err, sshconn.ErrConnLost) {
		t.Errorf("Exec cut by Close = %v, want ErrConnLost", err)
	}
	if err := c.Exec(context.Background(), []string{"true"}, nil, nil, nil); err == nil {
		t.Error("Exec after Close succeeded")
	}
}

// StartAgent runs a real ssh-agent on a socket in a temp dir, loads the
// given keys into it, points SSH_AUTH_SOCK at it, and stops it at cleanup.
func StartAgent(t *testing.T, keyFiles ...string) {
	t.Helper()
	sshtest.Require(t, "ssh-agent", "ssh-add")
	sock := filepath.Join(t.TempDir(), "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// ssh-agent prints its environment once the socket listens.
	line := make([]byte, 256)
	if n, err := out.Read(line); err != nil || !strings.Contains(string(line[:n]), "SSH_AUTH_SOCK") {
		t.Fatalf("ssh-agent: %q, %v", line[:n], err)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	for _, k := range keyFiles {
		if out, err := exec.Command("ssh-add", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-add %s: %v\n%s", k, err, out)
		}
	}
}

func TestAuth(t *testing.T) {
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	s := servers[0]
	dir := t.TempDir()

	// encrypted is the accepted key under a passphrase; stranger is a key
	// the server does not accept.
	encrypted := filepath.Join(dir, "id_encrypted")
	raw, err := os.ReadFile(keys.IdentityFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(encrypted, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ssh-keygen", "-q", "-p", "-P", "", "-N", "secret", "-f", encrypted).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -p: %v\n%s", err, out)
	}
	stranger := filepath.Join(dir, "id_stranger")
	sshtest.MustKeygen(t, stranger, "ed25519", "")

	tests := []struct {
		name      string
		agentKeys []string // nil = no agent
		identity  string
		wantErr   error  // nil = connects
		wantText  string // substring of the error
	}{
		{name: "identity file", identity: keys.IdentityFile},
		{name: "agent only", agentKeys: []string{keys.IdentityFile}},
		{name: "agent holds the key of an encrypted identity file", agentKeys: []string{keys.IdentityFile}, identity: encrypted},
		{name: "agent with a stranger, identity file accepted", agentKeys: []string{stranger}, identity: keys.IdentityFile},
		{name: "encrypted identity file without agent", identity: encrypted, wantText: "ssh-add"},
		{name: "key not accepted", identity: stranger, wantErr: sshconn.ErrAuth},
		{name: "agent with no accepted key", agentKeys: []string{stranger}, wantErr: sshconn.ErrAuth},
		{name: "neither agent nor identity file", wantErr: sshconn.ErrAuth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SSH_AUTH_SOCK", "")
			if tc.agentKeys != nil {
				StartAgent(t, tc.agentKeys...)
			}
			cfg := s.Config(keys)
			cfg.IdentityFile = tc.identity
			c, err := sshconn.Dial(context.Background(), cfg)
			if tc.wantErr == nil && tc.wantText == "" {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer c.Close()
				var out bytes.Buffer
				if err := c.Exec(context.Background(), []string{"whoami"}, nil, &out, nil); err != nil {
					t.Fatalf("Exec: %v", err)
				}
				if got := strings.TrimSpace(out.String()); got != keys.User {
					t.Errorf("whoami = %q, want %q", got, keys.User)
				}
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Dial error = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantText) || !strings.Contains(err.Error(), s.Name) {
				t.Errorf("Dial error %q does not contain %q and the host name", err, tc.wantText)
			}
		})
	}
}

// sessionSSHD returns the sshd process serving the session whose shell
// has pid (or is below it) and that process's parent, the privileged
// monitor: together they are all of sshd that can answer this connection.
func sessionSSHD(tb testing.TB, pid int) []int {
	tb.Helper()
	for p := pid; p > 1; {
		pr, ok := proctree.Read(p)
		if !ok {
			tb.Skipf("no /proc entry for pid %d to find the session's sshd", p)
		}
		if pr.Comm == "sshd" {
			return []int{p, pr.PPID}
		}
		p = pr.PPID
	}
	tb.Fatalf("no sshd above pid %d", pid)
	return nil
}
