package hosts

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mljob/mljob/internal/slurm/sbatchopt"
)

// The shapes of names, GPU ids and env keys: each ends up in a path, a
// CUDA_VISIBLE_DEVICES list or a shell word on the host.
var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	gpuRE    = regexp.MustCompile(`^[0-9A-Za-z-]+$`)
	envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// checkSettings validates the keys shared by defaults and hosts; where names
// the part of the file for messages.
func (p *parser) checkSettings(s settings, node *yaml.Node, where string) {
	line := func(key string) int { return p.line(node, key, lineOf(node)) }
	ok := func(key string) bool { return p.valid(node, key) }
	if s.Python != nil && *s.Python == "" && ok("python") {
		p.addf(line("python"), "%s: python must not be empty", where)
	}
	if s.Workdir != nil && *s.Workdir == "" && ok("workdir") {
		p.addf(line("workdir"), "%s: workdir must not be empty", where)
	}
	if s.KnownHosts != nil && ok("known_hosts") {
		if len(*s.KnownHosts) == 0 {
			p.addf(line("known_hosts"), "%s: known_hosts must name at least one file (host key verification is never off)", where)
		}
		for _, f := range *s.KnownHosts {
			if f == "" {
				p.addf(line("known_hosts"), "%s: known_hosts has an empty path", where)
			} else if _, err := expandHome(f, p.home); err != nil {
				p.addf(line("known_hosts"), "%s: known_hosts: %v", where, err)
			}
		}
	}
	if s.IdentityFile != nil && *s.IdentityFile != "" && ok("identity_file") {
		if _, err := expandHome(*s.IdentityFile, p.home); err != nil {
			p.addf(line("identity_file"), "%s: identity_file: %v", where, err)
		}
	}
	if s.MaxLoad != nil && ok("max_load") {
		if v := *s.MaxLoad; v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			p.addf(line("max_load"), "%s: max_load must be a number >= 0, got %v", where, v)
		}
	}
	if s.ConnectTimeout != nil && *s.ConnectTimeout <= 0 && ok("connect_timeout") {
		p.addf(line("connect_timeout"), "%s: connect_timeout must be positive, got %v", where, *s.ConnectTimeout)
	}
	env := p.value(node, "env")
	for _, k := range sortedKeys(s.Env) {
		if !envKeyRE.MatchString(k) {
			l := lineOf(env)
			if env != nil {
				for i := 0; i+1 < len(env.Content); i += 2 {
					if env.Content[i].Value == k {
						l = env.Content[i].Line
					}
				}
			}
			p.addf(l, "%s: bad env key %q: use letters, digits and '_', not starting with a digit", where, k)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkHost validates one entry and merges the defaults into it.
func (p *parser) checkHost(e hostEntry, node *yaml.Node, where string, d settings) parsedHost {
	entryLine := lineOf(node)
	line := func(key string) int { return p.line(node, key, entryLine) }
	has := func(key string) bool { return p.value(node, key) != nil }
	ok := func(key string) bool { return p.valid(node, key) }

	switch {
	case e.Name == "" && ok("name"):
		p.addf(line("name"), "%s: missing name", where)
	case e.Name != "" && !nameRE.MatchString(e.Name):
		// The name becomes part of paths (run dirs, logs), so it is kept plain.
		p.addf(line("name"), "%s: bad name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", where, e.Name)
	}

	kind := KindSSH
	if e.Kind != "" {
		kind = Kind(e.Kind)
	}
	switch kind {
	case KindSSH, KindSlurm:
	case KindLocal:
		p.addf(line("kind"), "%s: kind %q cannot be used in a hosts file: the local machine is the host when no hosts file is given", where, e.Kind)
	default:
		if ok("kind") {
			kinds := make([]string, len(fileKinds))
			for i, k := range fileKinds {
				kinds[i] = string(k)
			}
			p.addf(line("kind"), "%s: unknown kind %q (supported: %s)", where, e.Kind, strings.Join(kinds, ", "))
		}
	}
	slurm := kind == KindSlurm
	local := slurm && e.Local

	if kind == KindSSH {
		// An unknown kind is reported above; these would only add noise.
		for _, key := range []string{"local", "sbatch"} {
			if has(key) && ok(key) {
				p.addf(line(key), "%s: %s applies only to kind: slurm entries: add kind: slurm or remove %s", where, key, key)
			}
		}
	}

	if local {
		// mljob runs sbatch and friends on this machine: connection keys
		// would be silently ignored, so they are refused.
		for _, key := range []string{"address", "port", "user", "identity_file", "known_hosts"} {
			if has(key) && ok(key) {
				p.addf(line(key), "%s: %s: a local: true entry is not reached over SSH; remove %s, or local: true to reach the login node over SSH", where, key, key)
			}
		}
	} else {
		switch {
		case e.Address == "" && ok("address") && ok("local"):
			// With local unreadable, whether an address is needed is unknown.
			p.addf(line("address"), "%s: missing address", where)
		case strings.HasPrefix(e.Address, "-") || strings.ContainsFunc(e.Address, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			// A leading '-' would be read as an option by ssh.
			p.addf(line("address"), "%s: bad address %q", where, e.Address)
		}
	}

	if !local && e.Port != nil && ok("port") && (*e.Port < 1 || *e.Port > 65535) {
		p.addf(line("port"), "%s: port must be 1-65535, got %d", where, *e.Port)
	}

	slots := 1
	if slurm {
		slots = DefaultSlurmSlots
	}
	if e.Slots != nil {
		slots = *e.Slots
		if slots < 1 {
			p.addf(line("slots"), "%s: slots must be at least 1, got %d", where, slots)
		}
	}
	var gpus []string
	switch {
	case slurm && has("gpus") && ok("gpus"):
		p.addf(line("gpus"), "%s: a slurm entry gets GPUs from sbatch options such as --gres=gpu:1, not gpus; move them to sbatch", where)
	case has("gpus") && ok("gpus"):
		if e.Slots != nil {
			p.addf(line("slots"), "%s: give slots or gpus, not both (gpus gives one slot per GPU)", where)
		}
		if len(e.GPUs) == 0 {
			p.addf(line("gpus"), "%s: gpus must list at least one GPU id", where)
		}
		seen := map[string]bool{}
		for _, g := range e.GPUs {
			switch {
			case !gpuRE.MatchString(g):
				p.addf(line("gpus"), "%s: bad gpu id %q: use digits, letters and '-' (a GPU index or MIG id)", where, g)
			case seen[g]:
				p.addf(line("gpus"), "%s: gpu id %q listed twice", where, g)
			}
			seen[g] = true
		}
		gpus = slices.Clone(e.GPUs)
		slots = len(gpus)
	}

	if slurm && e.MaxLoad != nil && ok("max_load") {
		p.addf(line("max_load"), "%s: max_load does not apply to a slurm entry: Slurm decides where runs go; remove it", where)
	}
	var sbatch []string
	if slurm && ok("sbatch") {
		p.checkSbatch(e.Sbatch, p.value(node, "sbatch"), where)
		if len(e.Sbatch) > 0 {
			sbatch = slices.Clone(e.Sbatch)
		}
	}

	p.checkSettings(e.settings, node, where)

	h := parsedHost{Host: Host{
		Name:           e.Name,
		Kind:           kind,
		Address:        e.Address,
		Port:           DefaultPort,
		Python:         DefaultPython,
		Workdir:        DefaultWorkdir,
		Slots:          slots,
		GPUs:           gpus,
		ConnectTimeout: DefaultConnectTimeout,
		Local:          local,
		Sbatch:         sbatch,
		Line:           entryLine,
	}}
	if local {
		// As LocalHost: no address, port, user or keys; the defaults' are
		// for the hosts reached over SSH.
		h.Address, h.Port = "", 0
	} else {
		if e.Port != nil {
			h.Port = *e.Port
			h.explicit.port = true
		}
		if v := pick(e.User, d.User); v != nil {
			h.User = *v
			h.explicit.user = true
		}
		if v := pick(e.IdentityFile, d.IdentityFile); v != nil {
			h.IdentityFile, _ = expandHome(*v, p.home) // error reported by checkSettings
			h.explicit.identityFile = true
		}
		if v := pick(e.KnownHosts, d.KnownHosts); v != nil {
			for _, f := range *v {
				f, _ = expandHome(f, p.home)
				h.KnownHosts = append(h.KnownHosts, f)
			}
			h.explicit.knownHosts = true
		}
	}
	if v := pick(e.Python, d.Python); v != nil {
		h.Python = *v
	}
	if v := pick(e.Workdir, d.Workdir); v != nil {
		h.Workdir = *v
	}
	if v := pick(e.MaxLoad, d.MaxLoad); v != nil && !slurm {
		h.MaxLoad = *v
	}
	if v := pick(e.ConnectTimeout, d.ConnectTimeout); v != nil {
		h.ConnectTimeout = *v
	}
	env := map[string]string{}
	for k, v := range d.Env {
		env[k] = v
	}
	for k, v := range e.Env { // host keys win
		env[k] = v
	}
	for _, k := range sortedKeys(env) {
		h.Env = append(h.Env, EnvVar{Key: k, Value: env[k]})
	}
	return h
}

// checkSbatch validates a slurm entry's sbatch options; node is the sbatch
// list, whose items give each option its own line.
func (p *parser) checkSbatch(opts []string, node *yaml.Node, where string) {
	for i, o := range opts {
		line := lineOf(node)
		if node != nil && node.Kind == yaml.SequenceNode && len(node.Content) == len(opts) {
			line = node.Content[i].Line
		}
		if msg := sbatchopt.Problem(o); msg != "" {
			p.addf(line, "%s: %s", where, msg)
		}
	}
}

// pick returns the host's own value when given, else the default's.
func pick[T any](own, def *T) *T {
	if own != nil {
		return own
	}
	return def
}

// expandHome expands a leading ~ or ~/ with home. ~user is refused: it needs
// the password database of the machine the path is read on.
func expandHome(path, home string) (string, error) {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		if strings.HasPrefix(path, "~") {
			return path, fmt.Errorf("%q: ~user paths are not supported, write the full path", path)
		}
		return path, nil
	}
	if home == "" {
		return path, fmt.Errorf("%q: cannot expand ~: home directory unknown", path)
	}
	return home + path[1:], nil
}
