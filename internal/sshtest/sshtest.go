package sshtest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/proctree"
	"github.com/mljob/mljob/internal/testdep"
	"github.com/mljob/mljob/internal/testutil"
)

// Timeouts bound waits on a daemon that misbehaves; a healthy sshd is ready
// in milliseconds.
const (
	startTimeout   = 20 * time.Second
	logDrainTimout = 5 * time.Second
	bindAttempts   = 5
)

// Server is one sshd, a simulated host: on 127.0.0.1 unless Options say
// otherwise.
type Server struct {
	Name string // "host1", "host2", ...
	Host string // Options.Address, "127.0.0.1" by default
	Port int

	Dir     string // its temp dir: host keys, sshd_config, authorized_keys
	Workdir string // a fresh per-host dir tests use as the mljob workdir
	// LockDir is the host's own lease dir (lock_dir in a hosts file): every
	// Server runs on this machine, so the default lock dir would make all
	// of them, in every test package at once, share one set of leases.
	LockDir string

	HostPublicKey  string // authorized_keys-format line of its ed25519 host key
	KnownHostsLine string // "[127.0.0.1]:PORT ssh-ed25519 AAAA..."

	// HostKeyLines holds a known_hosts line for each host key the daemon
	// has, by key type ("ssh-ed25519", "ssh-rsa", ...), for tests that
	// build their own known_hosts.
	HostKeyLines map[string]string

	sshd     string              // absolute path: sshd refuses to re-exec itself otherwise
	config   string              // sshd_config, rewritten whenever the port changes
	opts     Options             // as given to Start
	hostCert string              // HostCertificate file, "" = none; see CA.SignHost
	hostPubs map[string]string   // ssh-keygen -t type -> "type AAAA..." public key
	log      testutil.SyncBuffer // the daemon's stderr, which its reader writes while tests read

	mu      sync.Mutex      // guards run and orphans
	run     *daemon         // nil when stopped
	orphans []proctree.Proc // session processes a Crash left running
}

// Options changes how Start sets up the daemons.
type Options struct {
	// SkipBashrc sets SHLVL=1 in every session (sshd SetEnv), so a remote
	// bash believes it is nested and does not source ~/.bashrc, whose output
	// or exit would otherwise leak into tests run as a real user.
	SkipBashrc bool

	// ExtraHostKeyTypes adds host keys of these ssh-keygen -t types (such as
	// "rsa" or "ecdsa") next to the ed25519 one every daemon has.
	ExtraHostKeyTypes []string

	// Address is the address the daemons listen on; "" = 127.0.0.1. Any
	// other address must exist on the machine, or in Netns.
	Address string

	// Netns, when set, starts the daemons inside that network namespace
	// (ip netns exec), so that a test can cut their link (see Netns).
	Netns string

	// RaisedLimits lifts MaxSessions and MaxStartups to 64. By default the
	// daemons keep OpenSSH's own limits (MaxSessions 10 sessions per
	// connection, MaxStartups 10:30:100), as real hosts have them: raised
	// limits once hid a bug where adopted runs beyond 10 were recorded
	// failed. For a test about what the limits themselves allow.
	RaisedLimits bool
	// TrustedUserCAKeys names a file of CA public keys whose user
	// certificates the daemons accept (sshd TrustedUserCAKeys); see CA.
	TrustedUserCAKeys string
	// NoAuthorizedKeys leaves authorized_keys empty, so that only a user
	// certificate gets in.
	NoAuthorizedKeys bool
	// Env holds KEY=VALUE pairs set in every session (sshd SetEnv, which
	// wins over sshd's own PATH): the host's environment, e.g. a PATH
	// holding a fake nvidia-smi. Values must not hold spaces or quotes.
	Env []string
}

// Keys is the client side shared by a set of servers.
type Keys struct {
	IdentityFile string // unencrypted ed25519 private key every server accepts
	KnownHosts   string // known_hosts file holding every server's KnownHostsLine
	User         string // the current user, as whom tests log in
}

// daemon is one running sshd process and the goroutines that own its
// stderr and exit status.
type daemon struct {
	cmd        *exec.Cmd
	stderr     *os.File      // read end of the daemon's stderr pipe
	exited     chan struct{} // closed once cmd.Wait returns
	readerDone chan struct{} // closed once stderr reached EOF or was closed
}

