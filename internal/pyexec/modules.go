package pyexec

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// modulesProgram is run as python -c modulesProgram [--versions] MODULE...
//
//go:embed modules.py
var modulesProgram string

// ModuleCheck is what modules.py reports of an interpreter on a host.
type ModuleCheck struct {
	Executable string            `json:"executable"` // sys.executable
	Version    string            `json:"version"`    // e.g. "3.11.2"
	Modules    map[string]Module `json:"modules"`    // the modules asked for, less standard ones
	CUDA       *CUDA             `json:"cuda"`       // with versions, when torch was imported

	// With env (EnvArgv): the host's facts.
	Host        string `json:"host,omitempty"`        // its host name
	Platform    string `json:"platform,omitempty"`    // platform.platform()
	CPU         string `json:"cpu,omitempty"`         // the CPU model
	CPUs        int    `json:"cpus,omitempty"`        // os.cpu_count()
	GPUs        []GPU  `json:"gpus,omitempty"`        // those the run's CUDA_VISIBLE_DEVICES names
	CUDAVersion string `json:"cudaVersion,omitempty"` // as nvidia-smi reports it
	EnvError    string `json:"envError,omitempty"`    // why the facts are missing
}

// GPU is one GPU as nvidia-smi reports it to the env check.
type GPU struct {
	Index  string `json:"index"`
	Name   string `json:"name"`
	Driver string `json:"driver"`
}

// Module is one module as the interpreter finds it.
type Module struct {
	Found   bool   `json:"found"`
	Version string `json:"version,omitempty"` // its __version__, with versions
	Error   string `json:"error,omitempty"`   // why it was not found or would not import
}

// CUDA is what torch says of the GPUs it sees.
type CUDA struct {
	Available bool   `json:"available"`
	Devices   int    `json:"devices"`
	Error     string `json:"error,omitempty"`
}

// Missing lists the modules asked for that the interpreter lacks, in the
// order of want.
func (c ModuleCheck) Missing(want []Import) []Import {
	var out []Import
	for _, im := range want {
		if m, ok := c.Modules[im.Module]; ok && !m.Found {
			out = append(out, im)
		}
	}
	return out
}

// ModulesArgv is the command that checks modules with python on a host,
// under env (KEY=VALUE words, as a run gets them: a PYTHONPATH there
// counts). With versions, each module is imported for its version and torch
// is asked about CUDA; without, the modules are only looked up, which runs
// none of their code.
func ModulesArgv(python string, env []string, versions bool, modules []string) []string {
	var argv []string
	if len(env) > 0 {
		argv = append(append(argv, "env"), env...)
	}
	argv = append(argv, python, "-c", modulesProgram)
	if versions {
		argv = append(argv, "--versions")
	}
	return append(argv, modules...)
}

// EnvArgv is ModulesArgv's command for a run's provenance: the modules
// looked up with their versions (none of their code run), and the host's
// name, platform and CPU model; with gpus, the GPUs the run's
// CUDA_VISIBLE_DEVICES names (model, driver) and the CUDA version.
func EnvArgv(python string, env []string, gpus bool, modules []string) []string {
	argv := ModulesArgv(python, env, false, nil)
	argv = append(argv, "--env")
	if gpus {
		argv = append(argv, "--gpus")
	}
	return append(argv, modules...)
}

// ParseModuleCheck reads what ModulesArgv's command printed.
func ParseModuleCheck(stdout []byte) (ModuleCheck, error) {
	line := bytes.TrimSpace(stdout)
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	var c ModuleCheck
	if err := json.Unmarshal(line, &c); err != nil || c.Modules == nil {
		return ModuleCheck{}, fmt.Errorf("no report from the module check: %q", oneLine(string(stdout)))
	}
	return c, nil
}

// InstallHint says how to get a module for the interpreter at executable:
// apt for Debian's own Python (debian: the host is Debian), else pip.
func InstallHint(module, executable string, debian bool) string {
	pip := shellWord(executable) + " -m pip install " + shellWord(PipPackage(module))
	if debian && strings.HasPrefix(executable, "/usr/bin/") {
		return "on Debian: sudo apt-get install " + DebianPackage(module) + " (or " + pip + ")"
	}
	return pip
}

// DebianPackage is the Debian package that provides a module to Debian's
// python3: python3-<name> unless knownPackages says otherwise.
func DebianPackage(module string) string {
	if n, ok := knownPackages[module]; ok {
		return n.deb
	}
	return "python3-" + strings.ToLower(strings.ReplaceAll(module, "_", "-"))
}

// PipPackage is the name pip installs a module by.
func PipPackage(module string) string {
	if n, ok := knownPackages[module]; ok {
		return n.pip
	}
	return module
}

// knownPackages maps import names to the package names that provide
// them, where those differ.
var knownPackages = map[string]struct{ pip, deb string }{
	"sklearn":  {"scikit-learn", "python3-sklearn"},
	"skimage":  {"scikit-image", "python3-skimage"},
	"yaml":     {"pyyaml", "python3-yaml"},
	"cv2":      {"opencv-python", "python3-opencv"},
	"PIL":      {"pillow", "python3-pil"},
	"bs4":      {"beautifulsoup4", "python3-bs4"},
	"dateutil": {"python-dateutil", "python3-dateutil"},
}

// shellWord quotes s for a POSIX shell, as a hint to paste, unless it is
// plain.
func shellWord(s string) string {
	if s != "" && plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_./+:@%=-]+$`)

// oneLine keeps a message to one short line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = "…" + s[len(s)-300:]
	}
	return s
}
