package sshworker_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mljob/mljob/internal/run"
)

// TestResultCarriesEnvReport: the environment report a batch task leaves
// in the run dir (.env.json) comes back in the result, by the shell path's
// framing and the agent's result event alike; one over run.MaxEnvReport
// does not.
func TestResultCarriesEnvReport(t *testing.T) {
	long := fmt.Sprintf(`printf '%%*s\n' %d x > .env.json`, run.MaxEnvReport+1)
	for _, path := range []struct {
		name  string
		agent bool
	}{{"shell", false}, {"agent", true}} {
		for _, tc := range []struct {
			name, script, want string
		}{
			{"none", `exit 0`, ""},
			{"a report", `printf '%s\n' '{"version":"3.1","host":"n1"}' > .env.json`, `{"version":"3.1","host":"n1"}`},
			{"too long", long, ""},
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
				if string(res.Env) != tc.want || (tc.want == "") != (res.Env == nil) {
					t.Errorf("Env %q, want %q", res.Env, tc.want)
				}
			})
		}
	}
}
