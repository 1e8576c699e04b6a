package sshconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Defaults for the zero values of Config.
const (
	DefaultPort           = 22
	DefaultConnectTimeout = 10 * time.Second
	DefaultKeepAlive      = 15 * time.Second
)

// Config says how to reach one host over SSH.
type Config struct {
	Name           string        // host name from the hosts file, for messages
	Alias          string        // the address as the hosts file wrote it, before ssh config resolution: ProxyCommand's %n; "" = Address
	Address        string        // host name or IP as dialled
	Port           int           // 0 = 22
	User           string        // "" = current user
	IdentityFile   string        // private key file, "~/" expanded; "" = ssh-agent only
	KnownHosts     []string      // known_hosts files; empty = ~/.ssh/known_hosts. Verification is never off.
	ConnectTimeout time.Duration // 0 = 10s; bounds TCP connect + handshake
	KeepAlive      time.Duration // 0 = 15s; a keepalive that fails closes the connection so waiters see ErrConnLost

	// CertificateFiles are OpenSSH user certificates (id_ed25519-cert.pub);
	// each is offered with the key it certifies, the identity file's or one
	// the agent holds, before that key alone. A file that does not exist
	// is skipped, as ssh skips it.
	CertificateFiles []string

	// Jump is the gateway this host is reached through (ssh's ProxyJump),
	// itself perhaps behind another; nil = dialled directly. Its host key
	// is checked against its own KnownHosts, and one connection to it is
	// shared by every Client behind it (see jumpPool).
	Jump *Config

	// ProxyCommand, when not "", is a command whose stdin and stdout
	// carry the connection (ssh's ProxyCommand), run by /bin/sh with its
	// %h, %p, %r and %n tokens expanded (see ExpandProxyCommand). It
	// excludes Jump.
	ProxyCommand string
}

// Client is one SSH connection to a host, shared by many concurrent
// sessions. After the connection is lost, the next Exec redials. A Client
// is safe for concurrent use; Close it when done.
type Client struct {
	cfg        Config   // defaults applied
	addr       string   // host:port as dialled
	knownAddr  string   // the address as known_hosts writes it
	knownFiles []string // known_hosts files, first = where a new key goes

	// jump is the shared Client of the gateway (Config.Jump), released by
	// Close; nil when dialled directly or through a proxy command.
	jump    *Client
	jumpKey string // this Client's key in jumpPool when it is a gateway; "" otherwise

	// dialing is a one-slot semaphore: one dial at a time, so concurrent
	// Execs after a loss share the new connection; a channel so a waiter
	// can give up when its ctx ends.
	dialing chan struct{}

	mu     sync.Mutex // guards conn and closed
	conn   *conn      // nil until dialled and after a loss
	closed bool

	authUsed authRecorder // which key got in (own lock); see Auth

	// wg counts the watch and keepalive goroutines of every connection and
	// the session waiters that outlive a cancelled Exec; Close waits for it.
	wg sync.WaitGroup
}

// conn is one live SSH connection and what must be closed with it.
type conn struct {
	ssh   *ssh.Client
	agent io.Closer     // ssh-agent socket, or nil
	lost  chan struct{} // closed when the connection has ended
}

func (cn *conn) isLost() bool {
	select {
	case <-cn.lost:
		return true
	default:
		return false
	}
}

