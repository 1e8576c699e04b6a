package hostcheck

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mljob/mljob/internal/engines"
	"github.com/mljob/mljob/internal/gpuown"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/sshconn"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout  = 15 * time.Second
	DefaultParallel = 16
)

// Thresholds below which a host gets a warning.
const (
	lowDiskBytes = 1 << 30 // 1 GiB free under the workdir
	minPython    = "3.8"
)

// probeFile is probe.py, what hosts check runs on a host.
//
//go:embed probe.py
var probeFile string

// probeProgram is run as python -c probeProgram WORKDIR [LOCKDIR]:
// probe.py after gpuown.py's helpers, which it shares with the agent.
var probeProgram = gpuown.Prepend(probeFile)

// Verdict is a host's overall result, and a problem's severity.
type Verdict string

// Verdicts, from best to worst.
const (
	OK   Verdict = "ok"
	Warn Verdict = "warn" // runs will start, but something needs a look
	Fail Verdict = "FAIL" // runs will not work there
)

// Problem is one thing wrong with a host and how to fix it.
type Problem struct {
	Severity Verdict `json:"severity"`
	Problem  string  `json:"problem"`
	Fix      string  `json:"fix"`
}

// GPU is one line of nvidia-smi on the host.
type GPU struct {
	Index       string `json:"index"`
	Name        string `json:"name"`
	MemoryMiB   string `json:"memoryMiB"`
	Utilization string `json:"utilization"` // percent
	// Foreign counts its compute processes that no mljob run on the host
	// started (nil when nvidia-smi did not say); FreeMiB is its free
	// memory. gpu_busy judges the GPU by them, as the dispatcher does.
	Foreign *int     `json:"foreign,omitempty"`
	FreeMiB *float64 `json:"freeMiB,omitempty"`
	// Busy: gpu_busy counts it as in use by others, so the dispatcher
	// starts nothing on it.
	Busy bool `json:"busy,omitempty"`
}

// LockDir is what the check found in a host's lock dir (see
// ARCHITECTURE.md, "Leases on a shared host").
type LockDir struct {
	Path     string `json:"path"`
	Exists   bool   `json:"exists"`
	Writable bool   `json:"writable"` // the dir, or its parent when it is missing
	// Leases are its lease files; Waiting the live waiting tickets of
	// dispatchers refused a lease there.
	Leases  []Lease  `json:"leases"`
	Waiting []Ticket `json:"waiting"`
	Error   string   `json:"error,omitempty"`
}

// Lease is one lease file of a lock dir.
type Lease struct {
	Name string `json:"name"` // "slot-0", "gpu-1", "gpu-1.0"
	Held bool   `json:"held"`
	// Holder is the holder line the run wrote (JSON: user, laptop, queue,
	// dispatcher, job, order, attempt, start) while it is held.
	Holder string `json:"holder,omitempty"`
}

// Held counts the held leases.
func (d *LockDir) Held() int {
	n := 0
	for _, l := range d.Leases {
		if l.Held {
			n++
		}
	}
	return n
}

// Who says who holds a lease, from its holder line: "alice@laptop job 12
// since 2026-01-02T03:04:05Z", or the line itself when it is not mljob's.
func (l Lease) Who() string {
	var h struct {
		User   string `json:"user"`
		Laptop string `json:"laptop"`
		Job    int64  `json:"job"`
		Start  string `json:"start"`
	}
	if err := json.Unmarshal([]byte(l.Holder), &h); err != nil || h.User+h.Laptop == "" {
		return l.Holder
	}
	return fmt.Sprintf("%s@%s job %d since %s", h.User, h.Laptop, h.Job, h.Start)
}

// Ticket is a dispatcher's waiting ticket: it waits for a lease there.
type Ticket struct {
	Name  string  `json:"name"`
	Since float64 `json:"since"` // Unix seconds
}

