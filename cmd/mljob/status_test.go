package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
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
		for _, format := range outputFormats {
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

func TestWriteSlurmCounts(t *testing.T) {
	tests := []struct {
		name   string
		counts map[string]db.SlurmCount
		want   string
	}{
		{name: "no Slurm", counts: map[string]db.SlurmCount{}, want: ""},
		{name: "by host name", counts: map[string]db.SlurmCount{"zeta": {Running: 4}, "campus": {Pending: 12, Running: 4}},
			want: "\ncampus: Slurm 12 pending, 4 running\nzeta: Slurm 0 pending, 4 running\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := writeSlurmCounts(&out, tt.counts); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got %q, want %q", out.String(), tt.want)
			}
		})
	}
	t.Run("failing writer", func(t *testing.T) {
		err := writeSlurmCounts(errWriter{}, map[string]db.SlurmCount{"campus": {Pending: 1}})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("writeSlurmCounts = %v, want the write error", err)
		}
	})
}