// Dial reads the known_hosts files, connects (through the gateways or
// the proxy command cfg names) and authenticates. The errors callers
// branch on: a *HostKeyError (ErrUnknownHost, ErrHostKeyChanged,
// ErrHostKeyRevoked) and ErrAuth, each of the host or of the gateway that
// refused; a *JumpError says that a gateway, not the host, failed.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := c.connect(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// newClient checks cfg, applies its defaults and reads the known_hosts
// files, without connecting; a gateway's Client is made this way and
// connects when a host behind it first needs it.
func newClient(cfg Config) (*Client, error) {
	if cfg.Address == "" {
		return nil, fmt.Errorf("dial %s: no address", cfg.Name)
	}
	if cfg.Jump != nil && cfg.ProxyCommand != "" {
		return nil, fmt.Errorf("dial %s: both a jump host (%s) and a proxy command: give one", cfg.Name, cfg.Jump.Name)
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Address
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	c := &Client{
		cfg:     cfg,
		addr:    net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.Port)),
		dialing: make(chan struct{}, 1),
	}
	c.knownAddr = knownhosts.Normalize(c.addr)
	if err := c.init(); err != nil {
		return nil, fmt.Errorf("dial %s (%s): %w", cfg.Name, c.addr, err)
	}
	if cfg.Jump != nil {
		j, err := jumps.acquire(*cfg.Jump)
		if err != nil {
			return nil, fmt.Errorf("dial %s (%s): %w", cfg.Name, c.addr, &JumpError{Hop: cfg.Jump.Name, Err: err})
		}
		c.jump = j
	}
	return c, nil
}

// init fills in the user and checks that the known_hosts files can be
// read; each dial reads them again (see hostKeyCheck).
func (c *Client) init() error {
	if c.cfg.User == "" {
		u, err := user.Current()
		if err != nil {
			return fmt.Errorf("current user: %w", err)
		}
		c.cfg.User = u.Username
	}
	files, err := knownHostsFiles(c.cfg.KnownHosts)
	if err != nil {
		return err
	}
	c.knownFiles = files
	_, err = c.hostKeyCheck()
	return err
}

// hostKeyCheck reads the known_hosts files (parsed once per version of
// them) and returns the check of this host's key with the key
// algorithms to ask for. It runs at each dial, not once: a gateway's
// Client is shared and long-lived, and a key the user fixed in
// known_hosts must count at its next dial.
func (c *Client) hostKeyCheck() (hostKeyCheck, error) {
	var existing []string
	for _, f := range c.knownFiles {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		}
	}
	cb, err := loadKnownHosts(existing)
	if err != nil {
		return hostKeyCheck{}, fmt.Errorf("known_hosts: %w", err)
	}
	return hostKeyCheck{c: c, known: cb, algos: knownKeyAlgorithms(cb, c.addr)}, nil
}

// knownHostsCache shares one parsed known_hosts among the clients that
// name the same files: a dispatch to a hundred hosts listed in one file
// would otherwise parse it a hundred times and keep a hundred copies. An
// entry is used only while every file keeps its size and modification
// time, so a key added meanwhile (ssh-keyscan) is seen by the next dial.
var knownHostsCache struct {
	sync.Mutex
	m map[string]knownHostsEntry
}

type knownHostsEntry struct {
	stamp    string
	callback ssh.HostKeyCallback
}

// loadKnownHosts returns the host key callback of files, parsed once per
// version of them.
func loadKnownHosts(files []string) (ssh.HostKeyCallback, error) {
	var key, stamp strings.Builder
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&key, "%s\x00", f)
		fmt.Fprintf(&stamp, "%d:%d\x00", st.Size(), st.ModTime().UnixNano())
	}
	knownHostsCache.Lock()
	defer knownHostsCache.Unlock()
	if e, ok := knownHostsCache.m[key.String()]; ok && e.stamp == stamp.String() {
		return e.callback, nil
	}
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, err
	}
	if knownHostsCache.m == nil {
		knownHostsCache.m = map[string]knownHostsEntry{}
	}
	knownHostsCache.m[key.String()] = knownHostsEntry{stamp: stamp.String(), callback: cb}
	return cb, nil
}

// knownHostsFiles returns the files to verify against: the named ones,
// each of which must exist, or else ~/.ssh/known_hosts, which may be
// missing (no host is known yet) but is still where a new key goes.
func knownHostsFiles(named []string) ([]string, error) {
	if len(named) == 0 {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		return []string{filepath.Join(home, ".ssh", "known_hosts")}, nil
	}
	files := make([]string, len(named))
	for i, f := range named {
		p, err := expandHome(f)
		if err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
		files[i] = p
	}
	return files, nil
}

