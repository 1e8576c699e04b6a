package sshworker_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/run"
	"github.com/mljob/mljob/internal/sshconn"
	"github.com/mljob/mljob/internal/sshworker"
)

func TestLocalOutput(t *testing.T) { testOutput(t, localHost) }

func TestSSHOutput(t *testing.T) { testOutput(t, sshHosts(t)) }

// TestLocalOutputWithoutGNUTail follows a run through the shell loop used
// where tail has no --pid: a tail on PATH that is not GNU's hides it.
func TestLocalOutputWithoutGNUTail(t *testing.T) {
	bin := t.TempDir()
	realTail, err := lookPathOutside(bin, "tail")
	if err != nil {
		t.Fatal(err)
	}
	fake := "#!/bin/sh\ncase \"$1\" in --version|--pid*) echo 'tail: unrecognized option' >&2; exit 1 ;; esac\nexec " +
		realTail + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "tail"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	h := sshworker.NewHost("local", sshconn.Local{}, t.TempDir())
	testFollowLive(t, h)
}

// lookPathOutside finds name on PATH, as it is before the test changes it.
func lookPathOutside(skip, name string) (string, error) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == skip || dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New(name + " not found on PATH")
}

// testOutput is what Output must do on every transport.
func testOutput(t *testing.T, newHost hostFactory) {
	// Bytes a text-minded copy would mangle: no final newline, NUL, CR,
	// invalid UTF-8.
	const stdout = "line 1\r\n\x00\xff\xfe binary\nno newline at the end"
	const stderr = "warning: é\n"
	for _, tc := range []struct {
		stream string
		follow bool
		want   string
	}{
		{"stdout", false, stdout},
		{"stdout", true, stdout},
		{"stderr", false, stderr},
		{"stderr", true, stderr},
	} {
		name := tc.stream
		if tc.follow {
			name += " follow"
		}
		t.Run("finished run "+name, func(t *testing.T) {
			h, _ := newHost(t)
			id := nextID()
			// printf's octal escapes: a NUL cannot travel in argv or env.
			spec := shSpec(t, id, `printf 'line 1\r\n\000\377\376 binary\nno newline at the end'; printf 'warning: \303\251\n' >&2`)
			if _, err := h.Run(context.Background(), spec, nil); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := h.Output(context.Background(), id, tc.stream, tc.follow, &buf); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want {
				t.Errorf("Output = %q, want %q", buf.String(), tc.want)
			}
		})
	}

	t.Run("never started", func(t *testing.T) {
		h, workdir := newHost(t)
		// A run dir that exists but holds no pid: an upload or start that
		// failed before the wrapper ran.
		if err := os.MkdirAll(filepath.Join(workdir, "runs", "empty-1"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"missing-1", "empty-1"} {
			for _, follow := range []bool{false, true} {
				err := h.Output(context.Background(), id, "stdout", follow, &bytes.Buffer{})
				if !errors.Is(err, sshworker.ErrNotStarted) {
					t.Errorf("Output(%s, follow %v) = %v, want ErrNotStarted", id, follow, err)
				}
			}
		}
	})

	t.Run("bad arguments", func(t *testing.T) {
		h, _ := newHost(t)
		for _, c := range []struct{ id, stream string }{{"../x", "stdout"}, {"r1", "pid"}, {"r1", "../stdout"}} {
			if err := h.Output(context.Background(), c.id, c.stream, false, &bytes.Buffer{}); err == nil {
				t.Errorf("Output(%q, %q) succeeded, want an error", c.id, c.stream)
			}
		}
	})

	t.Run("follow a live run", func(t *testing.T) {
		h, _ := newHost(t)
		testFollowLive(t, h)
	})

	t.Run("follow ends with ctx", func(t *testing.T) {
		h, _ := newHost(t)
		id := nextID()
		started := make(chan run.Started, 1)
		runDone := make(chan error, 1)
		go func() {
			_, err := h.Run(context.Background(), shSpec(t, id, `echo up; exec sleep 60`), func(s run.Started) { started <- s })
			runDone <- err
		}()
		<-started
		t.Cleanup(func() {
			if err := h.Kill(context.Background(), id, time.Second); err != nil {
				t.Errorf("kill: %v", err)
			}
			if err := <-runDone; err != nil {
				t.Errorf("run: %v", err)
			}
		})
		ctx, cancel := context.WithCancel(context.Background())
		w := newWatchWriter("up\n")
		done := make(chan error, 1)
		go func() { done <- h.Output(ctx, id, "stdout", true, w) }()
		<-w.seen
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Output after cancel = %v, want context.Canceled", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Output did not return after its context ended")
		}
	})
}

// testFollowLive follows a run that prints a line, waits for a go-ahead
// file, then prints another: Output must deliver the first line while the
// run is still going, and return once the run has ended with all of it.
func testFollowLive(t *testing.T, h *sshworker.Host) {
	t.Helper()
	id := nextID()
	started := make(chan run.Started, 1)
	runDone := make(chan error, 1)
	go func() {
		_, err := h.Run(context.Background(),
			shSpec(t, id, `echo first; while [ ! -e go ] && [ -d "$PWD" ]; do sleep 0.05; done; echo second`),
			func(s run.Started) { started <- s })
		runDone <- err
	}()
	st := <-started
	w := newWatchWriter("first\n")
	done := make(chan error, 1)
	go func() { done <- h.Output(context.Background(), id, "stdout", true, w) }()

	select {
	case <-w.seen:
	case err := <-done:
		t.Fatalf("Output returned %v before the run ended; got %q", err, w.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the first line did not arrive while the run went on; got %q", w.String())
	}
	// The run cannot end before the go-ahead: Output must still be
	// following.
	select {
	case err := <-done:
		t.Fatalf("Output returned %v while the run was alive", err)
	default:
	}
	if err := os.WriteFile(filepath.Join(st.RunDir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Output did not return after the run ended")
	}
	if got := w.String(); got != "first\nsecond\n" {
		t.Errorf("Output = %q, want %q", got, "first\nsecond\n")
	}
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
}

// watchWriter collects what is written to it and closes seen once the
// collected text contains want.
type watchWriter struct {
	want string
	seen chan struct{}

	mu     sync.Mutex // guards buf and closed
	buf    bytes.Buffer
	closed bool
}

func newWatchWriter(want string) *watchWriter {
	return &watchWriter{want: want, seen: make(chan struct{})}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.closed && strings.Contains(w.buf.String(), w.want) {
		w.closed = true
		close(w.seen)
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
