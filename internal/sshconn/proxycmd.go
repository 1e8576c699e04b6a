package sshconn

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds on a proxy command's life around a failure and a close.
const (
	// proxyExitWait is how long a failed handshake waits for the proxy
	// command to exit on its own, so that its exit status and last words
	// are in the error rather than the kill's.
	proxyExitWait = 2 * time.Second
	// proxyKillWait is how long Close waits after SIGHUP (what OpenSSH
	// sends its proxy command) before SIGKILL.
	proxyKillWait = 2 * time.Second
	// proxyStderrTail is how much of the command's stderr is kept.
	proxyStderrTail = 4 << 10
)

// proxyValueRE is what a value put into a proxy command may hold: no
// character the shell acts on, so that the value stays one word whatever
// quoting the user wrote around the token.
var proxyValueRE = regexp.MustCompile(`^[A-Za-z0-9._:%@+-]*$`)

// ExpandProxyCommand expands OpenSSH's tokens in command for the host cfg
// names: %h its address, %p its port, %r the remote user, %n the alias
// the hosts file gave (else the address), %% a percent sign.
//
// The values go in as they are, unquoted, as OpenSSH puts them in: the
// command is the user's own text, and quoting of our own would break a
// command that already quotes its tokens ("%h:%p"). What keeps them from
// reaching the shell as code is a check instead: a value holding anything
// but letters, digits and . _ : % @ + -, or beginning with '-', is
// refused, as OpenSSH 9.6 and later refuse such names.
func ExpandProxyCommand(command string, cfg Config) (string, error) {
	port := cfg.Port
	if port == 0 {
		port = DefaultPort
	}
	alias := cfg.Alias
	if alias == "" {
		alias = cfg.Address
	}
	values := map[byte]string{'h': cfg.Address, 'p': strconv.Itoa(port), 'r': cfg.User, 'n': alias}
	var b strings.Builder
	for i := 0; i < len(command); i++ {
		ch := command[i]
		if ch != '%' {
			b.WriteByte(ch)
			continue
		}
		if i+1 == len(command) {
			return "", fmt.Errorf("proxy command %q ends in a lone %%: write %%%% for a percent sign", command)
		}
		i++
		if command[i] == '%' {
			b.WriteByte('%')
			continue
		}
		v, ok := values[command[i]]
		if !ok {
			return "", fmt.Errorf("proxy command %q: token %%%c is not supported: mljob expands %%h %%p %%r %%n and %%%%", command, command[i])
		}
		if !proxyValueRE.MatchString(v) || strings.HasPrefix(v, "-") {
			return "", fmt.Errorf("proxy command %q: %%%c would be %q, which the shell could read as more than a name: use a plain host and user name", command, command[i], v)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// ProxyError is a proxy command that ended, or failed to start, before
// the SSH connection over it was made: what it said on stderr is the
// reason.
type ProxyError struct {
	Command string // as run, tokens expanded
	Exit    error  // how it ended: an *exec.ExitError, or why it did not start
	Stderr  string // the end of its stderr
	Err     error  // what the handshake saw
}

// Error names the command, how it ended and what it said.
func (e *ProxyError) Error() string {
	msg := fmt.Sprintf("proxy command %q: %v", e.Command, e.Err)
	if e.Exit != nil && e.Exit != e.Err {
		msg += " (the command ended: " + e.Exit.Error() + ")"
	}
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + strings.Join(strings.Fields(s), " ")
	}
	return msg
}

// Unwrap returns what the handshake saw.
func (e *ProxyError) Unwrap() error { return e.Err }

// proxyConn is the connection a proxy command carries: two pipes, its
// stdin and its stdout, as OpenSSH gives it. os.Pipe's files have
// deadlines, so the handshake is bounded as over TCP. Closing it ends
// the command.
type proxyConn struct {
	w      *os.File // the command's stdin
	r      *os.File // the command's stdout
	line   string
	cmd    *exec.Cmd
	stderr *tailBuffer // written by exec's copier while we read

	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error         // cmd.Wait's, readable once exited is closed

	closeOnce sync.Once
	closeErr  error
}

// startProxy runs line with /bin/sh, as OpenSSH runs a ProxyCommand
// ("exec" first, so that the command itself gets the signals), in a
// process group of its own so that Close reaches what it started.
func startProxy(line string) (*proxyConn, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("proxy command: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("proxy command: %w", err)
	}
	// The command holds its own copies once started.
	defer inR.Close()
	defer outW.Close()
	p := &proxyConn{w: inW, r: outR, line: line, stderr: &tailBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command("/bin/sh", "-c", "exec "+line)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = inR, outW, p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A grandchild that keeps stderr open must not hold Wait forever.
	p.cmd.WaitDelay = proxyKillWait
	if err := p.cmd.Start(); err != nil {
		inW.Close()
		outR.Close()
		return nil, &ProxyError{Command: line, Exit: err, Err: err}
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Read reads what the command writes to its stdout.
func (p *proxyConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// Write writes to the command's stdin.
func (p *proxyConn) Write(b []byte) (int, error) { return p.w.Write(b) }

// proxyAddr stands for both ends' addresses: the command has them. It
// is a zero TCP address, as x/crypto gives a channel through a gateway,
// because knownhosts parses the remote address as host:port.
var proxyAddr = &net.TCPAddr{IP: net.IPv4zero}

// LocalAddr and RemoteAddr name no address: the command has it.
func (p *proxyConn) LocalAddr() net.Addr  { return proxyAddr }
func (p *proxyConn) RemoteAddr() net.Addr { return proxyAddr }

// SetDeadline sets both pipes' deadlines; SetReadDeadline and
// SetWriteDeadline one each.
func (p *proxyConn) SetDeadline(t time.Time) error {
	return errors.Join(p.r.SetReadDeadline(t), p.w.SetWriteDeadline(t))
}
func (p *proxyConn) SetReadDeadline(t time.Time) error  { return p.r.SetReadDeadline(t) }
func (p *proxyConn) SetWriteDeadline(t time.Time) error { return p.w.SetWriteDeadline(t) }

// failure explains a handshake over the proxy that failed. A host key or
// authentication refusal is the host's word, passed on as it is;
// anything else is most likely the command's doing, so it is given
// proxyExitWait to exit and its exit status and stderr go into the error.
func (p *proxyConn) failure(err error) error {
	var hk *HostKeyError
	if errors.As(err, &hk) || strings.Contains(err.Error(), "unable to authenticate") {
		return err
	}
	t := time.NewTimer(proxyExitWait)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
	}
	p.Close()
	return &ProxyError{Command: p.line, Exit: p.waitErr, Stderr: p.stderr.String(), Err: err}
}

// Close closes our end, sends the command's process group SIGHUP, as
// OpenSSH does, then SIGKILL if it is still there after proxyKillWait,
// and waits for the command.
func (p *proxyConn) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = errors.Join(p.w.Close(), p.r.Close())
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGHUP)
		t := time.NewTimer(proxyKillWait)
		defer t.Stop()
		select {
		case <-p.exited:
		case <-t.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.exited
		}
	})
	return p.closeErr
}

// tailBuffer keeps the last proxyStderrTail bytes written to it.
type tailBuffer struct {
	mu sync.Mutex // guards b
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > proxyStderrTail {
		t.b = append(t.b[:0], t.b[len(t.b)-proxyStderrTail:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