// connect returns the live connection, dialling one if there is none.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	if cn, err := c.current(); cn != nil || err != nil {
		return cn, err
	}
	select {
	case c.dialing <- struct{}{}:
		defer func() { <-c.dialing }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Another Exec may have dialled while we waited.
	if cn, err := c.current(); cn != nil || err != nil {
		return cn, err
	}
	cn, err := c.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("dial %s (%s): %w", c.cfg.Name, c.addr, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		cn.close()
		return nil, c.closedError()
	}
	c.conn = cn
	c.wg.Add(2)
	go c.watch(cn)
	go c.keepAlive(cn)
	return cn, nil
}

// current returns the live connection, nil if there is none, or an error
// once the client is closed.
func (c *Client) current() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, c.closedError()
	}
	if c.conn != nil && !c.conn.isLost() {
		return c.conn, nil
	}
	return nil, nil
}

func (c *Client) closedError() error {
	return fmt.Errorf("ssh client for %s: %w", c.cfg.Name, net.ErrClosed)
}

// dial makes one authenticated connection. The caller's ctx and
// ConnectTimeout bound both the TCP connect and the SSH handshake.
func (c *Client) dial(ctx context.Context) (*conn, error) {
	hk, err := c.hostKeyCheck()
	if err != nil {
		return nil, err
	}
	auth, agentConn, err := c.auth(ctx)
	if err != nil {
		return nil, err
	}
	closeAgent := func() {
		if agentConn != nil {
			agentConn.Close()
		}
	}
	config := &ssh.ClientConfig{
		User:              c.cfg.User,
		Auth:              auth,
		HostKeyCallback:   hk.check,
		HostKeyAlgorithms: hk.algos,
		Timeout:           c.cfg.ConnectTimeout,
	}

	dctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	nc, err := c.transport(dctx)
	if err != nil {
		closeAgent()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	// The handshake has no ctx: closing the conn when dctx ends bounds it.
	// (A deadline would not do: a channel through a gateway has none.)
	stop := context.AfterFunc(dctx, func() { nc.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(nc, c.addr, config)
	if !stop() && err == nil {
		// ctx ended just as the handshake finished; the conn is closed.
		sc.Close()
		err = dctx.Err()
	}
	if err != nil {
		if p, ok := nc.(*proxyConn); ok {
			err = p.failure(err)
		}
		nc.Close()
		closeAgent()
		return nil, c.handshakeError(ctx, dctx, err)
	}
	return &conn{ssh: ssh.NewClient(sc, chans, reqs), agent: agentConn, lost: make(chan struct{})}, nil
}

// transport opens the byte stream the SSH connection runs over: TCP to
// the host, a channel through the gateway's connection, or the proxy
// command's stdin and stdout.
func (c *Client) transport(ctx context.Context) (net.Conn, error) {
	switch {
	case c.jump != nil:
		return c.throughJump(ctx)
	case c.cfg.ProxyCommand != "":
		line, err := ExpandProxyCommand(c.cfg.ProxyCommand, c.cfg)
		if err != nil {
			return nil, err
		}
		return startProxy(line)
	default:
		var d net.Dialer
		return d.DialContext(ctx, "tcp", c.addr)
	}
}

// throughJump opens a channel to the host through the gateway's
// connection, dialling the gateway first if it has none (the gateway
// verifies its own host key and authenticates on its own terms). The
// gateway resolves the host's address, as ssh -W does.
func (c *Client) throughJump(ctx context.Context) (net.Conn, error) {
	for attempt := 1; ; attempt++ {
		cn, err := c.jump.connect(ctx)
		if err != nil {
			return nil, &JumpError{Hop: c.jump.cfg.Name, Err: err}
		}
		nc, err := cn.ssh.DialContext(ctx, "tcp", c.addr)
		if err == nil {
			return nc, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) || attempt == 2 {
			return nil, &ForwardError{Hop: c.jump.cfg.Name, Target: c.addr, Err: err}
		}
		// The gateway's connection died before its Client noticed (a
		// restarted bastion): drop it and dial the gateway once more.
		c.jump.drop(cn)
	}
}

// handshakeError maps a failed handshake to what callers branch on.
func (c *Client) handshakeError(ctx, dctx context.Context, err error) error {
	var hk *HostKeyError
	switch {
	case errors.As(err, &hk):
		return hk // its message is complete; drop x/crypto's "handshake failed"
	case ctx.Err() != nil:
		return ctx.Err()
	case dctx.Err() != nil:
		return fmt.Errorf("handshake: no answer within %v: %w", c.cfg.ConnectTimeout, err)
	case errors.As(err, new(*ProxyError)):
		return err // says what the command said
	case strings.Contains(err.Error(), "unable to authenticate"):
		// x/crypto has no typed error for this; the text is stable since 2014.
		how := "ssh-agent"
		if c.cfg.IdentityFile != "" {
			how = "ssh-agent and " + c.cfg.IdentityFile
		}
		return &AuthError{err: fmt.Errorf("%w as %s (tried %s): %v", ErrAuth, c.cfg.User, how, err), cfg: c.cfg}
	default:
		return fmt.Errorf("handshake: %w", err)
	}
}

// auth returns one publickey method offering the agent's keys, then the
// identity file's, each after the user certificates of that key. It is one method because x/crypto tries each method
// name once: a second publickey method would never run.
func (c *Client) auth(ctx context.Context) ([]ssh.AuthMethod, net.Conn, error) {
	var agentConn net.Conn
	var ag agent.ExtendedAgent
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		var d net.Dialer
		// An agent that does not answer (a stale socket from an old login)
		// is skipped: the identity file may still work.
		if conn, err := d.DialContext(ctx, "unix", sock); err == nil {
			agentConn, ag = conn, agent.NewClient(conn)
		}
	}
	var fileSigner ssh.Signer
	if c.cfg.IdentityFile != "" {
		s, err := loadIdentity(c.cfg.IdentityFile)
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing) && ag != nil:
			// Encrypted: we never prompt. The agent probably holds it.
		case errors.As(err, &missing):
			return nil, nil, fmt.Errorf("identity file %s is encrypted and no ssh-agent is running: start ssh-agent, run ssh-add %s, and set SSH_AUTH_SOCK",
				c.cfg.IdentityFile, Quote(c.cfg.IdentityFile))
		case err != nil:
			if agentConn != nil {
				agentConn.Close()
			}
			return nil, nil, err
		default:
			fileSigner = s
		}
	}
	certs, err := loadCertificates(certificatePaths(c.cfg.CertificateFiles, c.cfg.IdentityFile))
	if err != nil {
		if agentConn != nil {
			agentConn.Close()
		}
		return nil, nil, err
	}
	if ag == nil && fileSigner == nil {
		return nil, nil, &AuthError{err: fmt.Errorf("%w: no ssh-agent (SSH_AUTH_SOCK) and no identity file", ErrAuth), cfg: c.cfg}
	}
	signers := func() ([]ssh.Signer, error) {
		var out []taggedSigner
		if ag != nil {
			s, err := ag.Signers()
			if err != nil && fileSigner == nil {
				return nil, fmt.Errorf("ssh-agent: %w", err)
			}
			for _, a := range s {
				out = append(out, taggedSigner{Signer: a, method: AuthAgent})
			}
		}
		if fileSigner != nil {
			out = append(out, taggedSigner{Signer: fileSigner, method: AuthIdentityFile})
		}
		return c.authUsed.wrap(withCertificates(out, certs)), nil
	}
	return []ssh.AuthMethod{ssh.PublicKeysCallback(signers)}, agentConn, nil
}

