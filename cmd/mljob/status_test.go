package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/render"
	"github.com/mljob/mljob/internal/testutil"
)

// TestStatusGolden pins status's forms with Slurm tasks pending and running
// on a host entry, and of the same queue without Slurm (run with -update to
// rewrite testdata/status/, then review the diff). Without a Slurm task the
// output is as before Slurm.
func TestStatusGolden(t *testing.T) {
	tests := []struct {
		name  string
		slurm bool
	}{
		{name: "slurm", slurm: true},
		{name: "plain", slurm: false},
	}
	for _, tt := range tests {
		path := mustSeedSlurm(t, tt.slurm)
		for _, format := range render.Formats {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				var out, errOut bytes.Buffer
				opts := &statusOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}, dbPath: path},
					output: format, now: func() time.Time { return slurmSeedTime.Add(90 * time.Second) }}
				if err := runStatus(context.Background(), opts); err != nil {
					t.Fatal(err)
				}
				if errOut.Len() != 0 {
					t.Errorf("stderr = %q, want nothing", errOut.String())
				}
				checkGolden(t, filepath.Join("status", tt.name+"."+format), out.Bytes())
			})
		}
	}
}

// TestStatusSlurmCountsLikeTheLiveView: status counts a host entry's Slurm
// tasks as the live view does (slurm.Pending, slurm.Running): a SUSPENDED
// task waits, one in STAGE_OUT is on a node, a COMPLETED one whose outcome
// is not yet recorded is neither.
func TestStatusSlurmCountsLikeTheLiveView(t *testing.T) {
	ctx := context.Background()
	store := testutil.MustOpenDB(t)
	path := store.Path()
	jobs := make([]db.NewJob, 4)
	for i := range jobs {
		jobs[i] = db.NewJob{Project: "p", Script: "s.py", Spec: fmt.Appendf(nil, `{"projectName":"p","x":%d}`, i)}
	}
	if _, err := store.SubmitJobs(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	for i, state := range []string{"SUSPENDED", "STAGE_OUT", "COMPLETED", ""} {
		c, err := store.ClaimOrder(ctx, "campus", strconv.Itoa(i), "d1")
		if err != nil || c == nil {
			t.Fatalf("claim: %v, %v", c, err)
		}
		if err := store.MarkRunning(ctx, c.Order.ID, c.Order.Attempt, "/w/"+strconv.Itoa(i), 0); err != nil {
			t.Fatal(err)
		}
		if err := store.MarkSlurm(ctx, c.Order.ID, c.Order.Attempt, db.SlurmTask{JobID: 100, ArrayIndex: i, State: state}); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()
	var out, errOut bytes.Buffer
	opts := &statusOptions{app: &app{io: ioStreams{Out: &out, ErrOut: &errOut}, dbPath: path}, output: render.FormatTable, now: time.Now}
	if err := runStatus(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if want := "\ncampus: Slurm 2 pending, 1 running\n"; !strings.HasSuffix(out.String(), want) {
		t.Errorf("status ends\n%s\nwant it to end %q", out.String(), want)
	}
}
