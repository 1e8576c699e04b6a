package hosts

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// maxHops bounds a route: a gateway's own ProxyJump is followed, and a
// config whose gateways name each other would otherwise never end.
const maxHops = 8

// none is OpenSSH's word for "no proxy" in ProxyJump and ProxyCommand.
const none = "none"

// hopSpec is one gateway of a ProxyJump value, as written.
type hopSpec struct {
	spec string // the whole item, for messages and Hop.Name
	user string // "" = as the ssh config says
	host string
	port int // 0 = as the ssh config says
}

// parseJump splits a ProxyJump value, "gw1,bob@gw2:2022" (items may also
// be ssh://[user@]host[:port], and an IPv6 host is bracketed), into its
// hops, nearest first. "none" and "" give none.
func parseJump(v string) ([]hopSpec, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == none {
		return nil, nil
	}
	var hops []hopSpec
	for _, item := range strings.Split(v, ",") {
		h, err := parseHop(strings.TrimSpace(item))
		if err != nil {
			return nil, err
		}
		hops = append(hops, h)
	}
	return hops, nil
}

// parseHop reads one [ssh://][user@]host[:port].
func parseHop(item string) (hopSpec, error) {
	h := hopSpec{spec: item}
	rest := strings.TrimPrefix(item, "ssh://")
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		h.user, rest = rest[:i], rest[i+1:]
		if h.user == "" {
			return h, fmt.Errorf("proxy_jump hop %q: empty user before '@'", item)
		}
	}
	h.host = rest
	if host, port, err := net.SplitHostPort(rest); err == nil {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return h, fmt.Errorf("proxy_jump hop %q: port must be 1-65535, got %q", item, port)
		}
		h.host, h.port = host, p
	} else if strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]") {
		h.host = rest[1 : len(rest)-1]
	}
	switch {
	case h.host == "":
		return h, fmt.Errorf("proxy_jump hop %q: no host", item)
	case strings.HasPrefix(h.host, "-") || strings.HasPrefix(h.user, "-"),
		strings.ContainsFunc(rest, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' }):
		// A leading '-' would be an option to ssh -G; the rest is no host name.
		return h, fmt.Errorf("proxy_jump hop %q: not [user@]host[:port]", item)
	}
	return h, nil
}

// resolveRoute fills h's route: the hosts file's proxy_jump or
// proxy_command when it gives one, else the ssh config's (cfg).
func (r Resolver) resolveRoute(ctx context.Context, h *Host, cfg sshConfig, ex explicit) error {
	jump, command := cfg.proxyJump, cfg.proxyCommand
	if ex.route {
		jump, command = ex.jump, h.ProxyCommand
	}
	h.ProxyCommand = ""
	if command != "" && command != none {
		h.ProxyCommand = command
	}
	specs, err := parseJump(jump)
	if err != nil {
		return err
	}
	if len(specs) > 0 && h.ProxyCommand != "" {
		return fmt.Errorf("both a ProxyJump (%s) and a ProxyCommand: give one", jump)
	}
	h.Jump, err = r.resolveHops(ctx, *h, ex, specs, 0)
	return err
}

// resolveHops resolves each gateway of specs through the ssh config, as
// ssh -J does: the first one's own ProxyJump or ProxyCommand there is
// followed, the others are reached through the one before them. A hop
// whose config names no known_hosts or key gets the entry's own, when the
// hosts file gives them: the gateways of a lab are known and reached like
// its hosts.
func (r Resolver) resolveHops(ctx context.Context, h Host, ex explicit, specs []hopSpec, depth int) ([]Hop, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	if depth+len(specs) > maxHops {
		return nil, fmt.Errorf("proxy_jump: more than %d gateways on the way (do the gateways' ProxyJump lines name each other?)", maxHops)
	}
	var hops []Hop
	for i, s := range specs {
		hop, cfg, err := r.resolveHop(ctx, h, ex, s)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			before, err := r.firstHopRoute(ctx, h, ex, &hop, cfg, depth+len(specs))
			if err != nil {
				return nil, err
			}
			hops = append(hops, before...)
		}
		hops = append(hops, hop)
	}
	return hops, nil
}

// firstHopRoute follows the first gateway's own route in the ssh config:
// its ProxyCommand goes into hop, its ProxyJump's gateways come back to
// be put before it.
func (r Resolver) firstHopRoute(ctx context.Context, h Host, ex explicit, hop *Hop, cfg sshConfig, depth int) ([]Hop, error) {
	if cfg.proxyCommand != "" && cfg.proxyCommand != none {
		hop.ProxyCommand = cfg.proxyCommand
		return nil, nil
	}
	specs, err := parseJump(cfg.proxyJump)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: %w", hop.Name, err)
	}
	return r.resolveHops(ctx, h, ex, specs, depth)
}

// resolveHop resolves one gateway: ssh -G with its name, user and port.
func (r Resolver) resolveHop(ctx context.Context, h Host, ex explicit, s hopSpec) (Hop, sshConfig, error) {
	hop := Hop{Name: s.spec, Address: s.host, Port: DefaultPort, User: s.user}
	if s.port > 0 {
		hop.Port = s.port
	}
	var cfg sshConfig
	if r.SSH != "" {
		var err error
		if cfg, err = r.sshG(ctx, s.host, s.port, s.user); err != nil {
			return hop, cfg, fmt.Errorf("gateway %s: %w", s.spec, err)
		}
		hop.Address, hop.Port, hop.User = cfg.hostname, cfg.port, cfg.user
		hop.IdentityFile = r.configIdentity(cfg.identityFiles)
		hop.CertificateFiles = r.certificates(cfg)
		if !isDefaultKnownHosts(cfg.knownHosts) {
			for _, f := range cfg.knownHosts {
				f, err := expandHome(f, r.Home)
				if err != nil {
					return hop, cfg, fmt.Errorf("gateway %s: ssh config UserKnownHostsFile: %w", s.spec, err)
				}
				hop.KnownHosts = append(hop.KnownHosts, f)
			}
		}
	}
	if hop.Address == "" {
		hop.Address = s.host
	}
	if hop.Port == 0 {
		hop.Port = DefaultPort
	}
	if hop.User == "" {
		hop.User = r.User
	}
	if hop.IdentityFile == "" && ex.identityFile {
		hop.IdentityFile = h.IdentityFile
	}
	if len(hop.KnownHosts) == 0 {
		if ex.knownHosts {
			hop.KnownHosts = append([]string(nil), h.KnownHosts...)
		} else {
			f, err := expandHome(DefaultKnownHosts, r.Home)
			if err != nil {
				return hop, cfg, fmt.Errorf("gateway %s: default known_hosts: %w", s.spec, err)
			}
			hop.KnownHosts = []string{f}
		}
	}
	return hop, cfg, nil
}
