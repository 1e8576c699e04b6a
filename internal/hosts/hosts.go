package hosts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind names the engine that runs a host's jobs.
type Kind string

const (
	// KindSSH is a machine reached over SSH that runs jobs itself; the kind
	// of a hosts file entry that names none.
	KindSSH Kind = "ssh"
	// KindSlurm is a Slurm login node: mljob hands its runs to Slurm as an
	// array job (sbatch --array), over SSH or, with Host.Local, on this machine.
	KindSlurm Kind = "slurm"
	// KindLocal is the local machine, used when no hosts file is given; made by LocalHost, never read from a file.
	KindLocal Kind = "local"
)

// fileKinds are the kinds a hosts file may name, in the order messages list them.
var fileKinds = []Kind{KindSSH, KindSlurm}

// Defaults applied when neither the host entry nor the file's defaults nor the
// ssh config say otherwise.
const (
	// DefaultPort is the SSH port used when nothing names one.
	DefaultPort = 22
	// DefaultPython is the interpreter run on a host.
	DefaultPython = "python3"
	// DefaultWorkdir is the directory on the remote host holding runs and the
	// upload cache; it keeps its ~ because the remote shell expands it.
	DefaultWorkdir = "~/.mljob"
	// DefaultConnectTimeout bounds the SSH dial and handshake.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultKnownHosts is the known_hosts file checked when nothing names one.
	DefaultKnownHosts = "~/.ssh/known_hosts"
	// DefaultSlurmSlots is how many array tasks of a slurm entry may be in
	// flight at once when the entry gives no slots: the array's throttle
	// (--array=...%N). A cluster has more room than one machine, but it is
	// shared.
	DefaultSlurmSlots = 100
)

// ErrInvalid matches (with errors.Is) every problem found in a hosts file, so
// callers can tell a file to fix from a file they could not read.
var ErrInvalid = errors.New("invalid hosts file")

// Problem is one thing wrong with a hosts file, at a line of it. Parse and
// Load return every Problem of a file joined with errors.Join, sorted by line.
type Problem struct {
	Path string
	Line int // 1-based; 0 when no line applies
	Msg  string
}

// Error formats the problem as "PATH:LINE: message", the form editors jump to.
func (p *Problem) Error() string {
	if p.Line <= 0 {
		return p.Path + ": " + p.Msg
	}
	return fmt.Sprintf("%s:%d: %s", p.Path, p.Line, p.Msg)
}

// Is reports whether target is ErrInvalid.
func (p *Problem) Is(target error) bool { return target == ErrInvalid }

// Host is one resolved host entry; every default applied.
type Host struct {
	Name    string
	Kind    Kind
	Address string // resolved host name or IP (an ssh config alias is replaced by its HostName)
	// Alias is the address as the entry wrote it, before the ssh config
	// replaced it with its HostName: ProxyCommand's %n; "" when the
	// same as Address.
	Alias string
	Port  int
	User  string
	// IdentityFile is the private key to offer, ~ expanded; "" = agent only.
	IdentityFile string
	// KnownHosts are the known_hosts files checked, ~ expanded; default [~/.ssh/known_hosts].
	// Host key verification is never off, and the files may not exist yet.
	KnownHosts []string
	// CertificateFiles are user certificates to offer with their keys
	// (the ssh config's CertificateFile, and KEY-cert.pub beside OpenSSH's
	// default keys), ~ expanded; those that exist.
	CertificateFiles []string
	// Jump are the gateways the host is reached through (ProxyJump), the
	// one nearest this machine first; nil = direct.
	Jump []Hop
	// ProxyCommand is the command whose stdin and stdout carry the
	// connection (ProxyCommand), its %h %p %r %n tokens unexpanded; "" =
	// none. Never with Jump.
	ProxyCommand string
	Python       string // default "python3"
	// Workdir is the mljob directory on the host, default "~/.mljob"; kept with
	// the ~ because it is a path on the remote host, expanded there.
	Workdir string
	// Slots is how many runs may be in flight at once: default 1, len(GPUs)
	// when gpus given; for a slurm entry the array tasks in flight, default
	// DefaultSlurmSlots.
	Slots int
	GPUs  []string // e.g. ["0","1"]; nil = no GPU slots; always nil for a slurm entry
	// RunsPerGPU is how many runs share each GPU (runs_per_gpu); 1 unless
	// gpus is given. Slots is then len(GPUs)*RunsPerGPU.
	RunsPerGPU int
	// LockDir is the directory on the host holding its lease files
	// (lock_dir, default DefaultLockDir); "" = no leases (leases: false,
	// and every slurm entry).
	LockDir string
	// GPUBusy says when a GPU counts as in use by others (gpu_busy,
	// default DefaultGPUBusy); see ParseGPUBusy.
	GPUBusy string
	// ArtifactsCap is the most bytes of artifacts a run on the host brings
	// home unless its job or the dispatch says otherwise (artifacts_cap);
	// 0 = not set here.
	ArtifactsCap int64
	// Env is set for every run, sorted by key; for a slurm entry also for
	// sbatch, squeue, sacct and scancel (SLURM_CONF names another cluster).
	Env []EnvVar
	// MaxLoad is the 1-minute load average at or above which the host is not
	// bored; 0 = no threshold.
	MaxLoad        float64
	ConnectTimeout time.Duration // default 10s
	// Local marks a slurm entry whose login node is this machine: commands
	// run here, not over SSH, and Address, Port, User, IdentityFile and
	// KnownHosts are empty.
	Local bool
	// Sbatch are extra sbatch options of a slurm entry, in order, one word
	// each (--partition=gpu); never one that mljob sets itself (--array,
	// --output, --chdir, ...).
	Sbatch []string
	Line   int // line of the entry in the file, for messages
}

