package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestGCE2E: over a real sshd host, gc removes the run dir of a finished
// run whose artifacts are home, and never that of a run whose artifacts
// were held back over the cap; --dry-run removes nothing; a second gc
// finds nothing left to do.
func TestGCE2E(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	scripts := writeScripts(t, c.dir, map[string]string{"art.py": artScript})
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	subs := c.submit(scripts,
		map[string]any{"scriptName": "art.py", "projectName": "gc", "size": 1000, "artifacts": []string{"*.pt", "plots/*.png"}},
		map[string]any{"scriptName": "art.py", "projectName": "gc", "size": 2_000_000, "artifacts": []string{"*.pt"}, "artifactsCap": "1MB"},
	)
	c.mustRun(dispatchArgs(hostsFile, scripts)...)
	dirs := runDirs(t, servers)
	home, held := dirs[subs[0].OrderID][1], dirs[subs[1].OrderID][1]
	if home == "" || held == "" {
		t.Fatalf("run dirs %v, want one per order", dirs)
	}
	checkHome(t, c, subs[0].JobID, home)

	r := c.mustRun("gc", "--dry-run")
	want := fmt.Sprintf("would remove %s:%s (job %d, order %d attempt 1)", servers[0].Name, home, subs[0].JobID, subs[0].OrderID)
	if strings.TrimSpace(r.stdout) != want {
		t.Errorf("gc --dry-run printed\n%s\nwant\n%s", r.stdout, want)
	}
	for _, d := range []string{home, held} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("after --dry-run, %s: %v", d, err)
		}
	}

	r = c.mustRun("gc", "--hosts", hostsFile)
	if want := strings.Replace(want, "would remove", "removed", 1); strings.TrimSpace(r.stdout) != want {
		t.Errorf("gc printed\n%s\nwant\n%s", r.stdout, want)
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Errorf("gc left %s (%v)", home, err)
	}
	if _, err := os.Stat(held); err != nil {
		t.Errorf("gc took the run dir of a run whose artifacts are over the cap: %v", err)
	}
	// The artifacts at home are untouched.
	rows, _ := c.artifacts(subs[0].JobID)
	for _, a := range rows {
		if st, err := os.Stat(a.Home); a.State != "home" || err != nil || st.Size() != a.Size {
			t.Errorf("after gc, artifact %s: state %s, home copy %v", a.Path, a.State, err)
		}
	}
	r = c.mustRun("gc")
	if r.stdout != "" || !strings.Contains(r.stderr, "Nothing to remove") {
		t.Errorf("a second gc: stdout %q stderr %q, want nothing to remove", r.stdout, r.stderr)
	}
}
