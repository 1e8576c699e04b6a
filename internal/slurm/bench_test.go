package slurm_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/slurm"
	"github.com/mljob/mljob/internal/slurmtest"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshtest"
	"github.com/mljob/mljob/internal/sshworker"
)

// countingTransport counts the sessions opened on the login node.
type countingTransport struct {
	sshconn.Transport
	n atomic.Int64
}

func (c *countingTransport) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c.n.Add(1)
	return c.Transport.Exec(ctx, argv, stdin, stdout, stderr)
}

// BenchmarkArray sends batches of 50 trivial runs through one Slurm entry
// whose login node is a loopback sshd: each run's dir is prepared, the
// batch goes as one array, and the poller waits for every task. It reports
// the SSH sessions each run costs the login node and the arrays per batch;
// the wall time is mostly Slurm's (it starts tasks in scheduling waves).
func BenchmarkArray(b *testing.B) {
	const perBatch = 50
	c := slurmtest.Start(b, slurmtest.Options{CPUs: perBatch})
	servers, keys := sshtest.Start(b, 1, sshtest.Options{SkipBashrc: true})
	s := servers[0]
	cl, err := sshconn.Dial(context.Background(), s.Config(keys))
	if err != nil {
		b.Fatal(err)
	}
	tr := &countingTransport{Transport: cl}
	arrays := map[string]bool{}
	var mu sync.Mutex
	h := slurm.New(sshworker.NewHost("campus", tr, s.Workdir), slurm.Config{
		Name: "campus", Env: c.Env(), Slots: perBatch, Poll: 200 * time.Millisecond})
	b.Cleanup(func() { h.Close() })
	ctx := context.Background()
	runs := 0
	for b.Loop() {
		var wg sync.WaitGroup
		for i := range perBatch {
			id := fmt.Sprintf("b%d-%d", runs/perBatch, i)
			wg.Go(func() {
				res, err := h.Run(ctx, shSpec(id, `echo "$1"`), func(st run.Started) {
					mu.Lock()
					job, _, _ := strings.Cut(st.Task, "_")
					arrays[job] = true
					mu.Unlock()
				})
				if err != nil || res.ExitCode != 0 {
					b.Errorf("run %s: exit %d, %v", id, res.ExitCode, err)
				}
			})
		}
		wg.Wait()
		runs += perBatch
	}
	b.ReportMetric(float64(tr.n.Load())/float64(runs), "sessions/run")
	b.ReportMetric(float64(len(arrays))/float64(runs/perBatch), "arrays/batch")
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(b.Elapsed().Seconds()/float64(runs), "s/run")
}
