package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

// bulkyPy writes 3 MB of every byte value (newlines, NULs and invalid
// UTF-8 included) to stdout and 100 KB to stderr, then its outcome.
const bulkyPy = `import json, sys
chunk = bytes((i * 7 + 3) % 256 for i in range(1 << 16))
for _ in range(48):
    sys.stdout.buffer.write(chunk)
sys.stdout.buffer.flush()
sys.stderr.write("e" * 99999 + "\n")
sys.stderr.flush()
print()
print(json.dumps({"status": 200, "loss": 1.0}))
`

// bulkyOutput is what bulkyPy writes: stdout and stderr.
func bulkyOutput() (stdout, stderr []byte) {
	chunk := make([]byte, 1<<16)
	for i := range chunk {
		chunk[i] = byte((i*7 + 3) % 256)
	}
	for range 48 {
		stdout = append(stdout, chunk...)
	}
	stdout = append(stdout, "\n"+`{"status": 200, "loss": 1.0}`+"\n"...)
	return stdout, []byte(strings.Repeat("e", 99999) + "\n")
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestE2ELogsWholeOutput: logs prints a finished run's multi-MB stdout and
// its stderr byte for byte (more than the dispatcher keeps), by job id;
// with the host gone it prints the end it kept and exits 1, saying that it
// is only the end.
func TestE2ELogsWholeOutput(t *testing.T) {
	t.Parallel()
	servers, keys := startHosts(t, 1)
	c := newCLI(t)
	hostsFile := writeHosts(t, c.dir, servers, keys, hostsOptions{slots: 1})
	scripts := writeScripts(t, c.dir, map[string]string{"bulky.py": bulkyPy})
	subs := c.submit(scripts, map[string]any{"scriptName": "bulky.py", "projectName": "bulky"})
	c.mustRun(dispatchArgs(hostsFile, scripts)...)
	if o := c.outcomes(); len(o) != 1 || o[0].State != "succeeded" {
		t.Fatalf("outcomes %+v, want one succeeded", o)
	}
	job := strconv.FormatInt(subs[0].JobID, 10)
	wantOut, wantErr := bulkyOutput()

	if r := c.mustRun("logs", job); sha(wantOut) != sha([]byte(r.stdout)) {
		t.Errorf("logs %s: %d bytes (sha256 %s), want %d (sha256 %s)", job, len(r.stdout), sha([]byte(r.stdout)), len(wantOut), sha(wantOut))
	}
	if r := c.mustRun("logs", job, "--stderr"); r.stdout != string(wantErr) {
		t.Errorf("logs %s --stderr: %d bytes, want %d", job, len(r.stdout), len(wantErr))
	}
	order := strconv.FormatInt(subs[0].OrderID, 10)
	if r := c.mustRun("logs", order, "--order"); sha(wantOut) != sha([]byte(r.stdout)) {
		t.Errorf("logs %s --order: %d bytes, want %d", order, len(r.stdout), len(wantOut))
	}

	servers[0].Stop()
	r := c.run("logs", job)
	if r.code != 1 || !strings.Contains(r.stderr, "only the last 262144 bytes") || !strings.Contains(r.stderr, "host1") {
		t.Errorf("logs with the host gone: exit %d, stderr %q; want 1, saying it printed only the end", r.code, r.stderr)
	}
	if !strings.HasSuffix(string(wantOut), r.stdout) || len(r.stdout) != 256<<10 {
		t.Errorf("logs with the host gone printed %d bytes, want the last %d of the output", len(r.stdout), 256<<10)
	}
}