// loadIdentity reads and parses a private key file.
func loadIdentity(path string) (ssh.Signer, error) {
	p, err := expandHome(path)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	return s, nil
}

// expandHome replaces a leading "~/" with the home directory, as ssh does
// for IdentityFile.
func expandHome(path string) (string, error) {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		return path, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, strings.TrimPrefix(path, "~")), nil
}

// watch waits for cn to end, however it ends (server gone, keepalive
// failure, Close), then forgets it so the next Exec redials.
func (c *Client) watch(cn *conn) {
	defer c.wg.Done()
	_ = cn.ssh.Wait() // the reason is reported by the sessions that were cut
	close(cn.lost)
	if cn.agent != nil {
		cn.agent.Close()
	}
	c.mu.Lock()
	if c.conn == cn {
		c.conn = nil
	}
	c.mu.Unlock()
}

// keepAlive sends an OpenSSH keepalive every KeepAlive interval. A request
// that fails, or gets no answer within the interval, closes the
// connection: waiting sessions then end with ErrConnLost instead of
// hanging on a peer that vanished without a FIN.
func (c *Client) keepAlive(cn *conn) {
	defer c.wg.Done()
	ticker := time.NewTicker(c.cfg.KeepAlive)
	defer ticker.Stop()
	for {
		select {
		case <-cn.lost:
			return
		case <-ticker.C:
		}
		timeout := time.AfterFunc(c.cfg.KeepAlive, func() { cn.ssh.Close() })
		// OpenSSH answers this unknown request with a failure, which is
		// still an answer: only err means the peer is gone.
		_, _, err := cn.ssh.SendRequest("keepalive@openssh.com", true, nil)
		timeout.Stop()
		if err != nil {
			cn.ssh.Close()
			return
		}
	}
}