// How a host let us in (Report.Auth), as sshconn names it.
const (
	AuthAgent        = sshconn.AuthAgent
	AuthIdentityFile = sshconn.AuthIdentityFile
)

// Report is what the check found on one host. Fields the check could not
// reach (the host is down, Python is missing) keep their zero values.
type Report struct {
	Host    string `json:"host"`
	Kind    string `json:"kind"`    // "ssh", "slurm" or "local"
	Address string `json:"address"` // host:port; "" for local and a local: true slurm entry
	// Route is how the host is reached: "" directly, else "via bastion",
	// "via gw1, gw2" or "via proxy command" (see hosts.Host.Route).
	Route string `json:"route,omitempty"`
	// FailedHop is the gateway on the way that failed, when one did: the
	// host behind it was not asked.
	FailedHop string  `json:"failedHop,omitempty"`
	Verdict   Verdict `json:"verdict"`

	Reachable bool   `json:"reachable"`
	Auth      string `json:"auth"`    // AuthAgent, AuthIdentityFile, "local", "refused" or ""
	HostKey   string `json:"hostKey"` // "ok", "unknown", "changed", "local" or ""

	Python        string          `json:"python"`        // as configured
	PythonPath    string          `json:"pythonPath"`    // sys.executable on the host
	PythonVersion string          `json:"pythonVersion"` // e.g. "3.11.2"
	Imports       map[string]bool `json:"imports"`       // third-party module -> found
	// Modules holds each third-party module's version, or why it would
	// not import; CUDA what torch says of the GPUs, when a script imports
	// torch (nil otherwise).
	Modules map[string]pyexec.Module `json:"modules"`
	CUDA    *pyexec.CUDA             `json:"cuda"`

	Load     *float64 `json:"load"` // 1-minute load average; nil for a slurm entry
	CPUs     int      `json:"cpus"`
	MaxLoad  float64  `json:"maxLoad,omitempty"`
	Workdir  string   `json:"workdir"`
	Exists   bool     `json:"workdirExists"`
	DiskPath string   `json:"diskPath"` // the workdir, or its nearest existing parent
	Free     *uint64  `json:"freeBytes"`

	NvidiaSMI string `json:"nvidiaSmi"` // its path; "" when not installed
	GPUs      []GPU  `json:"gpus"`      // empty for a slurm entry: Slurm picks the nodes
	// LockDir is the host's lock dir; nil when its runs take no leases.
	LockDir *LockDir `json:"lockDir,omitempty"`

	// Slurm is what a slurm entry's login node says of its cluster; nil
	// for other hosts.
	Slurm *SlurmReport `json:"slurm,omitempty"`

	Problems []Problem `json:"problems"`
	Seconds  float64   `json:"seconds"` // how long the check took
}

// Options tune a check.
type Options struct {
	Imports   []pyexec.Import // modules the scripts need; see pyexec.ScriptImports
	Timeout   time.Duration   // per host; 0 = DefaultTimeout
	Parallel  int             // hosts checked at once; 0 = DefaultParallel
	HostsFile string          // named in fixes; "" when checking this machine
}

// Check checks every host at once and returns their reports in the order
// of hs. It does not fail: what goes wrong is in each report's Problems.
func Check(ctx context.Context, hs []hosts.Host, opts Options) []Report {
	out := make([]Report, len(hs))
	var g errgroup.Group
	n := opts.Parallel
	if n <= 0 {
		n = DefaultParallel
	}
	g.SetLimit(n)
	for i, h := range hs {
		g.Go(func() error {
			out[i] = CheckHost(ctx, h, opts)
			return nil
		})
	}
	_ = g.Wait() // the functions return nil
	return out
}

// CheckHost connects to h as the dispatcher would and runs the probe
// program there with h's Python, all within opts.Timeout.
func CheckHost(ctx context.Context, h hosts.Host, opts Options) Report {
	start := time.Now()
	r := checkHost(ctx, h, opts)
	r.Seconds = time.Since(start).Seconds()
	r.Verdict = verdict(r.Problems)
	return r
}

