package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/testdep"
)

// screenshotEnv names a directory that, when set, also receives the live
// view's screenshot (the README shows it).
const screenshotEnv = "MLJOB_SCREENSHOT_DIR"

// tmuxScreen runs one command in a detached tmux session of a fixed size,
// a real pseudo-terminal, and reads back the text on its screen.
type tmuxScreen struct {
	tb   testing.TB
	sock string
}

// startTmux starts argv under tmux in a w×h terminal; the pane stays after
// the command exits so that its last screen can be read.
func startTmux(tb testing.TB, w, h int, argv []string) *tmuxScreen {
	tb.Helper()
	testdep.SkipShort(tb, "tmux")
	testdep.Require(tb, "apt-get install tmux (scripts/install-deps.sh)", "tmux")
	tmux, err := testdep.LookPath("tmux")
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	conf := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g remain-on-exit on\nset -g history-limit 5000\n# An erase from the top row is a redraw here, not a screen to keep.\nset -g scroll-on-clear off\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &tmuxScreen{tb: tb, sock: filepath.Join(dir, "s")}
	// Its own socket and config: the user's tmux and its settings are untouched.
	args := append([]string{"-S", s.sock, "-f", conf, "new-session", "-d", "-s", "t", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h)}, argv...)
	if out, err := exec.Command(tmux, args...).CombinedOutput(); err != nil {
		tb.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	tb.Cleanup(func() { _ = exec.Command(tmux, "-S", s.sock, "kill-server").Run() })
	return s
}

// capture returns the screen's text, with the scrollback when history is set.
func (s *tmuxScreen) capture(history bool) string {
	s.tb.Helper()
	args := []string{"-S", s.sock, "capture-pane", "-p", "-t", "t"}
	if history {
		args = append(args, "-S", "-")
	}
	out, err := exec.Command("tmux", args...).Output()
	if err != nil {
		s.tb.Fatalf("tmux capture-pane: %v", err)
	}
	return strings.TrimRight(string(out), "\n")
}

// TestLiveViewOnTerminal runs a real dispatch under a pseudo-terminal:
// the live view shows the bar and the host's line while the runs go,
// redraws them in place, and leaves the summary below its last frame.
// The last screen is saved as an artifact (and to $MLJOB_SCREENSHOT_DIR).
func TestLiveViewOnTerminal(t *testing.T) {
	c := newCLI(t)
	var jobs []any
	for i := 1; i <= 4; i++ {
		j := map[string]any{"scriptName": "echo.py", "projectName": "live", "x": i, "sleepSeconds": 1.5}
		if i == 4 {
			j["exitCode"] = 3
		}
		jobs = append(jobs, j)
	}
	c.submit(c.scripts, jobs...)

	cmd := c.command(context.Background(), "dispatch", "--python", hostPython, "--slots", "2", "--scripts", c.scripts, "--poll", e2ePoll)
	// The view is for terminals outside CI: clear CI in the pane only.
	script := "env -u CI -u NO_COLOR " + sshconn.QuoteCommand(append(cmd.Env, cmd.Args...)) + `; echo "mljob exited $?"`
	script = "cd " + sshconn.Quote(c.dir) + " && " + script
	scr := startTmux(t, 110, 24, []string{"sh", "-c", script})

	hostBusy := regexp.MustCompile(`(?m)^  local +up +[12] running +load \d+\.\d\d`)
	sawRunning := false
	var screen string
	deadline := time.Now().Add(e2eTimeout)
	for {
		screen = scr.capture(false)
		sawRunning = sawRunning || hostBusy.MatchString(screen)
		if strings.Contains(screen, "mljob exited") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dispatch did not finish under tmux; screen:\n%s", screen)
		}
		time.Sleep(100 * time.Millisecond) // a poll interval, not synchronisation: the screen decides
	}
	saveScreenshot(t, "dispatch-live.txt", screen)

	if !sawRunning {
		t.Errorf("never saw the host line with runs in flight; last screen:\n%s", screen)
	}
	// Read the pane with its history: on a loaded machine, warnings
	// printed above the view (a busy host) may scroll its top off screen.
	all := scr.capture(true)
	for _, want := range []string{
		`(?m)^dispatch +\[[=>-]+\] +4/4 +succeeded 3 +failed 1 +running 0 +queued 0 +\d+\.\d/min +ETA`,
		`(?m)^  local +up +0 running +load \d+\.\d\d +last error: exit status 3`,
		`(?m)^Dispatched in \S+: 3 succeeded, 1 failed\.$`,
		`(?m)^Rate \d+\.\d runs/min; 0 cancelled, 0 left running\.$`,
		`(?m)^  order 4 \(job 4\) on local, attempt 1: exit status 3`,
		`(?m)^    mljob logs 4 --attempt 1 --stderr$`,
		`(?m)^mljob exited 0$`,
	} {
		if !regexp.MustCompile(want).MatchString(all) {
			t.Errorf("pane lacks %s:\n%s", want, all)
		}
	}
	// Redrawn in place: the bar is in the pane's history once, and no
	// plain log line was printed beside it.
	if n := len(regexp.MustCompile(`(?m)^dispatch +\[`).FindAllString(all, -1)); n != 1 {
		t.Errorf("%d bar lines in the pane's history, want 1 (redrawn in place):\n%s", n, all)
	}
	if strings.Contains(all, "started on local") {
		t.Errorf("plain lines printed on a terminal:\n%s", all)
	}
}

// saveScreenshot keeps a screen's text as a test artifact and, when
// MLJOB_SCREENSHOT_DIR is set, there too.
func saveScreenshot(t *testing.T, name, screen string) {
	t.Helper()
	dirs := []string{t.ArtifactDir()}
	if d := os.Getenv(screenshotEnv); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), []byte(screen+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s:\n%s", name, screen)
}
