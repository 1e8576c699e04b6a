package db

import (
	"context"
	"errors"
	"testing"
)

// TestWriteWaitEndsWithContext checks that a write waiting for another
// write of the same DB gives up when its context ends.
func TestWriteWaitEndsWithContext(t *testing.T) {
	db := MustOpenDB(t)
	held, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.withTx(context.Background(), func(tx *dbTx) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := db.Heartbeat(ctx, "second")
	close(release)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Heartbeat with an ended context while another write holds the lock: %v, want context.Canceled", err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}