// close ends a connection whose goroutines were never started.
func (cn *conn) close() {
	cn.ssh.Close()
	if cn.agent != nil {
		cn.agent.Close()
	}
}

// drop closes cn, which failed to open a session, and forgets it.
func (c *Client) drop(cn *conn) {
	cn.ssh.Close()
	c.mu.Lock()
	if c.conn == cn {
		c.conn = nil
	}
	c.mu.Unlock()
}

// Exec runs argv, quoted with QuoteCommand, in a new session with stdin,
// stdout and stderr wired as given (nil = none), and waits for it.
//
// A nil error means exit status 0. A non-zero exit or a signal gives an
// *ExitError. An error wrapping ErrConnLost means the connection dropped or
// the exit status is missing: the outcome is unknown, not failed. When ctx
// ends first, the session is closed and ctx.Err() returned; the remote
// process may go on, which is what detached runs rely on. Nothing is
// written to stdout or stderr after Exec returns.
func (c *Client) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(argv) == 0 {
		return fmt.Errorf("exec on %s: empty command", c.cfg.Name)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cn, sess, err := c.newSession(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	defer sess.Close()

	// After a cancel the session's copy goroutines outlive Exec (see
	// below); the gates stop them touching the caller's reader and writers
	// once Exec returns.
	var gates []*gate
	defer func() {
		for _, g := range gates {
			g.close()
		}
	}()
	if stdin != nil {
		g := &gate{r: stdin}
		gates = append(gates, g)
		sess.Stdin = g
	}
	if stdout != nil {
		g := &gate{w: stdout}
		gates = append(gates, g)
		sess.Stdout = g
	}
	if stderr != nil {
		g := &gate{w: stderr}
		gates = append(gates, g)
		sess.Stderr = g
	}

	if err := sess.Start(QuoteCommand(argv)); err != nil {
		if cn.isLost() || errors.Is(err, io.EOF) {
			return fmt.Errorf("exec on %s: %w: %v", c.cfg.Name, ErrConnLost, err)
		}
		return fmt.Errorf("exec on %s: %w", c.cfg.Name, err)
	}
	done := make(chan error, 1) // buffered: the waiter may outlive Exec
	if !c.spawn(func() { done <- sess.Wait() }) {
		return c.closedError()
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		// WARNING: do not wait for the waiter here. OpenSSH keeps a session
		// channel open until its process exits ("session_close_by_channel:
		// has child"), so Wait would last as long as the remote command.
		// The waiter belongs to the Client and ends when the command does
		// or when the connection closes.
		sess.Close()
		return ctx.Err()
	}
	return c.exitError(cn, err)
}

// sessionWait bounds how long Exec waits for the server to accept a new
// session after it refused one; refusalBackoff is the first pause between
// tries, doubled up to a second.
const (
	sessionWait    = 2 * time.Minute
	refusalBackoff = 50 * time.Millisecond
)

// newSession opens a session on the live connection, dialling if needed. A
// connection found dead when opening the session ran nothing, so it is
// dropped and redialled once.
//
// A session the server refuses (sshd's MaxSessions, 10 per connection by
// default, all in use) is a limit of the connection, not a failure of the
// command: it is asked again, with backoff, until one is free, ctx ends or
// sessionWait has passed; then the error wraps ErrConnLost, so that callers
// treat it as they treat a host that does not answer.
func (c *Client) newSession(ctx context.Context) (*conn, *ssh.Session, error) {
	var refusedSince time.Time
	backoff := refusalBackoff
	for attempt := 1; ; {
		cn, err := c.connect(ctx)
		if err != nil {
			return nil, nil, err
		}
		sess, err := cn.ssh.NewSession()
		if err == nil {
			return cn, sess, nil
		}
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) {
			// The server is there and said no: wait for a session to end.
			if refusedSince.IsZero() {
				refusedSince = time.Now()
			}
			if time.Since(refusedSince) >= sessionWait {
				return nil, nil, fmt.Errorf("open session on %s: %w: refused for %v (sshd's MaxSessions?): %v",
					c.cfg.Name, ErrConnLost, sessionWait, err)
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, nil, ctx.Err()
			case <-t.C:
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		c.drop(cn)
		if attempt == 2 {
			return nil, nil, fmt.Errorf("open session on %s: %w: %v", c.cfg.Name, ErrConnLost, err)
		}
		attempt++
	}
}

// exitError maps what Session.Wait returned.
func (c *Client) exitError(cn *conn, err error) error {
	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit):
		return &ExitError{Code: exit.ExitStatus(), Signal: exit.Signal()}
	case errors.As(err, &missing), errors.Is(err, io.EOF), cn.isLost():
		return fmt.Errorf("exec on %s: %w: %v", c.cfg.Name, ErrConnLost, err)
	default:
		// The command finished but copying stdin/stdout failed: one of
		// the caller's readers or writers returned the error.
		return fmt.Errorf("exec on %s: %w", c.cfg.Name, err)
	}
}

