package hosts

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mljob/mljob/internal/artifacts"
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
	p.checkRoute(s, line, ok, where)
	if s.MaxLoad != nil && ok("max_load") {
		if v := *s.MaxLoad; v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			p.addf(line("max_load"), "%s: max_load must be a number >= 0, got %v", where, v)
		}
	}
	if s.LockDir != nil && ok("lock_dir") && !strings.HasPrefix(*s.LockDir, "/") && !strings.HasPrefix(*s.LockDir, "~/") {
		p.addf(line("lock_dir"), "%s: lock_dir must be an absolute path (or ~/...) on the host, got %q", where, *s.LockDir)
	}
	if s.GPUBusy != nil && ok("gpu_busy") {
		if _, err := ParseGPUBusy(*s.GPUBusy); err != nil {
			p.addf(line("gpu_busy"), "%s: %v", where, err)
		}
	}
	if s.ArtifactsCap != nil && ok("artifacts_cap") {
		if _, err := artifacts.ParseSize(*s.ArtifactsCap); err != nil {
			p.addf(line("artifacts_cap"), "%s: artifacts_cap: %v", where, err)
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

// entry is one host entry being checked: its node gives each message its
// line (the key's, else the entry's), and where names the entry.
type entry struct {
	p     *parser
	node  *yaml.Node
	where string
}

// line returns the line of key's value, or the entry's line when absent.
func (c entry) line(key string) int { return c.p.line(c.node, key, lineOf(c.node)) }

// has reports whether the entry gives key, whatever its value.
func (c entry) has(key string) bool { return c.p.value(c.node, key) != nil }

// ok reports whether key is absent or decoded without a type error, so a
// value already reported is not reported again.
func (c entry) ok(key string) bool { return c.p.valid(c.node, key) }

// addf reports a problem of the entry at key's line, after the entry's name.
func (c entry) addf(key, format string, args ...any) {
	c.p.addf(c.line(key), "%s: "+format, append([]any{c.where}, args...)...)
}

// checkHost validates one entry and merges the defaults into it.
func (p *parser) checkHost(e hostEntry, node *yaml.Node, where string, d settings) parsedHost {
	c := entry{p: p, node: node, where: where}
	c.checkName(e.Name)
	kind := c.checkKind(e.Kind)
	slurm := kind == KindSlurm
	local := slurm && e.Local
	if kind == KindSSH {
		// An unknown kind is reported by checkKind; these would only add noise.
		for _, key := range []string{"local", "sbatch"} {
			if c.has(key) && c.ok(key) {
				c.addf(key, "%s applies only to kind: slurm entries: add kind: slurm or remove %s", key, key)
			}
		}
	}
	c.checkConnection(e, local)
	slots, gpus := c.checkSlots(e, slurm)
	perGPU := c.checkRunsPerGPU(e, gpus)
	slots *= max(perGPU, 1)
	var sbatch []string
	if slurm {
		sbatch = c.checkSlurm(e)
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
		RunsPerGPU:     perGPU,
		LockDir:        DefaultLockDir,
		GPUBusy:        DefaultGPUBusy,
		ConnectTimeout: DefaultConnectTimeout,
		Local:          local,
		Sbatch:         sbatch,
		Line:           lineOf(node),
	}}
	if local {
		// As LocalHost: no address, port, user or keys; the defaults' are
		// for the hosts reached over SSH.
		h.Address, h.Port = "", 0
	} else {
		p.mergeConnection(&h, e, d)
	}
	mergeSettings(&h, e.settings, d)
	return h
}

// checkName checks the entry's name, which becomes part of paths (run dirs,
// logs), so it is kept plain.
func (c entry) checkName(name string) {
	switch {
	case name == "" && c.ok("name"):
		c.addf("name", "missing name")
	case name != "" && !nameRE.MatchString(name):
		c.addf("name", "bad name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
}

// checkKind checks the entry's kind and returns it; an entry that names
// none is of kind ssh.
func (c entry) checkKind(name string) Kind {
	kind := KindSSH
	if name != "" {
		kind = Kind(name)
	}
	switch kind {
	case KindSSH, KindSlurm:
	case KindLocal:
		c.addf("kind", "kind %q cannot be used in a hosts file: the local machine is the host when no hosts file is given", name)
	default:
		if c.ok("kind") {
			kinds := make([]string, len(fileKinds))
			for i, k := range fileKinds {
				kinds[i] = string(k)
			}
			c.addf("kind", "unknown kind %q (supported: %s)", name, strings.Join(kinds, ", "))
		}
	}
	return kind
}

// checkConnection checks how the entry is reached: its address and port,
// or, for a local: true entry, that it gives no connection keys at all.
func (c entry) checkConnection(e hostEntry, local bool) {
	if local {
		// mljob runs sbatch and friends on this machine: connection keys
		// would be silently ignored, so they are refused.
		for _, key := range []string{"address", "port", "user", "identity_file", "known_hosts", "proxy_jump", "proxy_command"} {
			if c.has(key) && c.ok(key) {
				c.addf(key, "%s: a local: true entry is not reached over SSH; remove %s, or local: true to reach the login node over SSH", key, key)
			}
		}
		return
	}
	switch {
	case e.Address == "" && c.ok("address") && c.ok("local"):
		// With local unreadable, whether an address is needed is unknown.
		c.addf("address", "missing address")
	case strings.HasPrefix(e.Address, "-") || strings.ContainsFunc(e.Address, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		// A leading '-' would be read as an option by ssh.
		c.addf("address", "bad address %q", e.Address)
	}
	if e.Port != nil && c.ok("port") && (*e.Port < 1 || *e.Port > 65535) {
		c.addf("port", "port must be 1-65535, got %d", *e.Port)
	}
}

// checkSlots checks slots and gpus and returns the entry's slots and GPU
// ids: one slot per GPU when gpus is given. A slurm entry's slots are its
// array tasks in flight; its GPUs come from sbatch options instead.
func (c entry) checkSlots(e hostEntry, slurm bool) (int, []string) {
	slots := 1
	if slurm {
		slots = DefaultSlurmSlots
	}
	if e.Slots != nil && c.ok("slots") {
		// A value with a type error decodes as 0: it is reported once.
		slots = *e.Slots
		if slots < 1 {
			c.addf("slots", "slots must be at least 1, got %d", slots)
		}
	}
	if !c.has("gpus") || !c.ok("gpus") {
		return slots, nil
	}
	if slurm {
		c.addf("gpus", "a slurm entry gets GPUs from sbatch options such as --gres=gpu:1, not gpus; move them to sbatch")
		return slots, nil
	}
	if e.Slots != nil {
		c.addf("slots", "give slots or gpus, not both (gpus gives one slot per GPU)")
	}
	if len(e.GPUs) == 0 {
		c.addf("gpus", "gpus must list at least one GPU id")
	}
	seen := map[string]bool{}
	for _, g := range e.GPUs {
		switch {
		case !gpuRE.MatchString(g):
			c.addf("gpus", "bad gpu id %q: use digits, letters and '-' (a GPU index or MIG id)", g)
		case seen[g]:
			c.addf("gpus", "gpu id %q listed twice", g)
		}
		seen[g] = true
	}
	return len(e.GPUs), slices.Clone(e.GPUs)
}

// checkRunsPerGPU checks runs_per_gpu: N runs share each GPU, so it needs
// gpus.
func (c entry) checkRunsPerGPU(e hostEntry, gpus []string) int {
	if e.RunsPerGPU == nil || !c.ok("runs_per_gpu") {
		return 1
	}
	n := *e.RunsPerGPU
	switch {
	case n < 1:
		c.addf("runs_per_gpu", "runs_per_gpu must be at least 1, got %d", n)
		return 1
	case len(gpus) == 0:
		c.addf("runs_per_gpu", "runs_per_gpu needs gpus: list the GPUs the runs share")
		return 1
	}
	return n
}

// checkSlurm checks the keys of a slurm entry that Slurm, not mljob, acts
// on, and returns the entry's sbatch options (nil when none).
func (c entry) checkSlurm(e hostEntry) []string {
	if e.MaxLoad != nil && c.ok("max_load") {
		c.addf("max_load", "max_load does not apply to a slurm entry: Slurm decides where runs go; remove it")
	}
	if !c.ok("sbatch") {
		return nil
	}
	c.p.checkSbatch(e.Sbatch, c.p.value(c.node, "sbatch"), c.where)
	if len(e.Sbatch) == 0 {
		return nil
	}
	return slices.Clone(e.Sbatch)
}

// mergeConnection sets how h is reached from the entry, else the defaults,
// and records which values the file set itself, so the ssh config does not
// override them.
func (p *parser) mergeConnection(h *parsedHost, e hostEntry, d settings) {
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
	// The entry's route, or else the defaults': never one key of each.
	src := d
	if e.ProxyJump != nil || e.ProxyCommand != nil {
		src = e.settings
	}
	if src.ProxyJump != nil || src.ProxyCommand != nil {
		h.explicit.route = true
		if src.ProxyJump != nil {
			h.explicit.jump = *src.ProxyJump
		}
		if src.ProxyCommand != nil {
			h.ProxyCommand = *src.ProxyCommand
		}
	}
}

// checkRoute checks proxy_jump and proxy_command of one settings block.
func (p *parser) checkRoute(s settings, line func(string) int, ok func(string) bool, where string) {
	given := func(v *string) bool { return v != nil && strings.TrimSpace(*v) != none }
	if s.ProxyJump != nil && ok("proxy_jump") {
		if strings.TrimSpace(*s.ProxyJump) == "" {
			p.addf(line("proxy_jump"), "%s: proxy_jump is empty: name the gateway ([user@]host[:port], several separated by commas), or none", where)
		} else if _, err := parseJump(*s.ProxyJump); err != nil {
			p.addf(line("proxy_jump"), "%s: %v", where, err)
		}
	}
	if s.ProxyCommand != nil && ok("proxy_command") && strings.TrimSpace(*s.ProxyCommand) == "" {
		p.addf(line("proxy_command"), "%s: proxy_command is empty: give the command (e.g. ssh -W %%h:%%p bastion), or none", where)
	}
	if given(s.ProxyJump) && given(s.ProxyCommand) && ok("proxy_jump") && ok("proxy_command") {
		p.addf(line("proxy_command"), "%s: give proxy_jump or proxy_command, not both", where)
	}
}

// mergeSettings sets h's python, workdir, max_load, connect_timeout and env
// from the entry's own settings, else the defaults'; env merges key by key.
func mergeSettings(h *parsedHost, own, d settings) {
	if v := pick(own.Python, d.Python); v != nil {
		h.Python = *v
	}
	if v := pick(own.Workdir, d.Workdir); v != nil {
		h.Workdir = *v
	}
	if v := pick(own.MaxLoad, d.MaxLoad); v != nil && h.Kind != KindSlurm {
		h.MaxLoad = *v
	}
	if v := pick(own.ConnectTimeout, d.ConnectTimeout); v != nil {
		h.ConnectTimeout = *v
	}
	if v := pick(own.LockDir, d.LockDir); v != nil {
		h.LockDir = *v
	}
	if v := pick(own.Leases, d.Leases); (v != nil && !*v) || h.Kind == KindSlurm {
		// Slurm places a slurm entry's runs: a lease there would be on the
		// login node, not where the run runs.
		h.LockDir = ""
	}
	if v := pick(own.GPUBusy, d.GPUBusy); v != nil {
		h.GPUBusy = *v
	}
	if v := pick(own.ArtifactsCap, d.ArtifactsCap); v != nil {
		// Checked by checkSettings; a bad value is a problem there.
		h.ArtifactsCap, _ = artifacts.ParseSize(*v)
	}
	env := map[string]string{}
	for k, v := range d.Env {
		env[k] = v
	}
	for k, v := range own.Env { // host keys win
		env[k] = v
	}
	for _, k := range sortedKeys(env) {
		h.Env = append(h.Env, EnvVar{Key: k, Value: env[k]})
	}
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
