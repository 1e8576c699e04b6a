package live

import (
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/objective"
)

// TestFormatHost pins the host lines: an ssh host's line is the same
// whether or not Slurm entries share the view, and a Slurm entry shows
// Slurm's counts and no load.
func TestFormatHost(t *testing.T) {
	tests := []struct {
		name string
		h    HostSnapshot
		want string
	}{
		{"connecting", HostSnapshot{Name: "gpu1", State: HostConnecting},
			"  gpu1           connecting   0 running  load -"},
		{"ssh with load", HostSnapshot{Name: "gpu1", State: HostUp, Running: 2, Load: 0.5, HasLoad: true},
			"  gpu1           up           2 running  load 0.50"},
		{"ssh busy with error", HostSnapshot{Name: "gpu2", State: HostBusy, Running: 12, Load: 7.25, HasLoad: true, LastErr: "exit status 3"},
			"  gpu2           busy        12 running  load 7.25   last error: exit status 3"},
		{"ssh down", HostSnapshot{Name: "gpu3", State: HostDown, LastErr: "dial: refused"},
			"  gpu3           down         0 running  load -      last error: dial: refused"},
		{"slurm", HostSnapshot{Name: "campus", State: HostUp, Running: 16, Slurm: true, SlurmPending: 12, SlurmRunning: 4},
			"  campus         up         slurm: 12 pending · 4 running"},
		{"slurm empty with error", HostSnapshot{Name: "campus", State: HostUp, Slurm: true, LastErr: "Slurm ended the task: NODE_FAIL"},
			"  campus         up         slurm: 0 pending · 0 running  last error: Slurm ended the task: NODE_FAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatHost(tt.h); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestExtraLinesBounded: the lines below the hosts stay within their
// fillers however many groups and runs there are, the last of each kind
// counting the rest.
func TestExtraLinesBounded(t *testing.T) {
	var s Snapshot
	for i := range 10 {
		s.Bests = append(s.Bests, Best{Project: "p", Sweep: string(rune('a' + i)), Objective: objective.Default})
	}
	for i := range 30 {
		s.Runs = append(s.Runs, RunSnapshot{Order: int64(i), Job: int64(i), Step: 1})
	}
	lines := extraLines(s)
	if len(lines) != maxBestLines+maxRunLines {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), maxBestLines+maxRunLines, strings.Join(lines, "\n"))
	}
	if got := lines[maxBestLines-1]; got != "  … and 7 more" {
		t.Errorf("last best line %q", got)
	}
	if got := lines[len(lines)-1]; got != "  … and 19 more running" {
		t.Errorf("last run line %q", got)
	}
	if got := lines[maxBestLines]; got != "  job 0 step 1" {
		t.Errorf("first run line %q", got)
	}
	if got := extraLines(Snapshot{}); len(got) != 0 {
		t.Errorf("lines with nothing to show: %q", got)
	}
}

// TestOverallPruned: the overall line counts pruned runs apart, and only
// when there are some.
func TestOverallPruned(t *testing.T) {
	tests := []struct {
		name string
		s    Snapshot
		want string
	}{
		{"none pruned", Snapshot{Succeeded: 2, Failed: 1, Queued: 1}, "3/4  succeeded 2  failed 1  running 0  queued 1"},
		{"pruned", Snapshot{Succeeded: 2, Failed: 1, Pruned: 3}, "6/6  succeeded 2  failed 1  pruned 3  running 0  queued 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &View{snap: tt.s, now: time.Now}
			if got := v.overall(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want it to start with %q", got, tt.want)
			}
		})
	}
}