func checkHost(ctx context.Context, h hosts.Host, opts Options) Report {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	r := Report{Host: h.Name, Kind: string(h.Kind), Python: h.Python, Workdir: h.Workdir, MaxLoad: h.MaxLoad,
		Imports: map[string]bool{}, Modules: map[string]pyexec.Module{}, GPUs: []GPU{}, Problems: []Problem{}}
	c := checker{r: &r, h: h, opts: opts, timeout: timeout}

	var t sshconn.Transport
	// As engines.Connect: a local: true slurm entry's login node is
	// this machine.
	if h.Kind == hosts.KindLocal || h.Local {
		r.Reachable, r.Auth, r.HostKey = true, "local", "local"
		t = sshconn.Local{}
	} else {
		r.Address = net.JoinHostPort(h.Address, strconv.Itoa(h.Port))
		r.Route = h.Route()
		cl, err := sshconn.Dial(ctx, engines.SSHConfig(h))
		if err != nil {
			c.dialProblem(ctx, err)
			return r
		}
		defer cl.Close()
		r.Reachable, r.HostKey = true, "ok"
		r.Auth = cl.Auth().Method
		t = cl
	}
	c.probe(ctx, t)
	if h.Kind == hosts.KindSlurm && ctx.Err() == nil {
		c.probeSlurm(ctx, t)
	}
	return r
}

func verdict(ps []Problem) Verdict {
	v := OK
	for _, p := range ps {
		if p.Severity == Fail {
			return Fail
		}
		if p.Severity == Warn {
			v = Warn
		}
	}
	return v
}

// checker fills one report.
type checker struct {
	r       *Report
	h       hosts.Host
	opts    Options
	timeout time.Duration
}

func (c *checker) add(sev Verdict, problem, fix string) {
	c.r.Problems = append(c.r.Problems, Problem{Severity: sev, Problem: problem, Fix: fix})
}

// entry names the host's entry for fixes: "hosts.yaml line 12".
func (c *checker) entry() string {
	if c.opts.HostsFile == "" {
		return "the hosts file"
	}
	if c.h.Line > 0 {
		return fmt.Sprintf("%s line %d", c.opts.HostsFile, c.h.Line)
	}
	return c.opts.HostsFile
}

// dialProblem turns a failed sshconn.Dial into a problem with its fix: of
// the host, of the gateway on its route that failed (named first), or of
// its proxy command.
func (c *checker) dialProblem(ctx context.Context, err error) {
	if hop := sshconn.FailedHop(err); hop != "" {
		c.r.FailedHop = hop
		c.hopProblem(ctx, hop, err)
		return
	}
	var hk *sshconn.HostKeyError
	var op *net.OpError
	var fwd *sshconn.ForwardError
	var proxy *sshconn.ProxyError
	switch {
	case errors.As(err, &hk):
		c.r.Reachable = true
		c.r.HostKey = hostKeyState(hk)
		c.add(Fail, hostKeyProblem(hk), hk.Hint())
	case errors.Is(err, sshconn.ErrAuth):
		c.r.Reachable, c.r.HostKey, c.r.Auth = true, "ok", "refused"
		user := c.h.User
		if user == "" {
			user = "you"
		}
		fix := fmt.Sprintf("add your public key to ~/.ssh/authorized_keys of %s there (ssh-copy-id -p %d %s@%s), or load the right key into ssh-agent, or set identity_file in %s",
			user, c.h.Port, user, c.h.Address, c.entry())
		c.add(Fail, "ssh login refused: "+err.Error(), fix)
	case errors.As(err, &fwd):
		c.add(Fail, "unreachable "+c.r.Route+": "+fwd.Error(),
			fmt.Sprintf("is sshd running on %s, and is the address right as %s sees it (%s)? Its sshd must also allow forwarding (AllowTcpForwarding)", fwd.Target, fwd.Hop, c.entry()))
	case errors.As(err, &proxy):
		c.add(Fail, "the proxy command failed: "+proxy.Error(),
			"run it by hand to see why ("+proxy.Command+"), and fix it in your ssh config or proxy_command in "+c.entry())
	case ctx.Err() != nil:
		c.add(Fail, fmt.Sprintf("no answer within %v", c.timeout),
			fmt.Sprintf("is %s up and reachable from here (firewall, VPN)? check address and port in %s; raise --timeout for a slow link", c.r.Address, c.entry()))
	case errors.As(err, &op) && op.Op == "dial":
		c.add(Fail, "unreachable: "+err.Error(),
			fmt.Sprintf("is sshd running on %s, and is the address right (%s)?", c.r.Address, c.entry()))
	case errors.Is(err, fs.ErrNotExist) && strings.Contains(err.Error(), "known_hosts"):
		c.add(Fail, err.Error(), "create the known_hosts file (ssh-keyscan the host into it) or fix known_hosts in "+c.entry())
	case errors.Is(err, fs.ErrNotExist) && strings.Contains(err.Error(), "identity file"):
		c.add(Fail, err.Error(), "fix identity_file in "+c.entry())
	case strings.Contains(err.Error(), "handshake"):
		c.r.Reachable = true
		c.add(Fail, err.Error(), fmt.Sprintf("something answers on %s but not as sshd should: is the port right (%s)?", c.r.Address, c.entry()))
	default:
		c.add(Fail, err.Error(), "check the host's entry in "+c.entry())
	}
}

