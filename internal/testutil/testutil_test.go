package testutil_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mljob/mljob/internal/testutil"
)

func TestSyncBuffer(t *testing.T) {
	var b testutil.SyncBuffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("ab"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := b.String(); got != strings.Repeat("ab", 400) {
		t.Errorf("String() has %d bytes, want 800 of ab", len(got))
	}
}

func TestMustOpenDB(t *testing.T) {
	store := testutil.MustOpenDB(t)
	if _, err := os.Stat(store.Path()); err != nil {
		t.Fatalf("no file at store.Path(): %v", err)
	}
	if _, err := store.CountUnassigned(context.Background()); err != nil {
		t.Errorf("a query on the new queue: %v", err)
	}
	// Closing it early is allowed: the cleanup's second Close is a no-op.
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
}
