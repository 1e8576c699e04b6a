package dispatch_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/engine/fake"
	"github.com/mljob/mljob/internal/testutil"
)

// TestOutput checks where Output reads a stream from and the problem it
// names when it cannot print it whole.
func TestOutput(t *testing.T) {
	ctx := context.Background()
	d := testutil.MustOpenDB(t)
	logDir := t.TempDir()
	eng := fake.New("h1", hello)
	running := claim(t, d, "h1", eng)
	assigned := claim(t, d, "h1", nil)
	elsewhere := claim(t, d, "h2", eng)
	kept := claim(t, d, "h3", nil)
	keep := func(s db.Submitted, suffix, text string) {
		t.Helper()
		path := dispatch.LogFile(logDir, s.OrderID, 1, "stdout") + suffix
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Both released, with no run dir: only what is kept here is left.
	released, partial := claim(t, d, "h3", nil), claim(t, d, "h3", nil)
	waiting := claim(t, d, "", nil) // last: each claim takes the oldest order
	for _, s := range []db.Submitted{released, partial} {
		if err := d.ReleaseOrder(ctx, s.OrderID, 1, "lost"); err != nil {
			t.Fatal(err)
		}
	}
	keep(kept, "", "whole\n")
	keep(partial, dispatch.PartialSuffix, "end\n")

	tests := []struct {
		name    string
		req     dispatch.OutputRequest
		want    string
		problem dispatch.OutputProblem
	}{
		{name: "running, from the host", req: dispatch.OutputRequest{ID: running.JobID}, want: "hello\n"},
		{name: "by order", req: dispatch.OutputRequest{ID: running.OrderID, ByOrder: true}, want: "hello\n"},
		{name: "kept here", req: dispatch.OutputRequest{ID: kept.JobID}, want: "whole\n"},
		{name: "no job", req: dispatch.OutputRequest{ID: 99}, problem: dispatch.NoJob},
		{name: "no order", req: dispatch.OutputRequest{ID: 99, ByOrder: true}, problem: dispatch.NoSuchOrder},
		{name: "waiting", req: dispatch.OutputRequest{ID: waiting.JobID}, problem: dispatch.Waiting},
		{name: "no such attempt", req: dispatch.OutputRequest{ID: running.JobID, Attempt: 2}, problem: dispatch.NoAttempt},
		{name: "not started", req: dispatch.OutputRequest{ID: assigned.JobID}, problem: dispatch.NotStarted},
		{name: "unreachable", req: dispatch.OutputRequest{ID: elsewhere.JobID}, problem: dispatch.Unreachable},
		{name: "not kept", req: dispatch.OutputRequest{ID: released.JobID, Attempt: 1}, problem: dispatch.NotKept},
		{name: "only the end", req: dispatch.OutputRequest{ID: partial.JobID, Attempt: 1}, want: "end\n", problem: dispatch.PartialOutput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			tt.req.Stream, tt.req.LogDir, tt.req.OpenHost = "stdout", logDir, openFake(eng)
			err := dispatch.Output(ctx, d, tt.req, &out)
			var e *dispatch.OutputError
			switch {
			case tt.problem == 0 && err != nil:
				t.Fatalf("Output: %v", err)
			case tt.problem != 0 && (!errors.As(err, &e) || e.Problem != tt.problem):
				t.Fatalf("Output error %v, want problem %d", err, tt.problem)
			}
			if out.String() != tt.want {
				t.Errorf("Output wrote %q, want %q", out.String(), tt.want)
			}
		})
	}
}
