package provenance

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/mljob/mljob/internal/pyexec"
)

// Environment is what ran a run: the host's python and the versions of the
// modules the script imports, the host, its CPU and the GPUs the run had.
// Its JSON (Marshal) is canonical, so equal environments are stored once.
type Environment struct {
	Python     string `json:"python"`
	Executable string `json:"executable"`
	// Modules maps each third-party module the script imports to its
	// version ("" when the interpreter has it but no version is known,
	// "missing" when it has not).
	Modules  map[string]string `json:"modules,omitempty"`
	Host     string            `json:"host"`
	Platform string            `json:"platform,omitempty"`
	CPU      string            `json:"cpu,omitempty"`
	CPUs     int               `json:"cpus,omitempty"`
	GPUs     []GPU             `json:"gpus,omitempty"`
	CUDA     string            `json:"cuda,omitempty"` // the CUDA version the driver supports
	Note     string            `json:"note,omitempty"` // what could not be read
}

// GPU is one GPU a run had.
type GPU struct {
	Index  string `json:"index"`
	Model  string `json:"model"`
	Driver string `json:"driver"`
}

// FromCheck is the environment pyexec's env check (EnvArgv) reported.
func FromCheck(c pyexec.ModuleCheck) Environment {
	e := Environment{Python: c.Version, Executable: c.Executable, Host: c.Host, Platform: c.Platform,
		CPU: c.CPU, CPUs: c.CPUs, CUDA: c.CUDAVersion, Note: c.EnvError}
	if len(c.Modules) > 0 {
		e.Modules = make(map[string]string, len(c.Modules))
		for name, m := range c.Modules {
			v := m.Version
			if !m.Found {
				v = "missing"
			}
			e.Modules[name] = v
		}
	}
	for _, g := range c.GPUs {
		e.GPUs = append(e.GPUs, GPU{Index: g.Index, Model: g.Name, Driver: g.Driver})
	}
	return e
}

// Marshal is e's canonical JSON (map keys sorted, as encoding/json does).
func (e Environment) Marshal() []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err) // strings, ints and slices of them always marshal
	}
	return b
}

// ParseEnvironment reads a stored environment.
func ParseEnvironment(spec []byte) (Environment, error) {
	var e Environment
	if err := json.Unmarshal(spec, &e); err != nil {
		return Environment{}, fmt.Errorf("read environment: %w", err)
	}
	return e, nil
}

// ModuleText is the modules as "name version" words joined by ", ",
// sorted by name: "numpy 1.24.2, torch 2.1.0".
func (e Environment) ModuleText() string {
	names := make([]string, 0, len(e.Modules))
	for n := range e.Modules {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		if v := e.Modules[n]; v != "" {
			names[i] = n + " " + v
		}
	}
	return strings.Join(names, ", ")
}

// GPUText is the GPUs as "0: MODEL (driver D)" joined by ", ", with the
// CUDA version; "none" without GPUs.
func (e Environment) GPUText() string {
	if len(e.GPUs) == 0 {
		return "none"
	}
	parts := make([]string, len(e.GPUs))
	for i, g := range e.GPUs {
		parts[i] = fmt.Sprintf("%s: %s (driver %s)", g.Index, g.Model, g.Driver)
	}
	s := strings.Join(parts, ", ")
	if e.CUDA != "" {
		s += ", CUDA " + e.CUDA
	}
	return s
}
