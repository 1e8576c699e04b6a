// Package testutil holds the small helpers tests of several packages share:
// a buffer a process writes while the test reads, and a fresh queue file.
// Only tests and the test-helper packages (sshtest) import it.
package testutil

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mljob/mljob/internal/db"
)

// SyncBuffer is a bytes.Buffer that one goroutine (a process's output, a
// view's redraws) writes while another reads it.
type SyncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// MustOpenDB creates a queue file in a temporary directory (a file, not
// :memory:, because WAL needs one) and closes it when the test ends; the
// caller may close it sooner, e.g. to hand the file to the built binary.
// Its path is store.Path(). internal/db's own tests have their own, as
// that package cannot import this one.
func MustOpenDB(tb testing.TB) *db.DB {
	tb.Helper()
	store, err := db.Open(context.Background(), filepath.Join(tb.TempDir(), "mljob.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := store.Close(); err != nil {
			tb.Errorf("close the test database: %v", err)
		}
	})
	return store
}
