package main

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestGCE2E: over a real sshd host, gc removes the run dir of a finished
// run whose artifacts are home, and never that of a run whose artifacts
// were held back over the cap; a record whose run dir names another run's
// dir is refused on the host; --dry-run removes nothing; a second gc does
// not visit a removed dir again.
func TestGCE2E(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	scripts := writeScripts(t, c.dir, map[string]string{"art.py": artScript})
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	subs := c.submit(scripts,
		map[string]any{"scriptName": "art.py", "projectName": "gc", "size": 1000, "artifacts": []string{"*.pt", "plots/*.png"}},
		map[string]any{"scriptName": "art.py", "projectName": "gc", "size": 2_000_000, "artifacts": []string{"*.pt"}, "artifactsCap": "1MB"},
		map[string]any{"scriptName": "art.py", "projectName": "gc", "size": 10},
	)
	c.mustRun(dispatchArgs(hostsFile, scripts)...)
	dirs := runDirs(t, servers)
	home, held, tampered := dirs[subs[0].OrderID][1], dirs[subs[1].OrderID][1], dirs[subs[2].OrderID][1]
	if home == "" || held == "" || tampered == "" {
		t.Fatalf("run dirs %v, want one per order", dirs)
	}
	checkHome(t, c, subs[0].JobID, home)

	// The third run's record is changed to name the second run's dir (a
	// copied or edited queue file): gc must not remove what it names.
	sqlDB, err := sql.Open("sqlite", "file:"+c.db+"?_pragma=busy_timeout(30000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlDB.Exec(`UPDATE attempts SET run_dir = ? WHERE order_id = ?`, held, subs[2].OrderID); err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.Close(); err != nil {
		t.Fatal(err)
	}

	line := func(verb string, i int, dir string) string {
		return fmt.Sprintf("%s %s:%s (job %d, order %d attempt 1)", verb, servers[0].Name, dir, subs[i].JobID, subs[i].OrderID)
	}
	r := c.mustRun("gc", "--dry-run")
	if want := line("would remove", 0, home) + "\n" + line("would remove", 2, held); strings.TrimSpace(r.stdout) != want {
		t.Errorf("gc --dry-run printed\n%s\nwant\n%s", r.stdout, want)
	}
	for _, d := range []string{home, held, tampered} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("after --dry-run, %s: %v", d, err)
		}
	}

	r = c.run("gc", "--hosts", hostsFile)
	if want := line("removed", 0, home); strings.TrimSpace(r.stdout) != want {
		t.Errorf("gc printed\n%s\nwant\n%s", r.stdout, want)
	}
	if r.code != 1 || !strings.Contains(r.stderr, "not runs/") && !strings.Contains(r.stderr, "run dir's name is not the run id") {
		t.Errorf("gc with a tampered record: exit %d, stderr:\n%s\nwant exit 1 naming the refusal", r.code, r.stderr)
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Errorf("gc left %s (%v)", home, err)
	}
	for _, d := range []string{held, tampered} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("gc took %s: %v", d, err)
		}
	}
	// The artifacts at home are untouched.
	rows, _ := c.artifacts(subs[0].JobID)
	for _, a := range rows {
		if st, err := os.Stat(a.Home); a.State != "home" || err != nil || st.Size() != a.Size {
			t.Errorf("after gc, artifact %s: state %s, home copy %v", a.Path, a.State, err)
		}
	}

	// A second gc does not visit the removed dir; the refused one is
	// refused again.
	r = c.run("gc")
	if r.stdout != "" || r.code != 1 || strings.Contains(r.stderr, home) {
		t.Errorf("a second gc: exit %d, stdout %q, stderr %q; want nothing removed and only the refusal", r.code, r.stdout, r.stderr)
	}
}