// Start starts n daemons, named host1..hostN, and registers a cleanup that
// stops them and waits for them. When the test fails, the cleanup logs each
// daemon's stderr.
func Start(tb testing.TB, n int, opts Options) ([]*Server, Keys) {
	tb.Helper()
	testdep.SkipShort(tb, "sshd hosts")
	Require(tb, "sshd", "ssh-keygen")
	sshd := mustLookPath(tb, "sshd")
	if err := ensurePrivsepDir(); err != nil {
		tb.Logf("sshtest: %v (sshd may refuse to start)", err)
	}
	u, err := user.Current()
	if err != nil {
		tb.Fatalf("sshtest: current user: %v", err)
	}

	base := tb.TempDir()
	keys := Keys{
		IdentityFile: filepath.Join(base, "id_ed25519"),
		KnownHosts:   filepath.Join(base, "known_hosts"),
		User:         u.Username,
	}
	clientPub := MustKeygen(tb, keys.IdentityFile, "ed25519", "")

	servers := make([]*Server, 0, n)
	tb.Cleanup(func() {
		for _, s := range servers {
			s.Stop()
			if tb.Failed() {
				tb.Logf("sshd %s (port %d) stderr:\n%s", s.Name, s.Port, s.Log())
			}
		}
	})

	var known strings.Builder
	for i := 1; i <= n; i++ {
		s := newServer(tb, filepath.Join(base, fmt.Sprintf("host%d", i)), sshd, clientPub, opts)
		s.Name = fmt.Sprintf("host%d", i)
		servers = append(servers, s)
		if err := s.startOnFreePort(); err != nil {
			tb.Fatalf("sshtest: start %s: %v\n%s", s.Name, err, s.Log())
		}
		known.WriteString(s.KnownHostsLine + "\n")
	}
	if err := os.WriteFile(keys.KnownHosts, []byte(known.String()), 0o600); err != nil {
		tb.Fatalf("sshtest: %v", err)
	}
	return servers, keys
}

// newServer lays out dir: host keys, authorized_keys and a workdir. The
// config is written once the port is known.
func newServer(tb testing.TB, dir, sshd, clientPub string, opts Options) *Server {
	tb.Helper()
	addr := opts.Address
	if addr == "" {
		addr = "127.0.0.1"
	}
	s := &Server{
		Host:         addr,
		Dir:          dir,
		Workdir:      filepath.Join(dir, "work"),
		LockDir:      filepath.Join(dir, "locks"),
		HostKeyLines: map[string]string{},
		sshd:         sshd,
		config:       filepath.Join(dir, "sshd_config"),
		opts:         opts,
		hostPubs:     map[string]string{},
	}
	if err := os.MkdirAll(s.Workdir, 0o755); err != nil {
		tb.Fatalf("sshtest: %v", err)
	}
	authorized := clientPub + "\n"
	if opts.NoAuthorizedKeys {
		authorized = ""
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(authorized), 0o600); err != nil {
		tb.Fatalf("sshtest: %v", err)
	}
	for _, t := range append([]string{"ed25519"}, opts.ExtraHostKeyTypes...) {
		s.hostPubs[t] = MustKeygen(tb, s.hostKeyFile(t), t, "")
	}
	s.HostPublicKey = s.hostPubs["ed25519"]
	return s
}

func (s *Server) hostKeyFile(keyType string) string {
	return filepath.Join(s.Dir, "ssh_host_"+keyType+"_key")
}

// sshdConfig follows golang.org/x/crypto ssh/test: key-only auth against
// our own authorized_keys, no PAM (it would consult the real system), and
// StrictModes off because t.TempDir paths are not owned as sshd wants.
func sshdConfig(s *Server, port int) string {
	opts := s.opts
	var b strings.Builder
	fmt.Fprintf(&b, "Port %d\nListenAddress %s\n", port, s.Host)
	fmt.Fprintf(&b, "HostKey %q\n", s.hostKeyFile("ed25519"))
	for _, t := range opts.ExtraHostKeyTypes {
		fmt.Fprintf(&b, "HostKey %q\n", s.hostKeyFile(t))
	}
	if s.hostCert != "" {
		fmt.Fprintf(&b, "HostCertificate %q\n", s.hostCert)
	}
	fmt.Fprintf(&b, "AuthorizedKeysFile %q\n", filepath.Join(s.Dir, "authorized_keys"))
	if opts.TrustedUserCAKeys != "" {
		fmt.Fprintf(&b, "TrustedUserCAKeys %q\n", opts.TrustedUserCAKeys)
	}
	b.WriteString(`PidFile none
UsePAM no
StrictModes no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
HostbasedAuthentication no
LogLevel VERBOSE
Subsystem sftp internal-sftp
`)
	if opts.RaisedLimits {
		b.WriteString("MaxSessions 64\nMaxStartups 64\n")
	}
	var env []string
	if opts.SkipBashrc {
		env = append(env, "SHLVL=1")
	}
	env = append(env, opts.Env...)
	if len(env) > 0 {
		// sshd takes the first SetEnv line only: all pairs go on one.
		b.WriteString("SetEnv " + strings.Join(env, " ") + "\n")
	}
	return b.String()
}

// setPort points the server at port: the config file and the known_hosts
// lines, whose address is "[127.0.0.1]:port" (knownhosts.Normalize).
func (s *Server) setPort(port int) error {
	s.Port = port
	addr := "[" + s.Host + "]:" + strconv.Itoa(port)
	for _, pub := range s.hostPubs {
		keyType, _, _ := strings.Cut(pub, " ")
		s.HostKeyLines[keyType] = addr + " " + pub
	}
	s.KnownHostsLine = addr + " " + s.HostPublicKey
	return os.WriteFile(s.config, []byte(sshdConfig(s, port)), 0o600)
}

// errBind is a daemon that could not listen: the free port we picked was
// taken in between, so Start tries another.
var errBind = errors.New("sshd could not bind its port")