// hopProblem is a gateway on the host's route that failed: the problem
// names it, and the fix is the gateway's (its key, its login, its
// address), not the host's, which was never asked.
func (c *checker) hopProblem(ctx context.Context, hop string, err error) {
	var hk *sshconn.HostKeyError
	var auth *sshconn.AuthError
	var proxy *sshconn.ProxyError
	gw := "gateway " + hop + " (on the way " + c.r.Route + ")"
	switch {
	case errors.As(err, &hk):
		c.add(Fail, gw+": "+hostKeyProblem(hk), hk.Hint())
	case errors.As(err, &auth):
		c.add(Fail, gw+": ssh login refused: "+auth.Error(), auth.Hint()+"; or fix the gateway's entry in your ssh config")
	case errors.As(err, &proxy):
		c.add(Fail, gw+": its proxy command failed: "+proxy.Error(), "run it by hand to see why ("+proxy.Command+"), and fix it in your ssh config")
	case ctx.Err() != nil:
		c.add(Fail, fmt.Sprintf("%s: no answer within %v", gw, c.timeout), "is the gateway up and reachable from here (VPN)? raise --timeout for a slow link")
	default:
		c.add(Fail, gw+": unreachable: "+err.Error(),
			"is the gateway up, and is it named right (ProxyJump in your ssh config, or proxy_jump in "+c.entry()+")? try: ssh "+sshconn.Quote(hop)+" true")
	}
}

// hostKeyState is the KEY cell of a refused host key.
func hostKeyState(hk *sshconn.HostKeyError) string {
	switch {
	case hk.Revoked:
		return "revoked"
	case hk.Changed:
		return "changed"
	default:
		return "unknown"
	}
}

// hostKeyProblem says what is wrong with a host key.
func hostKeyProblem(hk *sshconn.HostKeyError) string {
	switch {
	case hk.Revoked:
		return fmt.Sprintf("host key REVOKED: %s:%d lists it, or its CA, as @revoked (offered %s)", hk.KnownHosts, hk.Line, hk.Fingerprint)
	case hk.CertProblem != "":
		return fmt.Sprintf("host certificate not accepted: %s (signed by CA %s)", hk.CertProblem, hk.CA)
	case hk.Changed:
		return fmt.Sprintf("host key CHANGED: %s:%d holds another key (offered %s)", hk.KnownHosts, hk.Line, hk.Fingerprint)
	default:
		return fmt.Sprintf("unknown host key: %s is not in %s (offered %s %s)", hk.Address, hk.KnownHosts, hk.KeyType, hk.Fingerprint)
	}
}

