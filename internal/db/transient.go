package db

import (
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Transient reports whether err is the database refusing a write for a
// reason that may pass: another connection holds the write lock past the
// busy timeout (SQLITE_BUSY, SQLITE_LOCKED), the disk is full
// (SQLITE_FULL), or an I/O error. Such a transaction was rolled back whole;
// running it again later is safe for every write of this package.
func Transient(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
		return true
	}
	return false
}
