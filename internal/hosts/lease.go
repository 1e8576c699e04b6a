package hosts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Defaults of the lease settings.
const (
	// DefaultLockDir is where a host's lease files live unless lock_dir
	// says otherwise: a world-writable sticky directory (mode 1777) that
	// every user's runs on the host share, made when missing.
	DefaultLockDir = "/var/tmp/mljob-locks"
	// DefaultGPUBusy: a GPU with compute processes that mljob did not
	// start is in use by someone else.
	DefaultGPUBusy = "foreign-processes"
)

// GPUBusy is a parsed gpu_busy setting.
type GPUBusy struct {
	// Mode is "foreign-processes", "memory" or "ignore".
	Mode string
	// FreeGB is the free memory (GB) a GPU needs to be taken, for "memory".
	FreeGB float64
}

// ParseGPUBusy reads a gpu_busy value: foreign-processes | memory:<GB
// free> | ignore.
func ParseGPUBusy(s string) (GPUBusy, error) {
	switch {
	case s == "foreign-processes", s == "ignore":
		return GPUBusy{Mode: s}, nil
	case strings.HasPrefix(s, "memory:"):
		gb, err := strconv.ParseFloat(strings.TrimPrefix(s, "memory:"), 64)
		if err == nil && gb > 0 {
			return GPUBusy{Mode: "memory", FreeGB: gb}, nil
		}
	}
	return GPUBusy{}, fmt.Errorf("gpu_busy must be foreign-processes, memory:<GB free> (memory:20) or ignore, got %q", s)
}

// Busy reports whether a GPU with foreign compute processes not started
// by mljob and freeMiB of memory free counts as in use by others: the rule
// the dispatcher skips GPUs by, and hosts check reports them by.
func (p GPUBusy) Busy(foreign int, freeMiB float64) bool {
	switch p.Mode {
	case "ignore":
		return false
	case "memory":
		return freeMiB < p.FreeGB*1024
	default: // foreign-processes
		return foreign > 0
	}
}

// ParseGPUList reads a comma-separated list of GPU ids ("0,1", as
// dispatch --gpus takes them): each as in a hosts file's gpus, none twice.
func ParseGPUList(s string) ([]string, error) {
	var ids []string
	for _, g := range strings.Split(s, ",") {
		g = strings.TrimSpace(g)
		switch {
		case !gpuRE.MatchString(g):
			return nil, fmt.Errorf("bad gpu id %q in %q: use digits, letters and '-' (a GPU index or MIG id), comma-separated", g, s)
		case slices.Contains(ids, g):
			return nil, fmt.Errorf("gpu id %q listed twice in %q", g, s)
		}
		ids = append(ids, g)
	}
	return ids, nil
}

// WithGPUs is h (LocalHost's) running one run per GPU of gpus, each
// holding its GPU's lease in lockDir (DefaultLockDir when "").
func (h Host) WithGPUs(gpus []string, lockDir string) Host {
	if lockDir == "" {
		lockDir = DefaultLockDir
	}
	h.GPUs, h.Slots, h.LockDir = gpus, len(gpus), lockDir
	return h
}

// SlotSep joins the slots of a run that asks for several GPUs into one
// slot name ("0+1"): GPU ids and slot names never hold it.
const SlotSep = "+"

// SlotParts returns the slots a slot name stands for: itself, or the
// parts of a multi-GPU run's joined name.
func SlotParts(slot string) []string { return strings.Split(slot, SlotSep) }

// JoinSlots names the run holding every slot of parts.
func JoinSlots(parts []string) string { return strings.Join(parts, SlotSep) }

// SlotGPU returns the GPU id of one slot ("1" of "1.0"), "" for a host
// without GPUs.
func (h Host) SlotGPU(slot string) string {
	if len(h.GPUs) == 0 {
		return ""
	}
	if i := strings.IndexByte(slot, '.'); i >= 0 {
		return slot[:i]
	}
	return slot
}

// SlotGPUs returns the GPU ids a slot's run sees (its
// CUDA_VISIBLE_DEVICES), nil for a host without GPUs; a joined slot
// ("0+1") sees every part's GPU.
func (h Host) SlotGPUs(slot string) []string {
	if len(h.GPUs) == 0 {
		return nil
	}
	var gpus []string
	for _, p := range SlotParts(slot) {
		gpus = append(gpus, h.SlotGPU(p))
	}
	return gpus
}

// LeaseNames is the lease files a run in slot holds: LeaseName of each
// part of a joined slot.
func (h Host) LeaseNames(slot string) []string {
	var names []string
	for _, p := range SlotParts(slot) {
		names = append(names, h.LeaseName(p))
	}
	return names
}

// LeaseName is the lease file (in LockDir) a run in slot holds: one per
// GPU share ("gpu-0", "gpu-0.1"), or per plain slot ("slot-0"). Two
// dispatchers with the same entry agree on it, so they share the host's
// slots.
func (h Host) LeaseName(slot string) string {
	if len(h.GPUs) > 0 {
		return "gpu-" + slot
	}
	return "slot-" + slot
}

// Leased reports whether runs on h take leases.
func (h Host) Leased() bool { return h.LockDir != "" && h.Kind != KindSlurm }
