package sshconn

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// JumpError is a gateway (Config.Jump) that could not be reached or
// refused us: the host behind it was never asked. Err is the gateway's
// own dial error (a *HostKeyError, an *AuthError, a refused TCP
// connection, or another JumpError for the gateway before it), so
// errors.As and errors.Is see through it to the cause and its fix.
type JumpError struct {
	Hop string // the gateway's name, as ProxyJump gives it
	Err error
}

// Error names the gateway and says what went wrong there.
func (e *JumpError) Error() string { return "through gateway " + e.Hop + ": " + e.Err.Error() }

// Unwrap returns the gateway's error.
func (e *JumpError) Unwrap() error { return e.Err }

// FailedHop returns the gateway on the way that failed, the one nearest
// this machine when gateways are chained, or "" when err did not come
// from a gateway.
func FailedHop(err error) string {
	hop := ""
	for {
		var je *JumpError
		if !errors.As(err, &je) {
			return hop
		}
		hop, err = je.Hop, je.Err
	}
}

// ForwardError is a gateway that is connected but would not open a
// connection to the host behind it: the host is down or named wrongly as
// the gateway sees it, or the gateway's sshd forbids forwarding.
type ForwardError struct {
	Hop    string // the gateway
	Target string // host:port asked for
	Err    error  // x/crypto's, usually an *ssh.OpenChannelError
}

// Error says which gateway could not reach what.
func (e *ForwardError) Error() string {
	return fmt.Sprintf("gateway %s could not connect to %s: %v", e.Hop, e.Target, e.Err)
}

// Unwrap returns x/crypto's error.
func (e *ForwardError) Unwrap() error { return e.Err }

// Route says how cfg is reached, for messages: "" when directly, else
// "via gw1, gw2" (the gateways from this machine on) or "via proxy
// command", which may come first when the first gateway is itself
// reached through one.
func (cfg Config) Route() string {
	var hops []string
	for j := cfg.Jump; j != nil; j = j.Jump {
		hops = append([]string{j.Name}, hops...)
		if j.ProxyCommand != "" {
			hops = append([]string{"proxy command"}, hops...)
		}
	}
	if cfg.ProxyCommand != "" {
		hops = append(hops, "proxy command")
	}
	if len(hops) == 0 {
		return ""
	}
	return "via " + strings.Join(hops, ", ")
}

// jumps holds the gateways' Clients of this process.
var jumps jumpPool

// jumpPool shares one Client per gateway among the Clients behind it, so
// that a hundred hosts behind one bastion make one connection to it, as
// ssh's ControlMaster would. A gateway's Client connects when a host
// behind it first needs it, redials after a loss like any Client (the
// hosts behind it lose their connections with it and redial through the
// new one), and is closed when the last Client behind it closes.
type jumpPool struct {
	mu sync.Mutex // guards m
	m  map[string]*jumpRef
}

// jumpRef is a gateway's Client and how many Clients use it.
type jumpRef struct {
	c *Client
	n int
}

// jumpKey names a gateway by everything that shapes the connection to
// it: hosts reached through the same gateway with different keys or
// known_hosts files get connections of their own.
func jumpKey(cfg Config) string {
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(fmt.Sprintf("sshconn: jump key: %v", err)) // Config holds strings, numbers and Configs
	}
	return string(b)
}

// acquire returns the Client of the gateway cfg, made if need be,
// without connecting it. Each acquire is matched by a release, which
// Client.Close does.
func (p *jumpPool) acquire(cfg Config) (*Client, error) {
	key := jumpKey(cfg)
	if c := p.ref(key); c != nil {
		return c, nil
	}
	// Made outside the lock: a gateway behind a gateway acquires its own.
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	c.jumpKey = key
	p.mu.Lock()
	if r, ok := p.m[key]; ok {
		// Another host made it meanwhile: use theirs.
		r.n++
		p.mu.Unlock()
		c.Close()
		return r.c, nil
	}
	if p.m == nil {
		p.m = map[string]*jumpRef{}
	}
	p.m[key] = &jumpRef{c: c, n: 1}
	p.mu.Unlock()
	return c, nil
}

// ref counts one more user of the gateway key names and returns its
// Client, or nil when there is none.
func (p *jumpPool) ref(key string) *Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r, ok := p.m[key]; ok {
		r.n++
		return r.c
	}
	return nil
}

// release counts one user fewer of the gateway c and closes it after the
// last.
func (p *jumpPool) release(c *Client) {
	p.mu.Lock()
	r, ok := p.m[c.jumpKey]
	if !ok || r.c != c {
		p.mu.Unlock()
		return
	}
	r.n--
	last := r.n == 0
	if last {
		delete(p.m, c.jumpKey)
	}
	p.mu.Unlock()
	if last {
		c.Close()
	}
}
