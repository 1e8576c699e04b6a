package queuefile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/db"
)

func TestExplain(t *testing.T) {
	noDB := fmt.Errorf("open: %w: /q/mljob.db does not exist", db.ErrNoDatabase)
	tests := []struct {
		name     string
		origin   string
		err      error
		wantMsg  string
		wantHint string // a prefix
	}{
		{name: "the default file, not made yet", err: noDB,
			wantMsg: "no queue yet at /q/mljob.db (the default database)", wantHint: "submit jobs first"},
		{name: "a named file that does not exist", origin: "MLJOB_DB", err: noDB,
			wantMsg: "no database at /q/mljob.db (from MLJOB_DB): nothing was created", wantHint: "check the path for a typo"},
		{name: "no permission", origin: "--db", err: &fs.PathError{Op: "open", Path: "/q/mljob.db", Err: fs.ErrPermission},
			wantMsg: "the database /q/mljob.db (from --db) is read-only, and this command writes to it: nothing was changed", wantHint: "run it as the file's owner"},
		{name: "an old schema on a read-only file", err: fmt.Errorf("migrate: %w", db.ErrReadOnly),
			wantMsg: "migrate: database is read-only", wantHint: "make the file and its directory writable once"},
		{name: "corrupt: SQLite's words without the wrapping", err: fmt.Errorf("check database /q/mljob.db: %w: quick_check:  page 3\n  is never used", db.ErrCorrupt),
			wantMsg: "the database /q/mljob.db is corrupt (quick_check: page 3 is never used); mljob stopped before changing anything", wantHint: "restore it from a backup copy"},
		{name: "anything else", err: errors.New("disk I/O error"),
			wantMsg: "disk I/O error", wantHint: "check --db (or MLJOB_DB, or db in the config file: see mljob config): /q/mljob.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Explain("/q/mljob.db", tt.origin, tt.err)
			if e.Msg != tt.wantMsg || !strings.HasPrefix(e.Hint, tt.wantHint) {
				t.Errorf("got %q / %q\nwant %q / %q…", e.Msg, e.Hint, tt.wantMsg, tt.wantHint)
			}
			if !errors.Is(e, tt.err) || e.Error() != e.Msg {
				t.Errorf("the Error does not wrap its cause, or says something else: %v", e)
			}
		})
	}
}

// TestExplainNotADatabase opens a file that is no SQLite database, as a
// user pointing --db at the wrong file does, and checks the advice.
func TestExplainNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 300)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := db.OpenMode(context.Background(), path, db.ReadOnly)
	if err == nil {
		t.Fatal("opened a file that is not a database")
	}
	e := Explain(path, "--db", err)
	if !strings.HasPrefix(e.Msg, "the database "+path+" is corrupt (") || strings.Contains(e.Msg, path+": ") ||
		!strings.Contains(e.Hint, "sqlite3 "+path+" .recover") {
		t.Errorf("got %q / %q", e.Msg, e.Hint)
	}
}
