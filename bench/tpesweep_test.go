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

// TestTPESweep10k (go test -tags bench -run TestTPESweep10k -timeout 60m ./bench/;
// a proposal reads every trial before it, so the run is quadratic: tens of
// minutes on 2 cores)
// dispatches a 10,000-trial tpe sweep (3-parameter space: two floats and a
// choice) on the fake engine, 4 slots, parallel 4, so the time is the
// dispatcher's own: each trial's proposal (read every trial, the sampler,
// two inserts, in one transaction), its claim and its outcome. It prints
// the wall time per trial, the time of one proposal's read and sampler at
// 100, 1,000 and 10,000 trials, and the process's peak RSS (the
// dispatcher and the in-process fake engine).
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
	opts := dispatch.Options{Hosts: []hosts.Host{h}, ScriptsDir: "../python-scripts", Poll: 50 * time.Millisecond,
		Retries: dispatch.DefaultRetries,
		Connect: func(context.Context, hosts.Host, engine.Options) (engine.Engine, error) { return e, nil }}
	start := time.Now()
	sum, err := dispatch.Run(ctx, store, opts)
	wall := time.Since(start)
	if err != nil || sum.Succeeded != budget {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	// One proposal's read and sampler, as NextTrial does them, with the
	// first n trials of the finished sweep.
	sts, err := store.Studies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{100, 1000, 10000} {
		const reps = 20
		var ds []time.Duration
		for range reps {
			t0 := time.Now()
			trials, _, err := store.StudyTrials(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dispatch.ProposeTrial(sts[0], n, trials[:n]); err != nil {
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
		t.Logf("  read %d trials + propose (median of 20): %.2f ms (the read is of all 10,000 rows)", n, float64(timed[i].Microseconds())/1000)
	}
	t.Logf("peak RSS of the process: %.1f MiB", float64(ru.Maxrss)/1024)
}