// probeResult is what probe.py prints.
type probeResult struct {
	Version    string   `json:"version"`
	Executable string   `json:"executable"`
	Debian     bool     `json:"debian"`
	Load       *float64 `json:"load"`
	CPUs       int      `json:"cpus"`
	Workdir    string   `json:"workdir"`
	Exists     bool     `json:"workdirExists"`
	DiskPath   string   `json:"diskPath"`
	Free       *uint64  `json:"freeBytes"`
	Writable   bool     `json:"writable"`
	NvidiaSMI  string   `json:"nvidiaSmi"`
	GPUs       []GPU    `json:"gpus"`
	GPUError   string   `json:"gpuError"`
	LockDir    *LockDir `json:"lockDir"`
}

// probe runs probe.py on the host in one command and judges what it says.
func (c *checker) probe(ctx context.Context, t sshconn.Transport) {
	// The module check runs beside the probe, in a session of its own: a
	// host's python may take seconds to start under load.
	modules := c.startModules(ctx, t)
	defer modules.wait()
	argv := []string{c.h.Python, "-c", probeProgram, c.h.Workdir}
	if c.h.Leased() {
		argv = append(argv, c.h.LockDir)
	}
	var stdout, stderr bytes.Buffer
	err := t.Exec(ctx, argv, nil, &stdout, &stderr)
	if err != nil {
		c.execProblem(ctx, err, stderr.String())
		return
	}
	var p probeResult
	if err := json.Unmarshal(lastLine(stdout.Bytes()), &p); err != nil {
		c.add(Fail, fmt.Sprintf("%s gave no report (%v): %s", c.h.Python, err, tail(stdout.String()+stderr.String())),
			"run it there by hand: is it Python 3.5 or newer?")
		return
	}
	r := c.r
	r.PythonPath, r.PythonVersion = p.Executable, p.Version
	r.Exists, r.DiskPath, r.Free = p.Exists, p.DiskPath, p.Free
	// A slurm entry's runs go where Slurm puts them: the login node's load
	// and GPUs say nothing about them.
	slurm := c.h.Kind == hosts.KindSlurm
	if !slurm {
		r.Load, r.CPUs = p.Load, p.CPUs
		r.NvidiaSMI = p.NvidiaSMI
		if p.GPUs != nil {
			r.GPUs = p.GPUs
		}
		r.LockDir = p.LockDir
	}
	c.modules(modules, p)

	if versionLess(p.Version, minPython) {
		c.add(Warn, "Python "+p.Version+" is old; the bundled scripts need "+minPython+" or newer",
			"install a newer Python there and set python in "+c.entry())
	}
	switch {
	case !p.Writable && p.Exists:
		c.add(Fail, "workdir "+p.Workdir+" is not writable", "chmod it, or set workdir in "+c.entry()+" to a directory you own")
	case !p.Writable:
		c.add(Fail, "workdir "+p.Workdir+" is missing and "+p.DiskPath+" is not writable, so it cannot be created",
			"create it there (mkdir -p "+sshconn.Quote(p.Workdir)+"), or set workdir in "+c.entry())
	}
	if p.Free != nil && *p.Free < lowDiskBytes {
		c.add(Warn, fmt.Sprintf("only %s free under %s", Bytes(*p.Free), p.DiskPath), "free some space there, or set workdir to a roomier disk")
	}
	if slurm {
		return
	}
	if p.Load != nil && c.h.MaxLoad > 0 && *p.Load >= c.h.MaxLoad {
		c.add(Warn, fmt.Sprintf("load %.2f is at or over max_load %g: the dispatcher starts nothing there until it drops", *p.Load, c.h.MaxLoad),
			"wait, or raise max_load in "+c.entry())
	}
	c.lockDir()
	if len(c.h.GPUs) > 0 {
		switch {
		// Runs on a GPU that is not there fail, or fall back to the CPU
		// unseen: a fault of the entry, not a warning.
		case p.NvidiaSMI == "":
			c.add(Fail, fmt.Sprintf("gpus %v configured but nvidia-smi is not installed", c.h.GPUs),
				"install the NVIDIA driver there, or drop gpus from "+c.entry())
		case p.GPUError != "":
			c.add(Fail, "nvidia-smi failed: "+p.GPUError, "check the NVIDIA driver there (run nvidia-smi by hand)")
		case len(p.GPUs) < len(c.h.GPUs):
			c.add(Fail, fmt.Sprintf("gpus %v configured but nvidia-smi lists %d", c.h.GPUs, len(p.GPUs)),
				"list only the GPUs the host has in "+c.entry())
		}
		c.busyGPUs()
		if r.CUDA != nil && !r.CUDA.Available {
			c.add(Warn, fmt.Sprintf("gpus %v configured but torch sees no CUDA device%s", c.h.GPUs, suffix(r.CUDA.Error)),
				"install a CUDA build of torch for "+p.Executable+", or drop gpus from "+c.entry())
		}
	}
}

