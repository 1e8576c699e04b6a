package sshworker

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/engine"
)

// GPU is one GPU as nvidia-smi reports it.
type GPU = engine.GPU

// Probe is what one boredom probe saw on a host.
type Probe = engine.Probe

// Probe asks the host for its load, GPU use and which of the runs (run
// ids) still run, in one session. A run is alive while the wrapper its run
// dir's pid file names runs: the same pid, started at the recorded time in
// the same boot (see runAliveFunc), so a reused pid never counts.
//
// Without runs to ask about, a host whose runs start through its agent is
// asked through the agent (see probeAgent).
func (h *Host) Probe(ctx context.Context, runs []string) (Probe, error) {
	if len(runs) == 0 {
		a, err := h.currentAgent(ctx)
		if err != nil {
			return Probe{}, fmt.Errorf("probe %s: %w", h.name, err)
		}
		if a != nil {
			return h.probeAgent(ctx, a)
		}
	}
	argv := []string{"sh", "-c", probeScript, "mljob-probe", h.workdir}
	for _, r := range runs {
		if !plainName.MatchString(r) {
			return Probe{}, fmt.Errorf("probe %s: run id %q is not a plain name", h.name, r)
		}
		argv = append(argv, r)
	}
	var out, errOut LimitedBuffer
	out.Limit, errOut.Limit = 1<<16, 4096
	if err := h.t.Exec(ctx, argv, nil, &out, &errOut); err != nil {
		return Probe{}, fmt.Errorf("probe %s: %w%s", h.name, err, Detail(errOut.String()))
	}
	return parseProbe(out.String()), nil
}

func parseProbe(out string) Probe {
	p := Probe{Alive: map[string]bool{}}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "load":
			p.Load, _ = strconv.ParseFloat(f[1], 64)
		case "alive":
			p.Alive[f[1]] = true
		case "gpu":
			if g, ok := parseGPU(f[1]); ok {
				p.GPUs = append(p.GPUs, g)
			}
		}
	}
	return p
}

// parseGPU reads one nvidia-smi line of the probe's query,
// "index,utilization,memory" with the spaces taken out.
func parseGPU(line string) (GPU, bool) {
	c := strings.Split(line, ",")
	if len(c) != 3 {
		return GPU{}, false
	}
	g := GPU{Index: c[0]}
	g.Utilization, _ = strconv.ParseFloat(c[1], 64)
	g.MemoryMiB, _ = strconv.ParseFloat(c[2], 64)
	return g, true
}