// Close closes the connection and waits for the goroutines the Client
// owns. Sessions still waiting end with ErrConnLost. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cn := c.conn
	c.conn = nil
	c.mu.Unlock()
	var err error
	if cn != nil {
		err = cn.ssh.Close()
	}
	c.wg.Wait()
	if c.jump != nil {
		jumps.release(c.jump)
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close %s: %w", c.cfg.Name, err)
	}
	return nil
}

// spawn runs f in a goroutine the Client owns (Close waits for it), or
// returns false once the client is closed.
func (c *Client) spawn(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// gate passes reads from r or writes to w through until closed; then reads
// see EOF and writes are discarded. A write holds mu across the call, so
// close returns only once no write is in progress: nothing reaches the
// caller's writers after Exec returns. A read does not: a stdin that stays
// open (an agent's request stream) would then block Exec's return forever.
// A read already under way when Exec returns ends with the caller's reader.
type gate struct {
	mu     sync.Mutex // guards closed and serialises calls to w
	r      io.Reader
	w      io.Writer
	closed bool
}

func (g *gate) Read(p []byte) (int, error) {
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return 0, io.EOF
	}
	return g.r.Read(p)
}

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(p), nil
	}
	return g.w.Write(p)
}

// gateBuf is the copy buffer of a gated stream. An SSH session copies each
// of its streams with io.Copy, whose own buffer is 32 KiB; with a long-lived
// session per host (the agent's) and a hundred hosts, those buffers were a
// large part of the dispatcher's heap.
const gateBuf = 4 << 10

// ReadFrom copies r through the gate with a small buffer; io.Copy uses it
// when the gate is a session's stdout or stderr.
func (g *gate) ReadFrom(r io.Reader) (int64, error) {
	// The wrappers hide g's ReadFrom and r's WriteTo, which CopyBuffer
	// would otherwise call instead of using buf.
	return io.CopyBuffer(struct{ io.Writer }{g}, struct{ io.Reader }{r}, make([]byte, gateBuf))
}

// WriteTo copies the gate's reader to w with a small buffer; io.Copy uses
// it when the gate is a session's stdin.
func (g *gate) WriteTo(w io.Writer) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{g}, make([]byte, gateBuf))
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
