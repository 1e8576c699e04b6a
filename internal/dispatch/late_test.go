package dispatch_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/engines"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshworker"
	"github.com/mljob/mljob/internal/testutil"
)

// cutTransport is the real local transport with a cable that can be cut:
// while cut, commands fail as a dropped SSH connection would, and the ones
// in flight end that way (their detached runs go on, as on a real host).
type cutTransport struct {
	sshconn.Local
	mu      sync.Mutex // guards cut, next and cancels
	cut     bool
	next    int
	cancels map[int]context.CancelFunc
}

func (c *cutTransport) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c.mu.Lock()
	if c.cut {
		c.mu.Unlock()
		return fmt.Errorf("exec: %w: cable cut", sshconn.ErrConnLost)
	}
	ctx2, cancel := context.WithCancel(ctx)
	defer cancel()
	id := c.next
	c.next++
	c.cancels[id] = cancel
	c.mu.Unlock()
	err := c.Local.Exec(ctx2, argv, stdin, stdout, stderr)
	c.mu.Lock()
	delete(c.cancels, id)
	c.mu.Unlock()
	if ctx.Err() == nil && ctx2.Err() != nil {
		return fmt.Errorf("exec: %w: cable cut", sshconn.ErrConnLost)
	}
	return err
}

func (c *cutTransport) setCut(cut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = cut
	if cut {
		for _, cancel := range c.cancels {
			cancel()
		}
	}
}

// slowFirst sleeps in its first attempt's run dir and reports loss = the
// attempt number, so the test can tell the outcomes apart.
const slowFirst = `import json, os, sys, time
attempt = int(os.path.basename(os.getcwd()).rsplit("-", 1)[1])
if attempt == 1:
    time.sleep(0.8)
print(json.dumps({"status": 200, "loss": float(attempt)}))
`

func TestALateOutcomeOfAnAbandonedRunIsKept(t *testing.T) {
	d := testutil.MustOpenDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := d.SubmitJobs(ctx, []db.NewJob{{Project: "p", Script: "slow.py", Spec: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	opts := localOptions(t, 1)
	withScript(t, &opts, "slow.py", slowFirst)
	h1 := opts.Hosts[0]
	h1.Name = "h1"
	h2 := hosts.LocalHost(1, python, t.TempDir())
	h2.Name = "h2"
	opts.Hosts = []hosts.Host{h1, h2}
	opts.Follow = true
	opts.LostAfter = 300 * time.Millisecond
	cable := &cutTransport{cancels: map[int]context.CancelFunc{}}
	// h2 comes up only once the job runs on h1, so that h1 gets it first.
	h1Running := make(chan struct{})
	opts.Connect = func(ctx context.Context, h hosts.Host, o engine.Options) (engine.Engine, error) {
		if h.Name == "h1" {
			return engines.SSH(ctx, sshworker.NewHost(h.Name, cable, h.Workdir), h, o)
		}
		select {
		case <-h1Running:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return engines.SSH(ctx, sshworker.NewHost(h.Name, sshconn.Local{}, h.Workdir), h, o)
	}
	exitCode := filepath.Join(h1.Workdir, "runs", pyexec.RunID(d.QueueID(), 1, 1), "exit_code")
	var mu sync.Mutex
	var out bytes.Buffer
	healed := false
	watch := writerFunc(func(p []byte) {
		mu.Lock()
		defer mu.Unlock()
		out.Write(p)
		s := string(p)
		switch {
		case strings.Contains(s, "order 1 running on h1"):
			cable.setCut(true)
			close(h1Running)
		case strings.Contains(s, "order 1 succeeded on h2") && !healed:
			// Heal h1 only once its abandoned run has finished there.
			healed = true
			go func() {
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					if _, err := os.Stat(exitCode); err == nil {
						cable.setCut(false)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				t.Errorf("the abandoned run never finished")
				cancel()
			}()
		case strings.Contains(s, "finished after all"):
			cancel()
		}
	})
	opts.Log, opts.Warn = watch, watch
	done := make(chan error, 1)
	go func() {
		_, err := dispatch.Run(ctx, d, opts)
		done <- err
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cancel()
		<-done
		t.Fatalf("timed out\n%s", out.String())
	}
	bg := context.Background()
	rows, err := d.Outcomes(bg, db.OutcomeFilter{JobID: 1})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	log := out.String()
	mu.Unlock()
	// Both outcomes are kept: attempt 2's, recorded first, counts; attempt
	// 1's says why it does not.
	if len(rows) != 2 || rows[0].Attempt != 1 || rows[0].Loss == nil || *rows[0].Loss != 1 || rows[0].Host != "h1" ||
		!strings.Contains(rows[0].Superseded, "attempt 2") || rows[1].Attempt != 2 || rows[1].Superseded != "" {
		t.Fatalf("want both outcomes, attempt 1's superseded by attempt 2's, got %+v\n%s", rows, log)
	}
	orders, _ := d.OrdersForJob(bg, 1)
	atts, _ := d.Attempts(bg, 1)
	if orders[0].State != db.StateSucceeded || len(atts) != 2 || atts[0].State != db.StateSucceeded ||
		atts[1].State != db.StateSucceeded {
		t.Fatalf("order %+v attempts %+v\n%s", orders[0], atts, log)
	}
	if !strings.Contains(log, "marked superseded; attempt 2's outcome (succeeded) counts") {
		t.Fatalf("the user was not told:\n%s", log)
	}
}
