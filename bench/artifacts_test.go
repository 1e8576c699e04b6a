//go:build bench

package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/artifacts"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshtest"
	"github.com/mljob/mljob/internal/sshworker"
)

// TestBenchArtifacts measures bringing a run's artifacts home over one
// loopback sshd host (artifacts.List, hashing on the host, then
// artifacts.Fetch through the host's one connection, hashed again here)
// against scp of the same files over the same sshd, in one run, and
// reports the ratio of their throughputs (the goal is at least 0.5).
func TestBenchArtifacts(t *testing.T) {
	servers, keys := sshtest.Start(t, 1, sshtest.Options{SkipBashrc: true})
	s := servers[0]
	const id = "bench-1-1"
	run := filepath.Join(s.Workdir, "runs", id)
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	sizes := []int{256 << 20, 64 << 20, 64 << 20, 16 << 20} // 400 MiB: a model and its folds
	var globs []string
	var total int64
	for i, n := range sizes {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("model-%d.pt", i)
		if err := os.WriteFile(filepath.Join(run, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		globs = append(globs, name)
		total += int64(n)
	}
	ctx := context.Background()
	client, err := sshconn.Dial(ctx, s.Config(keys))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	h := sshworker.NewHost(s.Name, client, s.Workdir)
	const rounds = 3
	var ours, theirs time.Duration
	for r := 0; r < rounds; r++ {
		home := t.TempDir()
		start := time.Now()
		l, err := artifacts.List(ctx, h, "/usr/bin/python3", id, []string{"*.pt"}, artifacts.DefaultCap)
		if err != nil {
			t.Fatal(err)
		}
		if err := artifacts.Fetch(ctx, h, "/usr/bin/python3", id, l.Files, home, func(artifacts.File) error { return nil }); err != nil {
			t.Fatal(err)
		}
		ours += time.Since(start)

		dest := t.TempDir()
		start = time.Now()
		args := []string{"-q", "-F", "none", "-i", keys.IdentityFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
			"-o", "UserKnownHostsFile=" + keys.KnownHosts, "-P", strconv.Itoa(s.Port)}
		for _, g := range globs {
			args = append(args, fmt.Sprintf("%s@%s:%s", keys.User, s.Host, filepath.Join(run, g)))
		}
		args = append(args, dest+"/")
		if out, err := exec.Command("scp", args...).CombinedOutput(); err != nil {
			t.Fatalf("scp: %v\n%s", err, out)
		}
		theirs += time.Since(start)
	}
	mb := float64(total) * rounds / 1e6
	oursMBs, scpMBs := mb/ours.Seconds(), mb/theirs.Seconds()
	t.Logf("artifacts: %d files, %.0f MB, %d rounds", len(sizes), float64(total)/1e6, rounds)
	t.Logf("mljob (list + SHA-256 on the host + fetch + SHA-256 here): %.0f MB/s", oursMBs)
	t.Logf("scp of the same files: %.0f MB/s", scpMBs)
	t.Logf("ratio: %.2f", oursMBs/scpMBs)
	if oursMBs/scpMBs < 0.5 {
		t.Errorf("artifact transfer at %.2f of scp's throughput, under the goal of 0.5", oursMBs/scpMBs)
	}
}