// lockDir judges the lock dir: runs there cannot start without taking
// their leases in it.
func (c *checker) lockDir() {
	d := c.r.LockDir
	if d == nil {
		return
	}
	fix := "make it writable for you there (mode 1777, as /tmp), or set lock_dir in " + c.entry() + " to a directory every user of the host can write"
	switch {
	case d.Exists && !d.Writable:
		c.add(Fail, "lock dir "+d.Path+" is not writable: runs there cannot take their leases", fix)
	case !d.Writable:
		c.add(Fail, "lock dir "+d.Path+" is missing and its parent is not writable, so the first run cannot make it", fix)
	case d.Error != "":
		c.add(Warn, "lock dir "+d.Path+" could not be read: "+d.Error, "check its mode there (ls -ld "+sshconn.Quote(d.Path)+")")
	}
}

// busyGPUs marks the configured GPUs that gpu_busy counts as in use by
// others, as the dispatcher does at each probe, and warns of them: the
// dispatcher starts nothing there while they are.
func (c *checker) busyGPUs() {
	p, err := hosts.ParseGPUBusy(c.h.GPUBusy)
	if err != nil {
		return // the hosts file's check refused it already
	}
	for i := range c.r.GPUs {
		g := &c.r.GPUs[i]
		if g.Foreign == nil || g.FreeMiB == nil || !slices.Contains(c.h.GPUs, g.Index) || !p.Busy(*g.Foreign, *g.FreeMiB) {
			continue
		}
		g.Busy = true
		why := fmt.Sprintf("%d compute process(es) not started by mljob", *g.Foreign)
		if p.Mode == "memory" {
			why = fmt.Sprintf("%.1f GB free, under gpu_busy's %g GB", *g.FreeMiB/1024, p.FreeGB)
		}
		c.add(Warn, fmt.Sprintf("gpu %s is in use by others (%s): the dispatcher starts nothing on it while it is", g.Index, why),
			"wait, or ask who runs there (nvidia-smi); gpu_busy: ignore in "+c.entry()+" uses it anyway")
	}
}

// moduleRun is the module check in flight.
type moduleRun struct {
	done           chan struct{}
	err            error
	stdout, stderr bytes.Buffer
}

// wait returns once the check has ended; a nil run has nothing to wait for.
func (m *moduleRun) wait() {
	if m != nil {
		<-m.done
	}
}

