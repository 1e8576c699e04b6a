package hosts

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// resolveTimeout bounds one `ssh -G`. It makes no connection, but a config
// may canonicalize host names through DNS or run a `Match exec` command.
const resolveTimeout = 10 * time.Second

// defaultIdentityFiles are the keys OpenSSH tries when no IdentityFile is
// set; `ssh -G` lists them even then, so they say nothing about the config.
var defaultIdentityFiles = []string{"id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "id_xmss", "id_dsa"}

// Resolver resolves host addresses through OpenSSH's configuration. Its
// fields are injectable so tests can point it at a temporary home with its
// own .ssh/config. The zero value resolves nothing and expands no ~.
type Resolver struct {
	// SSH is the ssh binary run as `ssh -G`; "" skips ssh config resolution.
	SSH string
	// Home is the local home directory: ~ in paths expands to it, and
	// Home/.ssh/config is passed to ssh with -F when it exists.
	Home string
	// User is the local user name, the remote user when the hosts file
	// names none and SSH is "". With ssh, `ssh -G` answers instead: the
	// config's User, else the login name of the process, as ssh itself would.
	User string
}

// DefaultResolver returns a Resolver for the current user: ssh from PATH (if
// there), the user's home directory and login name.
func DefaultResolver() Resolver {
	var r Resolver
	if p, err := exec.LookPath("ssh"); err == nil {
		r.SSH = p
	}
	if h, err := os.UserHomeDir(); err == nil {
		r.Home = h
	}
	if u, err := user.Current(); err == nil {
		r.User = u.Username
	} else {
		r.User = os.Getenv("USER")
	}
	return r
}

// sshConfig is the part of `ssh -G` output mljob uses.
type sshConfig struct {
	hostname         string
	port             int
	user             string
	knownHosts       []string
	identityFiles    []string
	certificateFiles []string
	proxyJump        string // as written: "gw1,bob@gw2:2022"; "" = none
	proxyCommand     string // tokens unexpanded; "" = none
}

// resolve fills h's address, port, user, known_hosts, identity file,
// certificates and route (ProxyJump, ProxyCommand) from the ssh config,
// keeping every value the hosts file set explicitly.
func (r Resolver) resolve(ctx context.Context, h *Host, ex explicit) error {
	h.Alias = h.Address
	var cfg sshConfig
	if r.SSH != "" {
		var err error
		port, user := 0, ""
		if ex.port {
			port = h.Port
		}
		if ex.user {
			user = h.User
		}
		if cfg, err = r.sshG(ctx, h.Address, port, user); err != nil {
			return err
		}
		if err := r.apply(h, cfg, ex); err != nil {
			return err
		}
	}
	if h.Alias == h.Address {
		h.Alias = ""
	}
	if h.User == "" {
		h.User = r.User
	}
	if len(h.KnownHosts) == 0 {
		f, err := expandHome(DefaultKnownHosts, r.Home)
		if err != nil {
			return fmt.Errorf("default known_hosts: %w", err)
		}
		h.KnownHosts = []string{f}
	}
	return r.resolveRoute(ctx, h, cfg, ex)
}

// apply sets what `ssh -G` said of h, where the hosts file did not.
func (r Resolver) apply(h *Host, cfg sshConfig, ex explicit) error {
	if cfg.hostname != "" {
		h.Address = cfg.hostname
	}
	if !ex.port && cfg.port > 0 {
		h.Port = cfg.port
	}
	if !ex.user && cfg.user != "" {
		h.User = cfg.user
	}
	if !ex.knownHosts && !isDefaultKnownHosts(cfg.knownHosts) {
		for _, f := range cfg.knownHosts {
			f, err := expandHome(f, r.Home)
			if err != nil {
				return fmt.Errorf("ssh config UserKnownHostsFile: %w", err)
			}
			h.KnownHosts = append(h.KnownHosts, f)
		}
	}
	if !ex.identityFile {
		h.IdentityFile = r.configIdentity(cfg.identityFiles)
	}
	h.CertificateFiles = r.certificates(cfg)
	return nil
}

// sshG runs `ssh -G` for address: OpenSSH's own resolution of Host
// blocks, Match rules and includes, with no connection made. A port or
// user other than 0 and "" is passed as ssh -p and -l would be.
func (r Resolver) sshG(ctx context.Context, address string, port int, user string) (sshConfig, error) {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	args := []string{"-G"}
	if r.Home != "" {
		// ssh reads the config of the passwd home, not $HOME; -F makes it
		// read the Resolver's. -F also skips /etc/ssh/ssh_config, so it is
		// passed only when the file is there.
		cfg := filepath.Join(r.Home, ".ssh", "config")
		if _, err := os.Stat(cfg); err == nil {
			args = append(args, "-F", cfg)
		}
	}
	if port > 0 {
		args = append(args, "-p", strconv.Itoa(port))
	}
	if user != "" {
		args = append(args, "-l", user)
	}
	// "--" so an address can never be read as an option (validation also
	// refuses a leading '-').
	args = append(args, "--", address)

	cmd := exec.CommandContext(ctx, r.SSH, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := lastStderrLine(stderr.String()); msg != "" {
			return sshConfig{}, fmt.Errorf("resolve %q with ssh -G: %s", address, msg)
		}
		return sshConfig{}, fmt.Errorf("resolve %q with ssh -G: %w", address, err)
	}
	return parseSSHG(stdout.Bytes())
}

// lastStderrLine returns the last non-empty line of s: ssh puts its reason there.
func lastStderrLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// parseSSHG reads `ssh -G` output: one "keyword value" per line, keywords
// lower case, identityfile repeated.
func parseSSHG(out []byte) (sshConfig, error) {
	var cfg sshConfig
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), " ")
		val = strings.TrimSpace(val)
		switch key {
		case "hostname":
			cfg.hostname = val
		case "port":
			p, err := strconv.Atoi(val)
			if err != nil {
				return cfg, fmt.Errorf("parse ssh -G port %q: %w", val, err)
			}
			cfg.port = p
		case "user":
			cfg.user = val
		case "userknownhostsfile":
			cfg.knownHosts = strings.Fields(val)
		case "identityfile":
			cfg.identityFiles = append(cfg.identityFiles, val)
		case "certificatefile":
			cfg.certificateFiles = append(cfg.certificateFiles, val)
		case "proxyjump":
			cfg.proxyJump = val
		case "proxycommand":
			cfg.proxyCommand = val
		}
	}
	if err := sc.Err(); err != nil {
		return cfg, fmt.Errorf("read ssh -G output: %w", err)
	}
	return cfg, nil
}

