package live_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/live"
	"github.com/mljob/mljob/internal/testutil"
)

var t0 = time.Date(2026, 11, 25, 21, 3, 4, 0, time.UTC)

func ev(k dispatch.EventKind, order int64) dispatch.Event {
	return dispatch.Event{Time: t0, Kind: k, Host: "h1", Slot: "0", Order: order, Job: order + 100, Attempt: 1}
}

func TestLines(t *testing.T) {
	busy := dispatch.Event{Time: t0, Kind: dispatch.HostBusy, Host: "h1", Load: 3, MaxLoad: 2}
	calm := dispatch.Event{Time: t0, Kind: dispatch.HostProbed, Host: "h1", Load: 1, MaxLoad: 2}
	failed := ev(dispatch.OrderFailed, 12)
	failed.Reason = "exit status 1: boom"
	done := ev(dispatch.OrderSucceeded, 12)
	done.Duration = 1500 * time.Millisecond
	pruned := ev(dispatch.OrderPruned, 12)
	pruned.Reason = "pruned at step 9 (rung 2): valLoss 0.53 ranked 5 of 7, the cutoff was 0.41 (asha)"
	queued := ev(dispatch.OrderStarted, 12)
	queued.Host, queued.Task = "campus", "12345_3"
	poll := func(host string, pending, running int) dispatch.Event {
		return dispatch.Event{Time: t0, Kind: dispatch.HostQueue, Host: host, Pending: pending, Running: running}
	}
	tests := []struct {
		name   string
		events []dispatch.Event
		want   string
	}{
		{"started", []dispatch.Event{ev(dispatch.OrderStarted, 12)}, "2026-11-25T21:03:04Z order 12 started on h1 slot 0 (job 112, attempt 1)\n"},
		{"succeeded", []dispatch.Event{done}, "2026-11-25T21:03:04Z order 12 succeeded on h1 in 1.5s (job 112, attempt 1)\n"},
		{"failed", []dispatch.Event{failed}, "2026-11-25T21:03:04Z order 12 failed on h1 (job 112, attempt 1): exit status 1: boom\n"},
		{"pruned", []dispatch.Event{pruned}, "2026-11-25T21:03:04Z order 12 pruned on h1 (job 112, attempt 1): " +
			"pruned at step 9 (rung 2): valLoss 0.53 ranked 5 of 7, the cutoff was 0.41 (asha)\n"},
		{"probe says nothing", []dispatch.Event{calm}, ""},
		{"busy once, then bored", []dispatch.Event{busy, busy, calm},
			"2026-11-25T21:03:04Z host h1 busy (load 3.00 >= max_load 2.00)\n" +
				"2026-11-25T21:03:04Z host h1 bored again (load 1.00 < max_load 2.00)\n"},
		{"down", []dispatch.Event{{Time: t0, Kind: dispatch.HostDown, Host: "h1", Reason: "dial: refused"}}, "2026-11-25T21:03:04Z host h1 down: dial: refused\n"},
		{"started as a Slurm task", []dispatch.Event{queued}, "2026-11-25T21:03:04Z order 12 started on campus as Slurm task 12345_3 (job 112, attempt 1)\n"},
		{"Slurm counts once per change", []dispatch.Event{poll("campus", 3, 0), poll("campus", 3, 0), poll("campus", 1, 2), poll("campus", 1, 2), poll("campus", 0, 0)},
			"2026-11-25T21:03:04Z host campus: Slurm 3 pending, 0 running\n" +
				"2026-11-25T21:03:04Z host campus: Slurm 1 pending, 2 running\n" +
				"2026-11-25T21:03:04Z host campus: Slurm 0 pending, 0 running\n"},
		{"idle Slurm entry says nothing", []dispatch.Event{poll("campus", 0, 0), poll("campus", 0, 0)}, ""},
		{"Slurm counts per entry", []dispatch.Event{poll("campus", 2, 0), poll("hpc", 2, 0), poll("campus", 2, 0)},
			"2026-11-25T21:03:04Z host campus: Slurm 2 pending, 0 running\n" +
				"2026-11-25T21:03:04Z host hpc: Slurm 2 pending, 0 running\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			l := live.NewLines(&b)
			for _, e := range tt.events {
				l.Observe(e)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}

func TestTally(t *testing.T) {
	failed := ev(dispatch.OrderFailed, 2)
	failed.Reason = "exit status 3"
	cancelled := ev(dispatch.OrderFailed, 3)
	cancelled.Reason = "cancelled"
	tests := []struct {
		name                                  string
		events                                []dispatch.Event
		succeeded, failed, cancelled, running int
		failures                              int
	}{
		{"claimed is running", []dispatch.Event{ev(dispatch.OrderClaimed, 1)}, 0, 0, 0, 1, 0},
		{"finished", []dispatch.Event{ev(dispatch.OrderClaimed, 1), ev(dispatch.OrderSucceeded, 1)}, 1, 0, 0, 0, 0},
		{"failure kept", []dispatch.Event{ev(dispatch.OrderClaimed, 2), failed}, 0, 1, 0, 0, 1},
		{"requeued after failing is no failure", []dispatch.Event{ev(dispatch.OrderClaimed, 2), failed, ev(dispatch.OrderRequeued, 2)}, 0, 0, 0, 0, 0},
		{"cancelled counted", []dispatch.Event{ev(dispatch.OrderClaimed, 3), cancelled}, 0, 1, 1, 0, 1},
		{"detached is not running", []dispatch.Event{ev(dispatch.OrderClaimed, 1), ev(dispatch.OrderDetached, 1)}, 0, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := live.NewTally(t0, []string{"h1"})
			for _, e := range tt.events {
				ta.Observe(e)
			}
			s := ta.Snapshot()
			if s.Succeeded != tt.succeeded || s.Failed != tt.failed || s.Cancelled != tt.cancelled || s.Running != tt.running || len(s.Failures) != tt.failures {
				t.Errorf("got succeeded %d failed %d cancelled %d running %d failures %d, want %d %d %d %d %d",
					s.Succeeded, s.Failed, s.Cancelled, s.Running, len(s.Failures), tt.succeeded, tt.failed, tt.cancelled, tt.running, tt.failures)
			}
			if s.Hosts[0].Running != tt.running {
				t.Errorf("host running %d, want %d", s.Hosts[0].Running, tt.running)
			}
		})
	}
}

// TestTallyHosts: a Slurm entry's host snapshot carries its last poll's
// counts; a host that never sent them is no Slurm entry.
func TestTallyHosts(t *testing.T) {
	poll := func(pending, running int) dispatch.Event {
		return dispatch.Event{Time: t0, Kind: dispatch.HostQueue, Host: "h1", Pending: pending, Running: running}
	}
	tests := []struct {
		name   string
		events []dispatch.Event
		want   live.HostSnapshot
	}{
		{"ssh host", []dispatch.Event{{Time: t0, Kind: dispatch.HostUp, Host: "h1", Load: 0.5}, ev(dispatch.OrderClaimed, 1)},
			live.HostSnapshot{Name: "h1", State: live.HostUp, Running: 1, Load: 0.5, HasLoad: true}},
		{"Slurm entry", []dispatch.Event{{Time: t0, Kind: dispatch.HostUp, Host: "h1"}, ev(dispatch.OrderClaimed, 1), poll(1, 0)},
			live.HostSnapshot{Name: "h1", State: live.HostUp, Running: 1, Slurm: true, SlurmPending: 1}},
		{"last poll wins", []dispatch.Event{poll(12, 4), poll(0, 0)},
			live.HostSnapshot{Name: "h1", State: live.HostConnecting, Slurm: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := live.NewTally(t0, []string{"h1"})
			for _, e := range tt.events {
				ta.Observe(e)
			}
			if got := ta.Snapshot().Hosts[0]; got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWriteSummary(t *testing.T) {
	tests := []struct {
		name string
		sum  live.Summary
		want string
	}{
		{"clean", live.Summary{Wall: time.Minute, Succeeded: 3},
			"Dispatched in 1m0s: 3 succeeded, 0 failed.\nRate 3.0 runs/min; 0 cancelled, 0 left running.\n"},
		// Pruned runs are counted apart: no failure, no "see the failures".
		{"pruned", live.Summary{Wall: time.Minute, Succeeded: 2, Pruned: 3},
			"Dispatched in 1m0s: 2 succeeded, 0 failed, 3 pruned.\nRate 5.0 runs/min; 0 cancelled, 0 left running.\n"},
		// What the runs cost, when their costs are known.
		{"cost", live.Summary{Wall: time.Minute, Succeeded: 2, CPUSeconds: 5400, GPUSeconds: 1800, Costed: 2},
			"Dispatched in 1m0s: 2 succeeded, 0 failed.\nRate 2.0 runs/min; 0 cancelled, 0 left running.\n" +
				"Cost of 2 run(s): 1.500 CPU-hours (5400.0 CPU-s), 0.500 GPU-hours.\n"},
		{"failures", live.Summary{Wall: 30 * time.Second, Succeeded: 1, Failed: 1, Requeued: 2, Failures: []live.Failure{
			{Order: 4, Job: 9, Attempt: 2, Host: "h1", Reason: "exit status 1: " + strings.Repeat("x", 200)},
		}}, "Dispatched in 30s: 1 succeeded, 1 failed, 2 requeued.\n" +
			"Rate 4.0 runs/min; 0 cancelled, 0 left running.\n" +
			"Failures:\n" +
			"  order 4 (job 9) on h1, attempt 2: exit status 1: " + strings.Repeat("x", 84) + "…\n" +
			"    mljob logs 9 --attempt 2 --stderr\n" +
			"See the failures with: mljob outcomes --output json\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := live.WriteSummary(&b, tt.sum); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

// TestViewStop: the view's last frame and the lines written through it
// reach the output by the time Stop returns.
func TestViewStop(t *testing.T) {
	var b testutil.SyncBuffer
	v := live.NewView(&b, live.ViewOptions{Hosts: []string{"gpu1", "campus"}, Start: t0, ForceTTY: true, Refresh: 10 * time.Millisecond})
	v.SetQueued(1)
	v.Observe(ev(dispatch.OrderClaimed, 1))
	if _, err := v.Write([]byte("a log line\n")); err != nil {
		t.Fatal(err)
	}
	v.Observe(dispatch.Event{Time: t0, Kind: dispatch.HostUp, Host: "gpu1", Load: 0.5})
	v.Observe(dispatch.Event{Time: t0, Kind: dispatch.HostUp, Host: "campus"})
	v.Observe(dispatch.Event{Time: t0, Kind: dispatch.HostQueue, Host: "campus", Pending: 12, Running: 4})
	v.Stop()
	v.Stop() // idempotent
	out := b.String()
	for _, want := range []string{"a log line", "dispatch ", "succeeded 0", "running 1",
		"  gpu1           up           0 running  load 0.50",
		"  campus         up         slurm: 12 pending · 4 running"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%q", want, out)
		}
	}
}