// startModules starts the module check the dispatcher runs before a
// script's first run on a host (pyexec's modules.py), with the entry's env
// as runs get it and each module's version; nil when the scripts import
// nothing to check.
func (c *checker) startModules(ctx context.Context, t sshconn.Transport) *moduleRun {
	if len(c.opts.Imports) == 0 {
		return nil
	}
	names := make([]string, len(c.opts.Imports))
	for i, im := range c.opts.Imports {
		names[i] = im.Module
	}
	var env []string
	for _, e := range c.h.Env {
		env = append(env, e.Key+"="+e.Value)
	}
	m := &moduleRun{done: make(chan struct{})}
	go func() {
		defer close(m.done)
		m.err = t.Exec(ctx, pyexec.ModulesArgv(c.h.Python, env, true, names), nil, &m.stdout, &m.stderr)
	}()
	return m
}

// modules judges what the module check found.
func (c *checker) modules(m *moduleRun, p probeResult) {
	if m == nil {
		return
	}
	m.wait()
	mc, perr := pyexec.ParseModuleCheck(m.stdout.Bytes())
	if m.err != nil || perr != nil {
		c.add(Fail, fmt.Sprintf("the scripts' imports could not be checked: %v %s", errors.Join(m.err, perr), tail(m.stderr.String())),
			"run "+c.h.Python+" there by hand and import them")
		return
	}
	r := c.r
	r.Modules, r.CUDA = mc.Modules, mc.CUDA
	for name, st := range mc.Modules {
		r.Imports[name] = st.Found
	}
	for _, im := range mc.Missing(c.opts.Imports) {
		why := ""
		if e := mc.Modules[im.Module].Error; e != "" && !strings.HasPrefix(e, "ModuleNotFoundError") {
			why = " (" + e + ")"
		}
		c.add(Fail, fmt.Sprintf("%s cannot import %s%s (needed by %s)", p.Executable, im.Module, why, strings.Join(im.Scripts, ", ")),
			pyexec.InstallHint(im.Module, p.Executable, p.Debian)+", or set "+c.pythonSetting()+" to a python that has it")
	}
}

// pythonSetting names where the host's python is set.
func (c *checker) pythonSetting() string {
	if c.h.Kind == hosts.KindLocal {
		return "--python (or MLJOB_PYTHON, or python in the config file)"
	}
	return "python in " + c.entry()
}

func suffix(err string) string {
	if err == "" {
		return ""
	}
	return " (" + err + ")"
}

// execProblem explains a probe command that did not run.
func (c *checker) execProblem(ctx context.Context, err error, stderr string) {
	var exit *sshconn.ExitError
	where := "python in " + c.entry()
	if c.h.Kind == hosts.KindLocal {
		where = "--python (or MLJOB_PYTHON)"
	}
	switch {
	case ctx.Err() != nil:
		c.add(Fail, fmt.Sprintf("no answer from %s within %v", c.h.Python, c.timeout), "raise --timeout, or look at what slows the host")
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist),
		errors.As(err, &exit) && (exit.Code == 127 || exit.Code == 126):
		c.add(Fail, fmt.Sprintf("python %s not found: %s", c.h.Python, tail(stderr+" "+err.Error())),
			"install Python 3 there, or set "+where+" to its path (e.g. /usr/bin/python3)")
	case errors.As(err, &exit):
		c.add(Fail, fmt.Sprintf("%s failed (%v): %s", c.h.Python, err, tail(stderr)),
			"run it there by hand: is it Python 3.5 or newer?")
	default:
		c.add(Fail, "run the check: "+err.Error(), "check the connection and run mljob hosts check again")
	}
}

// versionLess compares dotted versions numerically; an unreadable one is
// not less.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, err1 := strconv.Atoi(as[i])
		y, err2 := strconv.Atoi(bs[i])
		if err1 != nil || err2 != nil {
			return false
		}
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// tail keeps messages to one short line.
func tail(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = "…" + s[len(s)-300:]
	}
	return s
}

// Bytes formats a size as "12.3G", "512M".
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + "B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%c", float64(n)/float64(div), "KMGTPE"[exp])
}
