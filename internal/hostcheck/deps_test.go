package hostcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/pyexec"
)

// repoRoot is the repository's top directory, from this package's.
const repoRoot = "../.."

func depsList(t *testing.T, set string) []string {
	t.Helper()
	out, err := exec.Command("bash", filepath.Join(repoRoot, "scripts/install-deps.sh"), "--list", set).Output()
	if err != nil {
		t.Fatalf("install-deps.sh --list %s: %v", set, err)
	}
	return strings.Fields(string(out))
}

// TestDemoDeps: `make demo` installs only what the demo needs, `make test`
// installs that and the tests' own packages. The demo's set is in the
// tests' set, covers the bundled trainer's imports (as Debian's python3
// gets them), and leaves out what only the tests use; the Makefile's demo
// and test targets install each set.
func TestDemoDeps(t *testing.T) {
	demo, test := depsList(t, "demo"), depsList(t, "test")
	for _, p := range demo {
		if !slices.Contains(test, p) {
			t.Errorf("%s is in the demo's packages, not in the tests'", p)
		}
	}
	for _, p := range []string{"chromium", "slurmctld", "slurmd", "slurm-client", "munge", "openssh-server", "tmux", "python3-pytest", "python3-optuna"} {
		if slices.Contains(demo, p) {
			t.Errorf("the demo installs %s, which only the tests use", p)
		}
		if !slices.Contains(test, p) {
			t.Errorf("the tests' packages lack %s", p)
		}
	}
	imports, err := pyexec.ScriptImports(filepath.Join(repoRoot, "python-scripts"))
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range imports {
		if !slices.Contains(im.Scripts, "nn.py") {
			continue
		}
		if p := pyexec.DebianPackage(im.Module); !slices.Contains(demo, p) {
			t.Errorf("nn.py imports %s, but the demo does not install %s", im.Module, p)
		}
	}

	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	// target returns the prerequisites and recipe lines of a Makefile rule.
	target := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `:(.*)\n((?:\t.*\n)*)`).FindSubmatch(mk)
		if m == nil {
			t.Fatalf("Makefile has no %s target", name)
		}
		return string(m[1]) + "\n" + string(m[2])
	}
	runs := func(rule, set string) bool {
		r := target(rule)
		if strings.Contains(r, "install-deps.sh "+set) {
			return true
		}
		for _, dep := range strings.Fields(strings.SplitN(r, "\n", 2)[0]) {
			if dep != rule && strings.Contains(target(dep), "install-deps.sh "+set) {
				return true
			}
		}
		return false
	}
	if !runs("demo", "demo") {
		t.Error("make demo does not run install-deps.sh demo")
	}
	if runs("demo", "test") {
		t.Error("make demo installs the tests' packages")
	}
	if !runs("test", "test") {
		t.Error("make test does not run install-deps.sh test")
	}
}
