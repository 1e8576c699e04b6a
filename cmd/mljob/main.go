// Command mljob queues ML training jobs in a SQLite file and runs them on
// the machines you can ssh into, then compares their outcomes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"

	// The engines that run hosts entries, registered by kind.
	_ "github.com/mljob/mljob/internal/engines"
)

// processStart is when the process began: dispatch -v's timeline counts
// from it, so that the start of the process itself is in the figures.
var processStart = time.Now()

func main() {
	os.Exit(run())
}

// run executes the command line and returns the process exit code; it is
// the only place that maps errors to exit codes.
func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	io := ioStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		ErrOutTTY: term.IsTerminal(int(os.Stderr.Fd())),
		Getenv:    os.Getenv,
	}
	return execute(ctx, os.Args[1:], io, stop)
}
