package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2EReadOnlyDatabase: a queue file its reader may not write (another
// user's, a read-only copy, a read-only directory) still answers every
// command that only reads; a command that writes says so and changes
// nothing. As root, permissions do not bind, so the commands run as nobody.
func TestE2EReadOnlyDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a local dispatch")
	}
	c := newCLI(t)
	// A tree other users may enter: t.TempDir's directories are 0700.
	root, err := os.MkdirTemp("", "mljob-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
		_ = os.RemoveAll(root)
	})
	qdir := filepath.Join(root, "queue")
	c.db = filepath.Join(qdir, "mljob.db")
	c.home = filepath.Join(root, "home")
	out := filepath.Join(root, "out")
	for _, d := range []string{c.home, out} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	c.dir = root
	bin := filepath.Join(root, "mljob")
	data, err := os.ReadFile(c.bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	c.bin = bin

	c.submit(c.scripts, echoJobs("ro", 2, 0)...)
	c.mustRun("dispatch", "--scripts", c.scripts, "--python", hostPython)

	for _, tc := range []struct {
		name   string
		dirRO  bool // the directory too: no -wal or -shm can be made
		fileRO bool
	}{
		{name: "read-only file", fileRO: true},
		{name: "read-only directory", dirRO: true, fileRO: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The kept logs are the queue owner's too.
			_ = filepath.WalkDir(filepath.Join(qdir, "logs"), func(p string, d os.DirEntry, err error) error {
				if err == nil {
					_ = os.Chmod(p, map[bool]os.FileMode{true: 0o755, false: 0o644}[d.IsDir()])
				}
				return nil
			})
			for _, p := range []string{root, qdir} {
				if err := os.Chmod(p, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tc.fileRO {
				if err := os.Chmod(c.db, 0o444); err != nil {
					t.Fatal(err)
				}
			}
			if tc.dirRO {
				if err := os.Chmod(qdir, 0o555); err != nil {
					t.Fatal(err)
				}
			}
			asReader := func(args ...string) result {
				t.Helper()
				cmd := c.command(t.Context(), args...)
				if os.Geteuid() == 0 {
					cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
				}
				var so, se strings.Builder
				cmd.Stdout, cmd.Stderr = &so, &se
				err := cmd.Run()
				r := result{stdout: so.String(), stderr: se.String()}
				if ee, ok := err.(*exec.ExitError); ok {
					r.code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				return r
			}
			for _, args := range [][]string{
				{"status"},
				{"outcomes", "-o", "json"},
				{"show", "1"},
				{"logs", "1"},
				{"hosts", "list"},
				{"report", "--project", "ro", "-o", filepath.Join(out, "r.html")},
			} {
				r := asReader(args...)
				if r.code != 0 {
					t.Errorf("mljob %s on a read-only queue: exit %d\nstderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
				}
				if args[0] == "outcomes" && strings.Count(r.stdout, `"jobId"`) != 2 {
					t.Errorf("outcomes on a read-only queue: want 2 rows, got\n%s", r.stdout)
				}
			}
			r := asReader("retry", "--order", "1")
			if r.code != 1 || !strings.Contains(r.stderr, "is read-only, and this command writes to it: nothing was changed") {
				t.Errorf("retry on a read-only queue: exit %d, want 1 and a read-only error\nstderr:\n%s", r.code, r.stderr)
			}
		})
	}
}

// TestE2ECopiedDatabase: a copy of a queue file, dispatched to the same
// hosts as the original, is a queue of its own: it gets its own queue id
// (so its run dirs never collide with the original's), says so, runs its
// jobs, and never marks a healthy host down for the original's run dirs.
func TestE2ECopiedDatabase(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 2})
	c.submit(c.scripts, echoJobs("copy", 2, 0)...)
	data, err := os.ReadFile(c.db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.db + "-wal"); err == nil {
		t.Fatal("the queue file has a -wal beside it after submit: the copy would miss its commits")
	}
	c.mustRun(dispatchArgs(hostsFile, c.scripts)...)

	orig := c.db
	c.db = filepath.Join(c.dir, "copy.db")
	if err := os.WriteFile(c.db, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := c.run(dispatchArgs(hostsFile, c.scripts)...)
	if r.code != 0 {
		t.Fatalf("dispatch of the copy: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "is a copy of another queue file") {
		t.Errorf("dispatch of the copy did not say it is one; stderr:\n%s", r.stderr)
	}
	for line := range strings.Lines(r.stderr) {
		// "down: context canceled" as an idle dispatch ends is another
		// matter (the dispatch stopping its own probe), not the host.
		down := strings.Contains(line, " is down: ") && !strings.Contains(line, "context canceled")
		if down || strings.Contains(line, "already used") {
			t.Errorf("dispatch of the copy marked its host down or hit the original's run dirs: %s", line)
		}
	}
	for _, o := range c.outcomes() {
		if o.State != "succeeded" {
			t.Errorf("copy: job %d %s: %s", o.JobID, o.State, o.Error)
		}
	}
	if n := len(c.outcomes()); n != 2 {
		t.Errorf("copy: %d outcomes, want 2", n)
	}
	// The original is still itself: no note, nothing to do.
	c.db = orig
	r = c.mustRun("dispatch", "--hosts", hostsFile, "--scripts", c.scripts, "--poll", e2ePoll)
	if strings.Contains(r.stderr, "is a copy") {
		t.Errorf("the original was taken for a copy; stderr:\n%s", r.stderr)
	}
}

// keyCheckPy succeeds only when the run's environment holds the API key
// the hosts file gives: the value must reach runs though it is not stored.
const keyCheckPy = `import json, os, sys, time
job = json.loads(sys.argv[1])
time.sleep(float(job.get("sleepSeconds", 0)))
ok = os.environ.get("API_KEY") == "s3cr3t-api-key-7f3a"
print(json.dumps({"status": 200 if ok else 500}))
`

// TestE2EHostEnvNotStored: a hosts file's env values (API keys) reach the
// runs but never the queue file; cancel, which reads the host from the
// queue without a hosts file, still reaches the host and kills a run.
func TestE2EHostEnvNotStored(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-api-key-7f3a"
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	var b strings.Builder
	writeDefaults(&b, keys, keys.KnownHosts)
	s := servers[0]
	fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    workdir: %q\n    lock_dir: %q\n    slots: 2\n    env:\n      API_KEY: %q\n      PLAIN: visible\n",
		s.Name, s.Host, s.Port, s.Workdir, s.LockDir, secret)
	hostsFile := mustWrite(t, c.dir, "hosts-*.yaml", []byte(b.String()))
	scripts := writeScripts(t, c.dir, map[string]string{"keycheck.py": keyCheckPy})
	subs := c.submit(scripts,
		map[string]any{"scriptName": "keycheck.py", "projectName": "env"},
		map[string]any{"scriptName": "keycheck.py", "projectName": "env", "sleepSeconds": 120})

	d := c.startDispatch(nil, dispatchArgs(hostsFile, scripts)...)
	waitFor(t, "job 1 to succeed and job 2 to run", time.Minute, func() bool {
		st := c.statusCounts()
		return st["succeeded"] == 1 && st["running"] == 1 || st["failed"] > 0
	})
	if o := c.outcomes(); len(o) != 1 || o[0].State != "succeeded" {
		t.Fatalf("outcomes %+v: the run did not see the hosts file's API_KEY", o)
	}
	d.kill9(t)

	for _, suffix := range []string{"", "-wal", "-shm"} {
		data, err := os.ReadFile(c.db + suffix)
		if err != nil {
			continue
		}
		if strings.Contains(string(data), secret) {
			t.Errorf("the queue file%s holds the hosts file's env value in plain text", suffix)
		}
	}
	r := c.mustRun("hosts", "list", "-o", "json")
	if strings.Contains(r.stdout, secret) {
		t.Errorf("hosts list shows the env value:\n%s", r.stdout)
	}
	r = c.mustRun("cancel", fmt.Sprint(subs[1].JobID), "-o", "json")
	if !strings.Contains(r.stdout, `"action": "killed"`) {
		t.Errorf("cancel without a hosts file printed\n%s\nwant the run killed; stderr:\n%s", r.stdout, r.stderr)
	}
}
