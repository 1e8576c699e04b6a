package slurm_test

import (
	"testing"

	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/engine/enginetest"
	"github.com/mljob/mljob/internal/slurm"
	"github.com/mljob/mljob/internal/slurmtest"
	"github.com/mljob/mljob/internal/sshconn"
)

// TestConformance runs the engine contract (enginetest) on a real cluster,
// its login node this machine.
func TestConformance(t *testing.T) {
	c := slurmtest.Start(t, slurmtest.Options{CPUs: 4})
	wd := t.TempDir()
	local := func(*testing.T) sshconn.Transport { return sshconn.Local{} }
	enginetest.Run(t, func(t *testing.T) engine.Engine {
		return newFixture(t, local, wd, c, slurm.Config{Slots: 8}).host
	})
}

// TestLiveProgress: the poller reads a run's progress lines as it runs, in
// its one session per poll (enginetest.Live).
func TestLiveProgress(t *testing.T) {
	c := slurmtest.Start(t, slurmtest.Options{CPUs: 4})
	wd := t.TempDir()
	local := func(*testing.T) sshconn.Transport { return sshconn.Local{} }
	enginetest.Live(t, func(t *testing.T) engine.Engine {
		return newFixture(t, local, wd, c, slurm.Config{Slots: 8}).host
	})
}

// TestEnvReport: a task runs its run's environment report on the node, and
// the report's line comes back with the result (enginetest.Reports).
func TestEnvReport(t *testing.T) {
	c := slurmtest.Start(t, slurmtest.Options{CPUs: 2})
	wd := t.TempDir()
	local := func(*testing.T) sshconn.Transport { return sshconn.Local{} }
	enginetest.Reports(t, func(t *testing.T) engine.Engine {
		return newFixture(t, local, wd, c, slurm.Config{Slots: 2}).host
	})
}
