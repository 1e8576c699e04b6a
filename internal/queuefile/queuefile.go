// Package queuefile says what to do when mljob's queue, its SQLite file,
// cannot be opened or read: no file where one was named (or none yet at
// the default place), a damaged file, a file this user may not write. Each
// answer is a message and a fix worded for the mljob command line, which
// cmd/mljob prints as "Error: …" and "Try: …". Opening the file is
// internal/db's; this package only reads its errors.
package queuefile

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/mljob/mljob/internal/db"
)

// Error is a problem with the queue file and what to do about it.
type Error struct {
	Msg  string // what went wrong, naming the file
	Hint string // what to do
	Err  error  // the cause, for errors.Is (db.ErrNoDatabase, fs.ErrPermission, …)
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Explain turns err, from opening or reading the queue file at path, into
// an *Error with the fix. origin names where path came from ("--db",
// "MLJOB_DB", "PATH:LINE" of the config file), "" for the default: a
// default file that does not exist is a queue not made yet, a named one a
// likely typo.
func Explain(path, origin string, err error) *Error {
	from := ""
	if origin != "" {
		from = " (from " + origin + ")"
	}
	switch {
	case errors.Is(err, db.ErrNoDatabase) && from == "":
		return &Error{Msg: fmt.Sprintf("no queue yet at %s (the default database)", path),
			Hint: "submit jobs first (only mljob submit creates the queue), e.g. mljob submit examples/wine_data/*.json; or name another database with --db",
			Err:  err}
	case errors.Is(err, db.ErrNoDatabase):
		return &Error{Msg: fmt.Sprintf("no database at %s%s: nothing was created", path, from),
			Hint: "check the path for a typo (--db, MLJOB_DB, or db in the config file: see mljob config); only mljob submit creates a new queue, e.g. mljob --db " + path + " submit job.json",
			Err:  err}
	case db.IsCorrupt(err):
		return corrupt(path, err)
	case db.IsReadOnly(err) || errors.Is(err, fs.ErrPermission):
		return &Error{Msg: fmt.Sprintf("the database %s%s is read-only, and this command writes to it: nothing was changed", path, from),
			Hint: "run it as the file's owner, or make the file and its directory writable (chmod u+w); status, outcomes, show, logs, report and hosts list work on a read-only file",
			Err:  err}
	case errors.Is(err, db.ErrReadOnly):
		return &Error{Msg: err.Error(), Hint: "make the file and its directory writable once (chmod u+w), then run any mljob command that writes", Err: err}
	}
	return &Error{Msg: err.Error(), Hint: "check --db (or MLJOB_DB, or db in the config file: see mljob config): " + path, Err: err}
}

// corrupt is the Error for a file SQLite finds damaged: SQLite's words
// without the path and sentinel the layers above wrapped them in, and how
// to recover what is readable.
func corrupt(path string, err error) *Error {
	detail := err.Error()
	if i := strings.Index(detail, path+": "); i >= 0 {
		detail = detail[i+len(path)+2:]
	}
	detail = strings.TrimPrefix(detail, db.ErrCorrupt.Error()+": ")
	return &Error{
		Msg: fmt.Sprintf("the database %s is corrupt (%s); mljob stopped before changing anything", path, strings.Join(strings.Fields(detail), " ")),
		Hint: "restore it from a backup copy; or recover what is readable into a new file and use that:\n" +
			"    sqlite3 " + path + " .recover | sqlite3 recovered.db && mljob --db recovered.db status",
		Err: err,
	}
}