// Hop is one gateway of a host's route, resolved through the ssh config
// as ssh resolves it (ssh -G with the hop's name): its own address, user,
// keys and known_hosts, whose host key is checked like any host's.
type Hop struct {
	Name             string // as ProxyJump gives it: "bastion", "bob@gw:2022"
	Address          string
	Port             int
	User             string
	IdentityFile     string   // "" = agent only
	KnownHosts       []string // never empty
	CertificateFiles []string
	// ProxyCommand is the first hop's own ProxyCommand from the ssh
	// config (an IAP tunnel to the bastion); "" for every other hop.
	ProxyCommand string
}

// Route says how h is reached, for messages: "" when directly, "via
// bastion", "via gw1, gw2" or "via proxy command".
func (h Host) Route() string {
	var parts []string
	for i, j := range h.Jump {
		if i == 0 && j.ProxyCommand != "" {
			parts = append(parts, "proxy command")
		}
		parts = append(parts, j.Name)
	}
	if h.ProxyCommand != "" {
		parts = append(parts, "proxy command")
	}
	if len(parts) == 0 {
		return ""
	}
	return "via " + strings.Join(parts, ", ")
}

// EnvVar is one environment variable set for every run on a host.
type EnvVar struct {
	Key, Value string
}

// SlotNames returns one name per slot: the GPU ids when GPUs are set
// ("ID.K" for the K-th run of a GPU shared by RunsPerGPU > 1 runs), else
// "0".."Slots-1".
func (h Host) SlotNames() []string {
	if len(h.GPUs) > 0 && h.RunsPerGPU > 1 {
		var names []string
		for k := range h.RunsPerGPU {
			for _, g := range h.GPUs {
				names = append(names, g+"."+strconv.Itoa(k))
			}
		}
		return names
	}
	if len(h.GPUs) > 0 {
		return slices.Clone(h.GPUs)
	}
	names := make([]string, h.Slots)
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return names
}

// File is a parsed, validated and resolved hosts file.
type File struct {
	Path  string
	Hosts []Host // in file order
}

// Find returns the host named name.
func (f *File) Find(name string) (Host, bool) {
	for _, h := range f.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

// LocalHost is the host used when no hosts file is given: the local machine,
// through the same run contract. A slots below 1 means 1; an empty python or
// workdir means the default.
func LocalHost(slots int, python, workdir string) Host {
	if python == "" {
		python = DefaultPython
	}
	if workdir == "" {
		workdir = DefaultWorkdir
	}
	return Host{
		Name:           "local",
		Kind:           KindLocal,
		Slots:          max(slots, 1),
		RunsPerGPU:     1,
		Python:         python,
		Workdir:        workdir,
		GPUBusy:        DefaultGPUBusy,
		ConnectTimeout: DefaultConnectTimeout,
	}
}

// Load reads path and parses it with r.Parse.
func (r Resolver) Load(ctx context.Context, path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read hosts file: %w", err)
	}
	return r.Parse(ctx, path, data)
}

// Parse parses and validates data, applies the defaults and resolves each
// address through the ssh config (a local: true slurm entry has none). All problems come back together, joined
// and sorted by line; each is a *Problem.
func (r Resolver) Parse(ctx context.Context, path string, data []byte) (*File, error) {
	p := &parser{path: path, home: r.Home}
	hosts := p.parse(data)
	if len(p.problems) > 0 {
		return nil, p.err()
	}
	for i := range hosts {
		if hosts[i].Local {
			// Not reached over SSH: nothing to resolve, and ssh -G would
			// fill in an address, user and keys that mean nothing here.
			continue
		}
		if err := r.resolve(ctx, &hosts[i].Host, hosts[i].explicit); err != nil {
			if ctx.Err() != nil {
				// Cancelled, not a problem of the file.
				return nil, fmt.Errorf("resolve hosts: %w", ctx.Err())
			}
			p.addf(hosts[i].Line, "host %q: %v", hosts[i].Name, err)
		}
	}
	if len(p.problems) > 0 {
		return nil, p.err()
	}
	f := &File{Path: path, Hosts: make([]Host, len(hosts))}
	for i, h := range hosts {
		f.Hosts[i] = h.Host
	}
	return f, nil
}
