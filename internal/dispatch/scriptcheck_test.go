package dispatch_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/engine"
	"github.com/mljob/mljob/internal/engines"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshworker"
	"github.com/mljob/mljob/internal/testutil"
)

// countingLocal is the local transport, counting the module checks run
// through it (the commands whose program looks modules up).
type countingLocal struct {
	sshconn.Local
	mu     sync.Mutex // guards checks
	checks []string   // the modules asked of each check
}

func (c *countingLocal) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	for i, a := range argv {
		if a == "-c" && i+1 < len(argv) && strings.Contains(argv[i+1], "find_spec") {
			c.mu.Lock()
			c.checks = append(c.checks, strings.Join(argv[i+2:], " "))
			c.mu.Unlock()
		}
	}
	return c.Local.Exec(ctx, argv, stdin, stdout, stderr)
}

// TestScriptCheckOncePerScript: a dispatch checks each script's imports on
// a host once, before its first run, however many of its runs follow; the
// check is also the read of the runs' environment, so two scripts that
// import the same modules share one, and a script importing only the
// standard library costs one read of the environment (no modules asked).
func TestScriptCheckOncePerScript(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"a.py":      "import json\nimport numpy\nimport helper\nprint(json.dumps({'status': 200, 'loss': helper.LOSS}))\n",
		"b.py":      "import json\nfrom numpy import linalg\nprint(json.dumps({'status': 200}))\n",
		"c.py":      "import json\nprint(json.dumps({'status': 200}))\n",
		"helper.py": "import numpy as np\ntry:\n    import mljob_optional_mod\nexcept ImportError:\n    pass\nLOSS = float(np.float64(0.5))\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := testutil.MustOpenDB(t)
	var jobs []db.NewJob
	for i := 0; i < 12; i++ {
		script := []string{"a.py", "b.py", "c.py"}[i%3]
		jobs = append(jobs, db.NewJob{Project: "p", Script: script, Spec: []byte(fmt.Sprintf(`{"i":%d}`, i))})
	}
	if _, err := d.SubmitJobs(context.Background(), jobs); err != nil {
		t.Fatal(err)
	}
	tr := &countingLocal{}
	opts := localOptions(t, 3)
	opts.ScriptsDir = dir
	opts.Connect = func(ctx context.Context, h hosts.Host, o engine.Options) (engine.Engine, error) {
		return engines.SSH(ctx, sshworker.NewHost(h.Name, tr, h.Workdir), h, o)
	}
	sum, err := dispatch.Run(context.Background(), d, opts)
	if err != nil || sum.Succeeded != 12 {
		t.Fatalf("dispatch: %+v, %v; want 12 succeeded", sum, err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	got := slices.Sorted(slices.Values(tr.checks))
	if want := []string{"--env", "--env numpy"}; !slices.Equal(got, want) {
		t.Errorf("checks %q; want %q: one for c.py, one for a.py and b.py, both of numpy (helper.py is shipped, its try'd import optional)", got, want)
	}
	// Every run is linked to the environment it ran in, stored once.
	envs := map[string]bool{}
	for id := int64(1); id <= 12; id++ {
		es, err := d.JobEnvironments(context.Background(), id)
		if err != nil || len(es) != 1 {
			t.Fatalf("job %d: environments %v, %v; want one", id, es, err)
		}
		envs[es[0].Hash] = true
	}
	if len(envs) != 2 {
		t.Errorf("%d distinct environments; want 2 (with numpy, without)", len(envs))
	}
}
