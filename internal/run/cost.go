package run

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Cost is what one attempt cost, as the run's wrapper measured it on the
// host: the run dir's "cost" file, written before exit_code.
type Cost struct {
	// WallSeconds is the time from the script's start to its end (or to
	// the end of its last process, when it was stopped).
	WallSeconds float64
	// UserSeconds and SysSeconds are the CPU time of the run's process
	// tree (the wrapper's children by getrusage: the script and every
	// descendant reaped by the time it ended, orphans included).
	UserSeconds, SysSeconds float64
	// MaxRSSBytes is the peak resident set of the largest process of the
	// tree (getrusage's ru_maxrss of the children), in bytes.
	MaxRSSBytes int64
	// GPUs is the number of GPUs the run held (its CUDA_VISIBLE_DEVICES).
	GPUs int
}

// CPUSeconds is user plus system CPU time.
func (c Cost) CPUSeconds() float64 { return c.UserSeconds + c.SysSeconds }

// GPUSeconds is the GPUs held times the wall time; 0 without GPUs.
func (c Cost) GPUSeconds() float64 { return float64(c.GPUs) * c.WallSeconds }

// ParseCost reads a cost line: "v1 WALL USER SYS MAXRSS GPUS" (seconds,
// seconds, seconds, bytes, count), as agent.py's write_cost writes it.
func ParseCost(line string) (Cost, error) {
	f := strings.Fields(line)
	if len(f) != 6 || f[0] != "v1" {
		return Cost{}, fmt.Errorf("bad cost line %q", line)
	}
	var c Cost
	for i, p := range []*float64{&c.WallSeconds, &c.UserSeconds, &c.SysSeconds} {
		v, err := strconv.ParseFloat(f[i+1], 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return Cost{}, fmt.Errorf("bad cost line %q", line)
		}
		*p = v
	}
	rss, err1 := strconv.ParseInt(f[4], 10, 64)
	gpus, err2 := strconv.Atoi(f[5])
	if err1 != nil || err2 != nil || rss < 0 || gpus < 0 {
		return Cost{}, fmt.Errorf("bad cost line %q", line)
	}
	c.MaxRSSBytes, c.GPUs = rss, gpus
	return c, nil
}
