package gpuown

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mljob/mljob/internal/testdep"
)

// useProgram prints gpu_use of the nvidia-smi lines in argv (uuid lines,
// then "--", then app lines) with the wrappers of lock dir argv[1].
const useProgram = `import json, sys
rest = sys.argv[2:]
cut = rest.index("--")
print(json.dumps(gpu_use(rest[:cut], rest[cut + 1:], lease_pids(sys.argv[1]))))
`

// TestGPUUse runs the helpers with a real python: a process below a
// wrapper that holds a lease in the lock dir is mljob's, this test's own
// process and pid 1 are foreign, an unknown GPU's process is not counted,
// and a GPU whose free memory is not a number has free None.
func TestGPUUse(t *testing.T) {
	testdep.Require(t, "apt-get install python3", "python3")
	wrapper := exec.Command("sh", "-c", "sleep 60 & echo $!; wait")
	out, err := wrapper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := wrapper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = wrapper.Process.Kill()
		_ = wrapper.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child := strings.TrimSpace(line)
	t.Cleanup(func() {
		if pid, err := strconv.Atoi(child); err == nil {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
			}
		}
	})
	lockDir := t.TempDir()
	lease := "host-a gpu0\npid " + strconv.Itoa(wrapper.Process.Pid) + "\n"
	for name, text := range map[string]string{"gpu0": lease, "wait.x": "pid 1\n", "gpu1.tmp": "x\npid 1\n"} {
		if err := os.WriteFile(filepath.Join(lockDir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"-c", Prepend(useProgram), lockDir,
		"0, GPU-a, 1000", "1, GPU-b, [N/A]", "--",
		"GPU-a, " + child + ", 100", "GPU-a, " + strconv.Itoa(os.Getpid()) + ", 50", "GPU-b, 1, 10", "GPU-x, 5, 1"}
	got, err := exec.Command("python3", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, got)
	}
	var use []map[string]any
	if err := json.Unmarshal(got, &use); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	want := []map[string]any{
		{"index": "0", "free": 1000.0, "foreign": 1.0}, // the sleep is mljob's, this test is not
		{"index": "1", "free": nil, "foreign": 1.0},
	}
	if !reflect.DeepEqual(use, want) {
		t.Errorf("gpu_use = %v, want %v", use, want)
	}
}

// TestLeaseFileHeld: a lease file someone holds a flock of is held; one
// nobody holds, and one never made, are free.
func TestLeaseFileHeld(t *testing.T) {
	testdep.Require(t, "apt-get install python3", "python3")
	dir := t.TempDir()
	held, free := filepath.Join(dir, "gpu0"), filepath.Join(dir, "gpu1")
	for _, p := range []string{held, free} {
		if err := os.WriteFile(p, []byte("holder\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(held)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	prog := Prepend("import sys\nprint(' '.join(str(lease_file_held(p)) for p in sys.argv[1:]))\n")
	got, err := exec.Command("python3", "-c", prog, held, free, filepath.Join(dir, "none")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "True False False" {
		t.Errorf("lease_file_held(held, free, missing) = %q, %v; want True False False", got, err)
	}
}
