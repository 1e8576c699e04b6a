package sshconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Transport runs one command on a host and waits for it. *Client (SSH) and
// Local satisfy it. Implementations are safe for concurrent use.
//
// Exec returns nil for exit status 0, an *ExitError for another status, an
// error wrapping ErrConnLost when the outcome is unknown (connection
// dropped), and ctx.Err() when ctx ends first; in that last case the
// command may go on running on the host.
type Transport interface {
	Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error
	Close() error
}

// Local is the Transport for the machine mljob runs on: argv is executed
// directly, without a shell.
type Local struct{}

// localWaitDelay bounds how long Exec waits for output pipes after the
// process exits or is killed; detached runs hold no pipe of ours.
const localWaitDelay = 2 * time.Second

// Exec runs argv as a child process.
func (Local) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(argv) == 0 {
		return errors.New("exec: empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = localWaitDelay
	var feed io.WriteCloser
	switch f := stdin.(type) {
	case nil:
	case *os.File:
		cmd.Stdin = f
	default:
		// Fed by a goroutine that Exec does not wait for, as an SSH
		// session's stdin is: a caller's stream (an agent's requests)
		// may stay open after the process has ended, and Wait would
		// wait on it forever.
		var err error
		if feed, err = cmd.StdinPipe(); err != nil {
			return fmt.Errorf("exec %s: %w", argv[0], err)
		}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", argv[0], err)
	}
	if feed != nil {
		go func() {
			_, _ = io.Copy(feed, stdin)
			feed.Close()
		}()
	}
	err := cmd.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &ExitError{Code: 128 + int(ws.Signal()), Signal: ws.Signal().String()}
		}
		return &ExitError{Code: ee.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("exec %s: %w", argv[0], err)
	}
	return nil
}

// Close does nothing: Local holds no connection.
func (Local) Close() error { return nil }
