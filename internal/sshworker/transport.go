package sshworker

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.WaitDelay = localWaitDelay
	err := cmd.Run()
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
