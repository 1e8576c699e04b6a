package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/live"
)

// TestPlainObserver: off a terminal each state change prints one line;
// with -v the dispatcher's own log lines replace the plain ones, except a
// Slurm entry's counts, which it does not log. The tally sees every event
// either way, for the summary.
func TestPlainObserver(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 21, 3, 4, 0, time.UTC)
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
			tally := live.NewTally(t0, []string{"campus"})
			observe := plainObserver(tally, live.NewLines(&b), tt.verbose)
			for _, e := range events {
				observe(e)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
			h := tally.Snapshot().Hosts[0]
			if h.Running != 1 || !h.Slurm || h.SlurmPending != 0 || h.SlurmRunning != 1 {
				t.Errorf("tally host %+v, want 1 in flight and Slurm 0 pending, 1 running", h)
			}
		})
	}
}