// startOnFreePort picks a free loopback port and starts the daemon there,
// retrying with a new port when another process took it first.
func (s *Server) startOnFreePort() error {
	var err error
	for range bindAttempts {
		var port int
		port, err = freePort()
		if err != nil {
			return err
		}
		if err = s.setPort(port); err != nil {
			return err
		}
		err = s.start()
		if !errors.Is(err, errBind) {
			return err
		}
	}
	return err
}

// freePort returns a loopback port nobody listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	return port, nil
}

// start runs sshd -D -e and returns once its stderr says it listens, or
// once it has exited (errBind when the port was taken).
func (s *Server) start() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	// -D: stay in the foreground so we own the process; -e: log to stderr,
	// which we read for readiness and keep for failure reports.
	argv := []string{s.sshd, "-D", "-e", "-f", s.config}
	if s.opts.Netns != "" {
		// ip execs sshd in place, so the pid we hold is the daemon's.
		argv = append([]string{mustIP(), "netns", "exec", s.opts.Netns}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("start %s: %w", s.sshd, err)
	}
	w.Close() // the daemon and its children hold the only write ends now

	d := &daemon{cmd: cmd, stderr: r, exited: make(chan struct{}), readerDone: make(chan struct{})}
	ready := make(chan struct{})
	listening := fmt.Sprintf("Server listening on %s port %d", s.Host, s.Port)
	go func() {
		defer close(d.readerDone)
		br := bufio.NewReader(r)
		signalled := false
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				s.log.Write([]byte(line))
				if !signalled && strings.Contains(line, listening) {
					signalled = true
					close(ready)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		defer close(d.exited)
		_ = cmd.Wait() // the exit status says nothing the log does not
	}()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		s.mu.Lock()
		s.run = d
		s.mu.Unlock()
		return nil
	case <-d.exited:
		d.drain()
		if strings.Contains(s.log.String(), "Address already in use") {
			return fmt.Errorf("port %d: %w", s.Port, errBind)
		}
		return fmt.Errorf("sshd exited before listening on port %d", s.Port)
	case <-timer.C:
		d.kill()
		return fmt.Errorf("sshd not listening on port %d after %v", s.Port, startTimeout)
	}
}

// kill kills the daemon and every process below it, then waits for the
// daemon and for its log.
func (d *daemon) kill() {
	killTree(d.cmd.Process.Pid)
	<-d.exited
	d.drain()
}

// drain waits for the stderr reader to reach EOF. A session process that
// escaped killTree could hold the pipe open, so the wait is bounded and the
// read end is then closed to stop the reader.
func (d *daemon) drain() {
	timer := time.NewTimer(logDrainTimout)
	defer timer.Stop()
	select {
	case <-d.readerDone:
	case <-timer.C:
	}
	d.stderr.Close()
	<-d.readerDone
}

// Stop kills the daemon and all its connections and sessions, as a host
// that vanishes would, and waits for them. The processes its sessions
// started (detached runs included) die with it, and so do those an earlier
// Crash left running: a Stop is a reboot. It is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	d := s.run
	s.run = nil
	orphans := s.orphans
	s.orphans = nil
	s.mu.Unlock()
	if d != nil {
		d.kill()
	}
	for _, p := range orphans {
		if stillRuns(p) {
			killTree(p.PID)
		}
	}
}

// Restart starts the daemon again on the same port with the same keys,
// stopping it first if it runs. What a Crash left running is left alone:
// Crash then Restart is an sshd restart, not a reboot.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	d := s.run
	s.run = nil
	s.mu.Unlock()
	if d != nil {
		d.kill()
	}
	s.log.Write([]byte("--- sshtest: restart ---\n"))
	if err := s.start(); err != nil {
		tb.Fatalf("sshtest: restart %s: %v\n%s", s.Name, err, s.Log())
	}
}

// Log returns everything the daemon and its per-connection children wrote
// to stderr so far, across restarts: tests count "Accepted publickey" lines
// in it to count connections.
func (s *Server) Log() string { return s.log.String() }

// MustKeygen writes a new key pair of the ssh-keygen -t type keyType to path
// and path.pub (passphrase "" = unencrypted) and returns the public key as
// "type base64", without comment.
func MustKeygen(tb testing.TB, path, keyType, passphrase string) string {
	tb.Helper()
	Require(tb, "ssh-keygen")
	out, err := exec.Command("ssh-keygen", "-q", "-t", keyType, "-N", passphrase, "-C", "", "-f", path).CombinedOutput()
	if err != nil {
		tb.Fatalf("sshtest: ssh-keygen -t %s: %v\n%s", keyType, err, out)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		tb.Fatalf("sshtest: %v", err)
	}
	f := strings.Fields(string(pub))
	if len(f) < 2 {
		tb.Fatalf("sshtest: %s.pub: not a public key: %q", path, pub)
	}
	return f[0] + " " + f[1]
}

// ensurePrivsepDir creates /run/sshd, which sshd needs for privilege
// separation and which only the openssh-server service normally creates.
func ensurePrivsepDir() error {
	const dir = "/run/sshd"
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("privilege separation dir: %w", err)
	}
	return nil
}
