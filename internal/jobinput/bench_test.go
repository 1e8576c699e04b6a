package jobinput

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/sweep"
	pyscripts "github.com/mljob/mljob/python-scripts"
)

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBuildSweep builds a 100,000-job sweep of the seed's job (100
// grid values × 1,000 random draws) for nn.py, with nn.fields.yaml beside
// it and without, and with a typo in the base so every job is warned about.
func BenchmarkBuildSweep(b *testing.B) {
	base, err := os.ReadFile(filepath.Join("..", "..", "examples", "wine_data", "job.json"))
	if err != nil {
		b.Fatal(err)
	}
	decl, err := pyscripts.FS.ReadFile("nn.fields.yaml")
	if err != nil {
		b.Fatal(err)
	}
	values := make([]string, 100)
	for i := range values {
		values[i] = strconv.Itoa(i + 1)
	}
	axis, err := sweep.ParseGrid("epochs=" + strings.Join(values, ","))
	if err != nil {
		b.Fatal(err)
	}
	r, err := sweep.ParseRange("l1=log:1e-4:1e-1")
	if err != nil {
		b.Fatal(err)
	}
	spec := sweep.Spec{Grid: []sweep.Axis{axis}, Random: 1000, Ranges: []sweep.Range{r}, Seed: 1}
	for _, tt := range []struct {
		name     string
		declared bool
		job      string
		warnings int
	}{
		{"undeclared", false, string(base), 0},
		{"declared", true, string(base), 0},
		{"declared, every job warned", true, strings.Replace(string(base), `"learningRate"`, `"learningrate"`, 1), 1},
	} {
		b.Run(tt.name, func(b *testing.B) {
			dir := b.TempDir()
			MustWriteFile(b, dir, "nn.py", "")
			MustWriteFile(b, dir, "wine_data.csv", "")
			if tt.declared {
				MustWriteFile(b, dir, "nn.fields.yaml", string(decl))
			}
			job := MustWriteFile(b, dir, "job.json", tt.job)
			before := cpuTime(b)
			for b.Loop() {
				c := &Checker{ScriptsDir: dir, DataDir: dir}
				batch, err := c.Build(&Sweep{Spec: spec, SeedSet: true}, []string{job}, nil)
				if err != nil {
					b.Fatal(err)
				}
				if len(batch.Jobs) != 100_000 || len(batch.Warnings) != tt.warnings || tt.warnings > 0 && batch.Warnings[0].Jobs != 100_000 {
					b.Fatalf("%d jobs, warnings %+v", len(batch.Jobs), batch.Warnings)
				}
			}
			// CPU time, every thread's: on a shared machine wall time
			// measures the neighbours.
			b.ReportMetric((cpuTime(b)-before).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}
