// Package engines registers mljob's engines with package engine, by the
// kind of hosts entry each runs: ssh and local (sshworker.Host, over SSH
// or on this machine) and slurm (slurm.Host, on a login node reached the
// same way). It is the one package that knows them all; importing it (for
// its side effect) makes them openable through engine.Open.
package engines

import (
	"context"
	"fmt"

	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/slurm"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshworker"
)

// openSSHMaxSessions is sshd's default MaxSessions; sessionsPerConn
// leaves room beside the runs for a probe and a kill.
const (
	openSSHMaxSessions = 10
	sessionsPerConn    = openSSHMaxSessions - 2
)

func init() {
	open := func(ctx context.Context, h hosts.Host, o engine.Options) (engine.Engine, error) {
		sh, err := Connect(ctx, h)
		if err != nil {
			return nil, err
		}
		return SSH(ctx, sh, h, o)
	}
	engine.Register(hosts.KindSSH, engine.Driver{Open: open, Warnings: shellWarnings})
	engine.Register(hosts.KindLocal, engine.Driver{Open: open})
	engine.Register(hosts.KindSlurm, engine.Driver{Scheduler: "Slurm", Open: func(ctx context.Context, h hosts.Host, o engine.Options) (engine.Engine, error) {
		sh, err := Connect(ctx, h)
		if err != nil {
			return nil, err
		}
		return Slurm(sh, h, o), nil
	}})
}

// Connect reaches the host of an entry: the local transport for kind
// local and for a Slurm entry whose login node is this machine, else one
// SSH connection.
func Connect(ctx context.Context, h hosts.Host) (*sshworker.Host, error) {
	var t sshconn.Transport = sshconn.Local{}
	if h.Kind != hosts.KindLocal && !h.Local {
		c, err := sshconn.Dial(ctx, SSHConfig(h))
		if err != nil {
			return nil, err
		}
		t = c
	}
	sh := sshworker.NewHost(h.Name, t, h.Workdir)
	sh.SetPython(h.Python) // the runs' wrapper is a Python program
	return sh, nil
}

// SSH makes sh the engine of the ssh or local entry h: unless
// o.ShellStart, its runs start through a resident agent run by the host's
// python, started now, as part of connecting (the first run would wait for
// it otherwise, after its claim). Where the agent cannot run, the host
// falls back to one shell session per run, and o.Warn says what that
// costs.
func SSH(ctx context.Context, sh *sshworker.Host, h hosts.Host, o engine.Options) (engine.Engine, error) {
	sh.SetLeases(o.Leases)
	if o.ShellStart {
		return sh, nil
	}
	sh.EnableAgent(h.Python, !o.ColdStart, func(msg string) {
		if h.Kind == hosts.KindSSH && len(h.SlotNames()) > sessionsPerConn {
			msg += "; " + sessionsWarning(h)
		}
		if o.Warn != nil {
			o.Warn(msg)
		}
	})
	if err := sh.StartAgent(ctx); err != nil {
		sh.Close()
		return nil, err
	}
	return sh, nil
}

// Slurm makes sh, the login node of the slurm entry h, its engine.
func Slurm(sh *sshworker.Host, h hosts.Host, o engine.Options) engine.Engine {
	cfg := slurm.Config{Name: h.Name, Sbatch: h.Sbatch, Slots: h.Slots, Poll: o.Poll, Warn: o.Warn}
	for _, e := range h.Env {
		cfg.Env = append(cfg.Env, e.Key+"="+e.Value)
	}
	if o.OnQueue != nil {
		cfg.OnPoll = func(n slurm.PollNews) {
			q := engine.QueueNews{Pending: n.Pending, Running: n.Running}
			for _, c := range n.Changed {
				q.Changed = append(q.Changed, engine.TaskState{RunID: c.RunID, State: c.State})
			}
			o.OnQueue(q)
		}
	}
	return slurm.New(sh, cfg)
}

// SSHConfig is how an ssh host of the hosts file is dialled: directly,
// through its gateways (each one's Config behind the one before it) or
// through its proxy command. It lives here, not in hosts, because hosts
// must not depend on sshconn; hosts check uses it so that it connects
// exactly as dispatch does.
func SSHConfig(h hosts.Host) sshconn.Config {
	cfg := sshconn.Config{
		Name:             h.Name,
		Alias:            h.Alias,
		Address:          h.Address,
		Port:             h.Port,
		User:             h.User,
		IdentityFile:     h.IdentityFile,
		KnownHosts:       h.KnownHosts,
		CertificateFiles: h.CertificateFiles,
		ConnectTimeout:   h.ConnectTimeout,
		ProxyCommand:     h.ProxyCommand,
	}
	var jump *sshconn.Config
	for _, hop := range h.Jump {
		j := sshconn.Config{
			Name:             hop.Name,
			Address:          hop.Address,
			Port:             hop.Port,
			User:             hop.User,
			IdentityFile:     hop.IdentityFile,
			KnownHosts:       hop.KnownHosts,
			CertificateFiles: hop.CertificateFiles,
			ConnectTimeout:   h.ConnectTimeout,
			ProxyCommand:     hop.ProxyCommand,
			Jump:             jump,
		}
		jump = &j
	}
	cfg.Jump = jump
	return cfg
}

// shellWarnings says, for a dispatch that starts each run through a shell
// session of its own, when an entry has more slots than one connection
// may hold sessions.
func shellWarnings(h hosts.Host, o engine.Options) []string {
	if o.ShellStart && len(h.SlotNames()) > sessionsPerConn {
		return []string{sessionsWarning(h)}
	}
	return nil
}

// sessionsWarning says why more than sessionsPerConn slots on one host may
// not all run at once when each run holds a session.
func sessionsWarning(h hosts.Host) string {
	return fmt.Sprintf("host %s has %d slots: each run holds one SSH session, and OpenSSH allows %d per connection unless its MaxSessions says more; runs past that wait for a session to end before they start",
		h.Name, len(h.SlotNames()), openSSHMaxSessions)
}
