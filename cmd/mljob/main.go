// Command mljob queues ML training jobs in a SQLite file and runs them on
// the machines you can ssh into, then compares their outcomes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

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
		IsTTY: term.IsTerminal(int(os.Stdout.Fd())),
	}
	return execute(ctx, os.Args[1:], io, stop)
}
