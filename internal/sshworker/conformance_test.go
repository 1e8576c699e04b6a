package sshworker_test

import (
	"testing"

	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/engine/enginetest"
)

// The engine contract (enginetest) on each way sshworker starts runs: the
// shell scripts and the agent, over SSH and on this machine.

func TestConformanceLocalShell(t *testing.T) {
	enginetest.Run(t, func(t *testing.T) engine.Engine { h, _ := localHost(t); return h })
}

func TestConformanceLocalAgent(t *testing.T) {
	newHost := withAgent(localHost)
	enginetest.Run(t, func(t *testing.T) engine.Engine { h, _ := newHost(t); return h })
}

func TestConformanceSSHShell(t *testing.T) {
	newHost := sshHosts(t)
	enginetest.Run(t, func(t *testing.T) engine.Engine { h, _ := newHost(t); return unclosed{h} })
}

func TestConformanceSSHAgent(t *testing.T) {
	newHost := withAgent(sshHosts(t))
	enginetest.Run(t, func(t *testing.T) engine.Engine { h, _ := newHost(t); return unclosed{h} })
}

// unclosed leaves the client that the test's Hosts share open: sshHosts
// closes it.
type unclosed struct{ engine.Engine }

func (unclosed) Close() error { return nil }

// The agent reads a run's progress lines as it runs (enginetest.Live); the
// shell scripts read them when it ends.

func TestLiveProgressLocalAgent(t *testing.T) {
	newHost := withAgent(localHost)
	enginetest.Live(t, func(t *testing.T) engine.Engine { h, _ := newHost(t); return h })
}

func TestLiveProgressSSHAgent(t *testing.T) {
	newHost := withAgent(sshHosts(t))
	enginetest.Live(t, func(t *testing.T) engine.Engine { h, _ := newHost(t); return unclosed{h} })
}