// isDefaultKnownHosts reports whether files is OpenSSH's built-in
// UserKnownHostsFile (~/.ssh/known_hosts ~/.ssh/known_hosts2), which ssh -G
// prints expanded with the passwd home. mljob's own default is used then:
// known_hosts2 is deprecated and usually absent.
func isDefaultKnownHosts(files []string) bool {
	if len(files) != 2 {
		return len(files) == 0
	}
	d0, b0 := filepath.Split(files[0])
	d1, b1 := filepath.Split(files[1])
	return b0 == "known_hosts" && b1 == "known_hosts2" && d0 == d1 && filepath.Base(d0) == ".ssh"
}

// configIdentity returns the first identity file named in an ssh config that
// exists, or "". OpenSSH's default key names are skipped: ssh -G lists them
// even when no IdentityFile is set, and offering them is the agent's job.
func (r Resolver) configIdentity(files []string) string {
	for _, f := range files {
		dir, base := filepath.Split(f)
		if filepath.Base(dir) == ".ssh" && slices.Contains(defaultIdentityFiles, base) {
			continue
		}
		p, err := expandHome(f, r.Home)
		if err != nil {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// certificates returns the user certificates an ssh config offers, those
// that exist: its CertificateFile lines, and KEY-cert.pub beside each of
// OpenSSH's default keys, which ssh offers with the agent's copy of the
// key. (The one beside the identity file mljob uses, sshconn finds.)
func (r Resolver) certificates(cfg sshConfig) []string {
	var out []string
	add := func(f string) {
		p, err := expandHome(f, r.Home)
		if err != nil || slices.Contains(out, p) {
			return
		}
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	for _, f := range cfg.certificateFiles {
		add(f)
	}
	for _, f := range cfg.identityFiles {
		dir, base := filepath.Split(f)
		if filepath.Base(dir) == ".ssh" && slices.Contains(defaultIdentityFiles, base) {
			add(f + "-cert.pub")
		}
	}
	return out
}
