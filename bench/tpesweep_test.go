//go:build bench

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/engine/fake"
	_ "github.com/mljob/mljob/internal/engines" // the engine registry dispatch looks hosts up in
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sweep"
)

// TestTPESweep10k (go test -tags bench -run TestTPESweep10k -timeout 60m ./bench/)
// dispatches a 10,000-trial tpe sweep (3-parameter space: two floats and a
// choice) on the fake engine, 4 slots, parallel 4, so the time is the
// dispatcher's own: each trial's proposal (the trials changed since the
// last proposal, the sampler, two inserts, in one transaction), its claim
// and its outcome. It prints the wall time per trial around trial 100,
// 1,000 and 10,000 (from the dispatcher's log: the time between the
// proposals of 100 trials), one proposal's sync and sampler at those
// sizes, and the process's peak RSS (the dispatcher and the in-process
// fake engine).
func TestTPESweep10k(t *testing.T) {
	const budget = 10_000
	ctx := context.Background()
	store, err := db.Open(ctx, filepath.Join(t.TempDir(), "mljob.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	f, err := sweep.ParseFile([]byte("method: tpe\ntrials: 10000\nparallel: 4\nseed: 1\nspace: {x: lin:-5:10, y: log:1e-3:10, opt: 'choice:a,b,c'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	space, err := f.Spec.SpaceJSON()
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.Submit(ctx, nil, db.SubmitOptions{
		Sweep: &db.NewSweep{Name: "bench-tpe", Project: "b", Definition: []byte(`{"method":"tpe"}`)},
		Study: &db.NewStudy{Method: "tpe", Budget: budget, Parallel: 4, Seed: 1, Space: space,
			Base: db.NewJob{Project: "b", Script: "echo.py", Spec: []byte(`{"projectName":"b","scriptName":"echo.py","x":0,"y":1,"opt":"a"}`),
				Objective: objective.Default}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Sweep.ID
	do := func(ctx context.Context, spec run.Spec, stdout, stderr io.Writer) int {
		var j struct {
			X, Y float64
			Opt  string
		}
		if err := json.Unmarshal(spec.Input.Data, &j); err != nil {
			return 1
		}
		v := (j.X-2)*(j.X-2) + math.Log(j.Y)*math.Log(j.Y)
		if j.Opt != "b" {
			v++
		}
		fmt.Fprintf(stdout, `{"status":200,"loss":%g}`+"\n", v)
		return 0
	}
	e := fake.New("h", do)
	h := hosts.LocalHost(4, "/usr/bin/python3", t.TempDir())
	h.Name = "h"
	var timed []time.Duration
	var at []int
	proposed := &proposalTimes{}
	opts := dispatch.Options{Hosts: []hosts.Host{h}, ScriptsDir: "../python-scripts", Poll: 50 * time.Millisecond, Log: proposed,
		Retries: dispatch.DefaultRetries,
		Connect: func(context.Context, hosts.Host, engine.Options) (engine.Engine, error) { return e, nil }}
	start := time.Now()
	sum, err := dispatch.Run(ctx, store, opts)
	wall := time.Since(start)
	if err != nil || sum.Succeeded != budget {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	// One proposal's sync and sampler, as NextTrialFrom does them: a log
	// kept across proposals (nothing changed since: the sync reads the
	// study's rev only) and the sampler given the first n trials of the
	// finished sweep.
	sts, err := store.Studies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	log := db.NewTrialLog(id)
	if err := store.SyncTrialLog(ctx, log); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{100, 1000, 10000} {
		const reps = 20
		var ds []time.Duration
		for range reps {
			t0 := time.Now()
			if err := store.SyncTrialLog(ctx, log); err != nil {
				t.Fatal(err)
			}
			if _, err := dispatch.ProposeTrial(sts[0], n, log.Trials()[:n]); err != nil {
				t.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		timed, at = append(timed, ds[reps/2]), append(at, n)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	t.Logf("10,000-trial tpe sweep on the fake engine: %s wall, %.2f ms per trial (proposal, claim, run, outcome)", wall.Round(time.Millisecond), float64(wall.Microseconds())/1000/budget)
	for i, n := range at {
		t.Logf("  around trial %d: %.2f ms per trial (wall between proposals %d and %d)", n, proposed.perTrial(n), max(n-100, 0), n)
		t.Logf("  sync of the kept log (no change) + propose from %d trials (median of 20): %.2f ms", n, float64(timed[i].Microseconds())/1000)
	}
	t.Logf("peak RSS of the process: %.1f MiB", float64(ru.Maxrss)/1024)
}

// proposalTimes is the dispatcher's log, keeping when each trial was
// proposed (the line "trial N of M proposed").
type proposalTimes struct {
	mu sync.Mutex
	at []time.Time // by trial number - 1
}

func (p *proposalTimes) Write(b []byte) (int, error) {
	now := time.Now()
	for _, line := range strings.Split(string(b), "\n") {
		var n, m int
		i := strings.Index(line, ": trial ")
		if i < 0 || !strings.Contains(line, "proposed as job") {
			continue
		}
		if _, err := fmt.Sscanf(line[i+len(": trial "):], "%d of %d", &n, &m); err != nil {
			continue
		}
		p.mu.Lock()
		for len(p.at) < n {
			p.at = append(p.at, time.Time{})
		}
		p.at[n-1] = now
		p.mu.Unlock()
	}
	return len(b), nil
}

// perTrial is the mean wall time per trial between the proposals of
// trial n-100 (or 1) and trial n, in milliseconds.
func (p *proposalTimes) perTrial(n int) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	from := max(n-100, 1)
	if n > len(p.at) || p.at[n-1].IsZero() || p.at[from-1].IsZero() || n == from {
		return math.NaN()
	}
	return float64(p.at[n-1].Sub(p.at[from-1]).Microseconds()) / 1000 / float64(n-from)
}
