package testdep_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/mljob/mljob/internal/testdep"
)

func TestRequire(t *testing.T) {
	tests := []struct {
		name        string
		ci          string
		bins        []string
		wantFailed  bool
		wantSkipped bool
	}{
		{"missing, not in CI", "", []string{"mljob-no-such-daemon"}, false, true},
		{"missing, CI=false", "false", []string{"mljob-no-such-daemon"}, false, true},
		{"missing, CI=0", "0", []string{"mljob-no-such-daemon"}, false, true},
		{"missing, CI=true", "true", []string{"sh", "mljob-no-such-daemon"}, true, false},
		{"missing, CI=yes", "yes", []string{"mljob-no-such-daemon"}, true, false},
		{"present, CI=true", "true", []string{"sh"}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			rec := &recordingTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				testdep.Require(rec, "install it with apt-get", tc.bins...)
			}()
			<-done
			if rec.failed != tc.wantFailed || rec.skipped != tc.wantSkipped {
				t.Fatalf("failed=%v skipped=%v (%q), want failed=%v skipped=%v",
					rec.failed, rec.skipped, rec.msg, tc.wantFailed, tc.wantSkipped)
			}
			if (tc.wantFailed || tc.wantSkipped) && (!strings.Contains(rec.msg, "mljob-no-such-daemon") ||
				!strings.Contains(rec.msg, "apt-get") || strings.Contains(rec.msg, `"sh"`)) {
				t.Errorf("message %q should name only the missing program, and how to install it", rec.msg)
			}
		})
	}
}

func TestRequirePythonModule(t *testing.T) {
	python, err := testdep.LookPath("python3")
	if err != nil {
		testdep.Missing(t, "python3 not found; apt-get install python3")
	}
	tests := []struct {
		name        string
		ci          string
		python      string
		module      string
		wantFailed  bool
		wantSkipped bool
		wantMsg     string
	}{
		{"present", "true", python, "json", false, false, ""},
		{"no module, not in CI", "", python, "mljob_no_such_module", false, true, "mljob_no_such_module"},
		{"no module, CI=true", "true", python, "mljob_no_such_module", true, false, "mljob_no_such_module"},
		{"no python, CI=true", "true", "/nonexistent/python3", "json", true, false, "/nonexistent/python3"},
		{"no python, not in CI", "", "/nonexistent/python3", "json", false, true, "/nonexistent/python3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			rec := &recordingTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				testdep.RequirePythonModule(rec, tc.python, tc.module, "install it with apt-get")
			}()
			<-done
			if rec.failed != tc.wantFailed || rec.skipped != tc.wantSkipped {
				t.Fatalf("failed=%v skipped=%v (%q), want failed=%v skipped=%v",
					rec.failed, rec.skipped, rec.msg, tc.wantFailed, tc.wantSkipped)
			}
			if tc.wantMsg != "" && (!strings.Contains(rec.msg, tc.wantMsg) || !strings.Contains(rec.msg, "apt-get")) {
				t.Errorf("message %q should name %s and how to install it", rec.msg, tc.wantMsg)
			}
		})
	}
}

func TestLookPathIsAbsolute(t *testing.T) {
	p, err := testdep.LookPath("sh")
	if err != nil || !strings.HasPrefix(p, "/") {
		t.Fatalf("LookPath(sh) = %q, %v", p, err)
	}
}

// recordingTB records Fatalf and Skipf and ends the goroutine, as testing
// does.
type recordingTB struct {
	testing.TB
	mu      sync.Mutex // guards skipped, failed and msg
	skipped bool
	failed  bool
	msg     string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recordingTB) Skipf(format string, args ...any) {
	r.mu.Lock()
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}
