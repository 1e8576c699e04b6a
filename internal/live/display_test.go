package live_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/live"
)

// TestDisplayPlain: off a terminal each state change prints one line;
// with -v the dispatcher's own log lines replace the plain ones, except a
// Slurm entry's counts, which it does not log. The tally sees every event
// either way, for the summary.
func TestDisplayPlain(t *testing.T) {
	events := []dispatch.Event{
		{Time: t0, Kind: dispatch.OrderClaimed, Host: "campus", Slot: "0", Order: 7, Job: 3, Attempt: 1},
		{Time: t0, Kind: dispatch.OrderStarted, Host: "campus", Slot: "0", Order: 7, Job: 3, Attempt: 1, Task: "12345_3"},
		{Time: t0, Kind: dispatch.HostQueue, Host: "campus", Pending: 1},
		{Time: t0, Kind: dispatch.HostQueue, Host: "campus", Pending: 1},
		{Time: t0, Kind: dispatch.HostQueue, Host: "campus", Running: 1},
		{Time: t0, Kind: dispatch.HostQueue, Host: "campus", Running: 1},
	}
	counts := "2026-11-25T21:03:04Z host campus: Slurm 1 pending, 0 running\n" +
		"2026-11-25T21:03:04Z host campus: Slurm 0 pending, 1 running\n"
	tests := []struct {
		name    string
		verbose bool
		want    string
	}{
		{"plain", false, "2026-11-25T21:03:04Z order 7 claimed for campus slot 0 (job 3, attempt 1)\n" +
			"2026-11-25T21:03:04Z order 7 started on campus as Slurm task 12345_3 (job 3, attempt 1)\n" + counts},
		{"verbose", true, counts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			queued := func(context.Context) (int, error) {
				t.Error("Queued asked off a terminal")
				return 0, nil
			}
			d := live.NewDisplay(context.Background(), &b, live.DisplayOptions{
				Verbose: tt.verbose, Hosts: []string{"campus"}, ProcessStart: t0, Start: t0, Queued: queued})
			defer d.Stop()
			for _, e := range events {
				d.Observe(e)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
			h := d.Snapshot().Hosts[0]
			if h.Running != 1 || !h.Slurm || h.SlurmPending != 0 || h.SlurmRunning != 1 {
				t.Errorf("tally host %+v, want 1 in flight and Slurm 0 pending, 1 running", h)
			}
			if d.Warn() != &b || (d.Log() != nil) != tt.verbose {
				t.Errorf("Warn() = %v, Log() = %v: want the output, and it as the log only with -v", d.Warn(), d.Log())
			}
		})
	}
}

// TestDisplayFinish: the summary takes its counts from the dispatcher and
// its failures from the events; with -v the timeline follows it.
func TestDisplayFinish(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		var b bytes.Buffer
		d := live.NewDisplay(context.Background(), &b, live.DisplayOptions{
			Verbose: verbose, Hosts: []string{"h1"}, ProcessStart: time.Now(), Start: time.Now()})
		d.Observe(ev(dispatch.OrderClaimed, 1))
		d.Observe(dispatch.Event{Time: t0, Kind: dispatch.OrderFailed, Host: "h1", Slot: "0", Order: 1, Job: 101, Attempt: 1, Reason: "exit status 3"})
		b.Reset()
		if err := d.Finish(dispatch.Summary{Succeeded: 4, Failed: 1, Adopted: 2}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if !strings.HasPrefix(out, "Dispatched in ") || !strings.Contains(out, ": 4 succeeded, 1 failed.") ||
			!strings.Contains(out, "exit status 3") || !strings.Contains(out, "mljob logs 101") {
			t.Errorf("verbose=%v: summary\n%s\nwant the dispatcher's counts and the failure of job 101", verbose, out)
		}
		if got := strings.Contains(out, "\nTimeline"); got != verbose {
			t.Errorf("verbose=%v: timeline shown %v:\n%s", verbose, got, out)
		}
		d.Stop() // after Finish: nothing more happens
	}
}

// TestUseView: the live view needs a terminal on standard error and an
// environment that does not turn it off.
func TestUseView(t *testing.T) {
	tests := []struct {
		name  string
		tty   bool
		env   map[string]string
		plain bool
		want  bool
	}{
		{"a terminal", true, nil, false, true},
		{"not a terminal", false, nil, false, false},
		{"--plain", true, nil, true, false},
		{"a dumb terminal", true, map[string]string{"TERM": "dumb"}, false, false},
		{"another terminal", true, map[string]string{"TERM": "xterm-256color"}, false, true},
		{"CI=true", true, map[string]string{"CI": "true"}, false, false},
		{"CI=1", true, map[string]string{"CI": "1"}, false, false},
		{"CI=false", true, map[string]string{"CI": "false"}, false, true},
		{"CI=0", true, map[string]string{"CI": "0"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := live.UseView(tt.tty, tt.plain, func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("UseView = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestWatchInterrupt: an interrupt restores the signals and says that the
// dispatch stops; a watch stopped first says nothing.
func TestWatchInterrupt(t *testing.T) {
	var buf bytes.Buffer
	live.WatchInterrupt(context.Background(), &buf, func() { t.Error("stopSignals called without an interrupt") })()
	if buf.Len() != 0 {
		t.Errorf("a watch stopped before any interrupt wrote %q", buf.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	restored := make(chan struct{})
	stop := live.WatchInterrupt(ctx, &buf, func() { close(restored) })
	cancel()
	<-restored
	stop()
	if !strings.HasPrefix(buf.String(), "Stopping: no new work will start") {
		t.Errorf("after an interrupt the watch wrote %q", buf.String())
	}
}
