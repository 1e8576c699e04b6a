package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/render"
	"github.com/mljob/mljob/internal/testutil"
)

// mustSeedMetrics makes a database file and returns its path. Job 1 ran
// (order 1, attempt 1) and printed progress lines: loss and valLoss of
// folds 1 and 2 at steps 1 and 2 and an unnamed lr, two lines not taken and
// a value dropped. Job 2 waits in the queue.
func mustSeedMetrics(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	store := testutil.MustOpenDB(tb)
	defer store.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store.Now = func() time.Time { return at }
	if _, err := store.SubmitJobs(ctx, []db.NewJob{
		{Project: "wine", Script: "nn.py", Spec: []byte(`{"projectName":"wine","scriptName":"nn.py"}`)},
		{Project: "wine", Script: "nn.py", Spec: []byte(`{"projectName":"wine","scriptName":"nn.py","cv":true}`)},
	}); err != nil {
		tb.Fatal(err)
	}
	c, err := store.ClaimOrder(ctx, "gpu1", "0", "d1")
	if err != nil || c == nil {
		tb.Fatalf("claim: %v, %v", c, err)
	}
	var pts []db.MetricPoint
	for _, series := range []string{"fold1", "fold2"} {
		for step := range 2 {
			for _, name := range []string{"loss", "valLoss"} {
				v := 1 / float64(step+1)
				if name == "valLoss" {
					v += 0.25
				}
				pts = append(pts, db.MetricPoint{Series: series, Name: name, Idx: int64(step), Step: float64(step + 1), Value: v,
					At: at.Add(time.Duration(step*1500) * time.Millisecond)})
			}
		}
	}
	pts = append(pts, db.MetricPoint{Name: "lr", Step: 0.5, Value: 1e-3, At: at})
	if err := store.SaveProgress(ctx, db.ProgressBatch{OrderID: c.Order.ID, Attempt: c.Order.Attempt, Offset: 900, Lines: 5,
		Skipped: map[string]int64{"step went backwards": 1, "line too long": 1, "value not finite": 1}, Points: pts}); err != nil {
		tb.Fatal(err)
	}
	return store.Path()
}

// TestMetricsGolden pins mljob metrics' output (run with -update to
// rewrite testdata/metrics/, then review the diff).
func TestMetricsGolden(t *testing.T) {
	path := mustSeedMetrics(t)
	tests := []struct {
		name string
		args []string
	}{
		{"all", []string{"1"}},
		{"order", []string{"--order", "1", "--attempt", "1"}},
		{"name", []string{"1", "--name", "valLoss"}},
		{"series", []string{"1", "--series", "fold2"}},
		{"unnamed-series", []string{"1", "--series", ""}},
	}
	for _, tt := range tests {
		for _, format := range render.Formats {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				var out, errOut bytes.Buffer
				a := &app{io: ioStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}}
				args := append([]string{"metrics", "--db", path, "-o", format}, tt.args...)
				if code := executeCmd(context.Background(), a, newRootCmd(a), args); code != exitOK || errOut.Len() != 0 {
					t.Fatalf("exit %d, stderr %q", code, errOut.String())
				}
				if tt.name == "order" {
					tt.name = "all" // the same order and attempt as job 1's
				}
				checkGolden(t, filepath.Join("metrics", tt.name+"."+format), out.Bytes())
			})
		}
	}
}

// TestMetricsErrors: what mljob metrics says when it has nothing to list.
func TestMetricsErrors(t *testing.T) {
	path := mustSeedMetrics(t)
	tests := []struct {
		name      string
		args      []string
		code      int
		stderrHas string
	}{
		{"no job", nil, exitUsage, "Error: give a job id, or --order N"},
		{"both", []string{"1", "--order", "1"}, exitUsage, "Error: give a job id or --order, not both"},
		{"bad job id", []string{"x"}, exitUsage, `Error: JOB must be a job id (a positive integer), not "x"`},
		{"bad format", []string{"1", "-o", "xml"}, exitUsage, "Error: invalid argument"},
		{"unknown job", []string{"99"}, exitError, "Error: job 99 not found\nTry: list jobs with"},
		{"unknown order", []string{"--order", "99"}, exitError, "Error: order 99 not found"},
		{"not started", []string{"2"}, exitError, "Error: order 2 has not started yet: it is waiting in the queue\nTry: run it with: mljob dispatch"},
		{"no such attempt", []string{"1", "--attempt", "3"}, exitError, "Error: no such attempt: order 1 has 1"},
		{"nothing stored", []string{"1", "--name", "nope"}, exitOK, "No progress lines stored for order 1 attempt 1.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			a := &app{io: ioStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}}
			code := executeCmd(context.Background(), a, newRootCmd(a), append([]string{"metrics", "--db", path}, tt.args...))
			if code != tt.code || !strings.Contains(errOut.String(), tt.stderrHas) {
				t.Errorf("exit %d, stderr %q; want exit %d, stderr with %q", code, errOut.String(), tt.code, tt.stderrHas)
			}
			if tt.code != exitOK && out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
		})
	}
}

// TestShowProgressGolden pins what show adds for a job with progress lines
// (testdata/show/progress-1.*; -update rewrites them).
func TestShowProgressGolden(t *testing.T) {
	path := mustSeedMetrics(t)
	for _, format := range render.Formats {
		t.Run(format, func(t *testing.T) {
			var out, errOut bytes.Buffer
			opts := &showOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}, dbPath: path}, jobID: 1, output: format}
			if err := runShow(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("show", "progress-1."+format), out.Bytes())
		})
	}
}
