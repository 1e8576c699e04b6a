package sshworker_test

import (
	"context"
	"testing"
)

// TestResultSaysNoArtifactsDir: the result of a run says whether its run
// dir holds an artifacts/ dir, by the shell path's framing and the agent's
// result event alike, so that a run with none needs no session to list it.
func TestResultSaysNoArtifactsDir(t *testing.T) {
	for _, path := range []struct {
		name  string
		agent bool
	}{{"shell", false}, {"agent", true}} {
		for _, tc := range []struct {
			name, script string
			want         bool
		}{
			{"none", `exit 0`, true},
			{"dir", `mkdir artifacts && echo x > artifacts/a`, false},
			{"empty dir", `mkdir artifacts`, false},
			{"a file named so", `echo x > artifacts`, true},
		} {
			t.Run(path.name+"/"+tc.name, func(t *testing.T) {
				h, _ := localHost(t)
				if path.agent {
					h.EnableAgent(hostPython, true, func(msg string) { t.Errorf("agent not used: %s", msg) })
					t.Cleanup(h.StopAgent)
				}
				res, err := h.Run(context.Background(), shSpec(t, nextID(), tc.script), nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.ExitCode != 0 {
					t.Fatalf("exit %d; stderr %q", res.ExitCode, res.Stderr)
				}
				if res.NoArtifactsDir != tc.want {
					t.Errorf("NoArtifactsDir %v, want %v", res.NoArtifactsDir, tc.want)
				}
			})
		}
	}
}
