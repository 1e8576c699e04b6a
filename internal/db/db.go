package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	// The pure-Go driver keeps the binary CGO-free; it registers as "sqlite".
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ApplicationID is stamped into PRAGMA application_id of every file mljob
// creates ("mljb" in ASCII), so that Open can tell its own files from other
// SQLite databases.
const ApplicationID = 0x6d6c6a62

// ErrJobNotFound is returned when no job has the requested id.
var ErrJobNotFound = errors.New("job not found")

// ErrOrderNotFound is returned when no order has the requested id.
var ErrOrderNotFound = errors.New("order not found")

// ErrStaleAttempt is returned by a transition on an attempt that is not the
// order's current one, or whose state does not allow the transition: another
// dispatcher has moved the order on, and the caller must drop its attempt.
var ErrStaleAttempt = errors.New("order is no longer at this attempt")

// ErrSchemaTooNew is returned by Open when the file was migrated by a newer
// mljob than this binary; opening it would risk corrupting data we do not
// understand.
var ErrSchemaTooNew = errors.New("database schema is newer than this mljob")

// ErrForeignDatabase is returned by Open when the file is a SQLite database
// stamped by another application.
var ErrForeignDatabase = errors.New("not an mljob database")

//go:embed schema.sql
var schemaSQL string

// timeFormat is RFC 3339 with a fixed nine-digit fraction. time.RFC3339Nano
// trims trailing zeros, which makes "…:05Z" sort after "…:05.1Z" as text;
// the fixed width keeps stored times in time order. time.RFC3339Nano still
// parses it.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// DB is an open mljob database. It is safe for concurrent use, and several
// DB values (in one process or many) may share one file.
type DB struct {
	sql     *sql.DB
	path    string
	queueID string // see QueueID
	// readOnly is set for a connection opened with mode=ro (see ReadOnly).
	readOnly bool
	// copied is the queue id the file had before Open found it to be a
	// copy (see Copied); "" when it is not one.
	copied string
	// writing holds one token while a write transaction of this DB runs
	// (see withTx): a buffered channel of one, so that a wait for it ends
	// with its context.
	writing chan struct{}

	// Now returns the current time; tests replace it to pin timestamps.
	// Each transaction calls it once and converts the result to UTC.
	Now func() time.Time
}

// Mode says how Open treats the file.
type Mode int

// The modes of Open.
const (
	// Create opens the file read-write, creating it (and its directory)
	// when missing: only commands that add work create a queue.
	Create Mode = iota
	// Existing opens an existing file read-write; a missing file is
	// ErrNoDatabase, so that a mistyped path never becomes an empty queue.
	Existing
	// ReadOnly opens an existing file for reading. When the file or its
	// directory is not writable it opens a read-only connection instead of
	// failing, and any write then fails with ErrReadOnly's message.
	ReadOnly
)

// ErrNoDatabase is returned by Open, in modes other than Create, for a
// file that does not exist.
var ErrNoDatabase = errors.New("no database file")

// ErrCorrupt is returned for a file whose pages SQLite finds damaged, or
// that is not a database at all. See IsCorrupt.
var ErrCorrupt = errors.New("database file is corrupt")

// ErrReadOnly is returned by Open for a file that cannot be written but
// needs to be (an older schema to migrate).
var ErrReadOnly = errors.New("database is read-only")

// Open opens the database at path, creating it and its parent directory if
// missing, and migrates it to the schema this binary knows. It refuses a file
// stamped by another application (ErrForeignDatabase) or migrated by a newer
// mljob (ErrSchemaTooNew).
func Open(ctx context.Context, path string) (*DB, error) {
	return OpenMode(ctx, path, Create)
}

// OpenMode opens the database at path in mode m (see Mode). A read-write
// open notices a file that is a copy of another queue file (see Copied).
// A damaged file is reported as ErrCorrupt (see IsCorrupt) by Open when
// SQLite notices it there, else by the first query that reads a damaged
// page; Check reads them all.
func OpenMode(ctx context.Context, path string, m Mode) (*DB, error) {
	db, err := openMode(ctx, path, m)
	if err != nil {
		if IsCorrupt(err) && !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return db, nil
}

func openMode(ctx context.Context, path string, m Mode) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if m != Create {
		if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist", ErrNoDatabase, abs)
		} else if err != nil {
			return nil, err
		}
	}
	if m == ReadOnly && !writable(abs) {
		return openReadOnly(ctx, abs)
	}
	// The queue names hosts, scripts and results: keep it private to the user.
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, err
	}
	// Create the file ourselves so its mode is 0600 whatever the umask lets
	// SQLite pick; SQLite gives the -wal and -shm files the same mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}

	sqlDB, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, err
	}
	db := &DB{sql: sqlDB, path: abs, writing: make(chan struct{}, 1), Now: time.Now}
	if err := db.init(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	if err := db.checkIdentity(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	if err := sqlDB.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'queue_id'`).Scan(&db.queueID); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("read queue id: %w", err)
	}
	return db, nil
}

// openReadOnly opens abs for reading only: its file or directory is not
// writable. A WAL file needs its -shm index, which a reader creates when
// missing; in a read-only directory SQLite cannot, and the file is then
// opened as immutable (no locks, no -shm), which is what a file nobody may
// write is.
func openReadOnly(ctx context.Context, abs string) (*DB, error) {
	var lastErr error
	for _, extra := range []string{"mode=ro", "mode=ro&immutable=1"} {
		sqlDB, err := sql.Open("sqlite", roDSN(abs, extra))
		if err != nil {
			return nil, err
		}
		db := &DB{sql: sqlDB, path: abs, readOnly: true, writing: make(chan struct{}, 1), Now: time.Now}
		err = db.initReadOnly(ctx)
		if err == nil {
			return db, nil
		}
		_ = sqlDB.Close()
		if IsCorrupt(err) || errors.Is(err, ErrSchemaTooNew) || errors.Is(err, ErrForeignDatabase) || errors.Is(err, ErrReadOnly) {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

// initReadOnly checks a read-only file: its ids and schema version, which
// must be this binary's (a migration would need a write), and reads the
// queue id.
func (db *DB) initReadOnly(ctx context.Context) error {
	steps, version, err := db.schemaState(ctx)
	if err != nil {
		return err
	}
	if version < len(steps) {
		return fmt.Errorf("%w: the file is at schema version %d and this mljob needs %d, which takes a write (run any command that writes, e.g. mljob dispatch, with write access once)",
			ErrReadOnly, version, len(steps))
	}
	return db.sql.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'queue_id'`).Scan(&db.queueID)
}

// ReadOnly reports whether the database was opened read-only (see Mode).
func (db *DB) ReadOnly() bool { return db.readOnly }

// Check reads every page of the file (PRAGMA quick_check) and returns
// ErrCorrupt if one is damaged. It takes about a second per 200 MB: a
// dispatch, which runs for long and writes often, calls it before it
// writes anything; short commands rely on their queries' errors.
func (db *DB) Check(ctx context.Context) error {
	var res string
	if err := db.sql.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&res); err != nil {
		return fmt.Errorf("check database %s: %w", db.path, err)
	}
	if res != "ok" {
		return fmt.Errorf("check database %s: %w: quick_check: %s", db.path, ErrCorrupt, res)
	}
	return nil
}

// IsReadOnly reports whether err is SQLite refusing a write to a file
// opened read-only (SQLITE_READONLY).
func IsReadOnly(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_READONLY
}

// IsCorrupt reports whether err says the database file is damaged
// (SQLITE_CORRUPT) or not a database (SQLITE_NOTADB).
func IsCorrupt(err error) bool {
	if errors.Is(err, ErrCorrupt) {
		return true
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

// Path is the absolute path of the database file.
func (db *DB) Path() string { return db.path }

// Copied returns the queue id the file had when Open found it to be a copy
// of another queue file (or the same file restored or moved to another
// filesystem), and "" otherwise. Such a file got a new queue id, so that
// its runs never take the original's run dirs on a host, and the
// original's dispatchers are marked stopped in it.
func (db *DB) Copied() string { return db.copied }

// checkIdentity compares the file's identity (device and inode) with the
// one recorded in meta when it was last opened for writing. A different one
// means this file is a copy of a queue file, which may still be in use:
// sharing its queue id would make both use the same run dirs on the hosts
// (and each refuse the other's), and its dispatcher rows belong to the
// original. The copy gets a new queue id and its own identity; the
// dispatchers it lists are marked stopped, so that its orders in flight are
// adopted and, their runs being the original's, started again here.
func (db *DB) checkIdentity(ctx context.Context) error {
	id, ok := fileIdentity(db.path)
	if !ok {
		return nil
	}
	return db.withTx(ctx, func(tx *dbTx) error {
		var stored, queue string
		err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'file_id'`).Scan(&stored)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('file_id', ?)`, id)
			return err
		case err != nil:
			return fmt.Errorf("read file id: %w", err)
		case stored == id:
			return nil
		}
		if err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'queue_id'`).Scan(&queue); err != nil {
			return fmt.Errorf("read queue id: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = lower(hex(randomblob(4))) WHERE key = 'queue_id'`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'file_id'`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE dispatchers SET stopped_at = ? WHERE stopped_at IS NULL`, formatTime(tx.now)); err != nil {
			return err
		}
		db.copied = queue
		return nil
	})
}

// QueueID names this queue file on hosts: a random id made when the file
// was created. Run dirs carry it, so that two queue files sharing a host's
// workdir never use the same run dir.
func (db *DB) QueueID() string { return db.queueID }

// dsn builds the connection string for the file at abs. Per-connection
// pragmas live in the DSN so that every connection database/sql opens in
// its pool gets them, not only the first.
func dsn(abs string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive path: file:/C:/...
	}
	// Escape the path: SQLite decodes %XX in a file: URI, and a raw '?' or
	// '#' in a directory name would otherwise cut the path short.
	u := url.URL{Path: p}
	q := []string{
		// A dispatcher holds the write lock briefly on every claim; a
		// concurrent submit waits for it rather than failing.
		"_pragma=busy_timeout(10000)",
		// WAL lets readers (list, outcomes) run while a dispatcher writes.
		"_pragma=journal_mode(wal)",
		"_pragma=foreign_keys(1)",
		// FULL syncs the WAL on every commit: an outcome, once recorded,
		// survives a power cut. NORMAL could lose the last commits, and a
		// lost outcome means a training run redone or a result gone.
		"_pragma=synchronous(full)",
		// Every transaction here writes; taking the write lock at BEGIN
		// means busy_timeout applies there, instead of a deadlocked
		// read-to-write upgrade failing with SQLITE_BUSY mid-transaction.
		"_txlock=immediate",
	}
	return "file:" + u.EscapedPath() + "?" + strings.Join(q, "&")
}

// roDSN is dsn for a read-only connection: no pragma that writes, and
// query_only as a second guard.
func roDSN(abs, extra string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	u := url.URL{Path: p}
	return "file:" + u.EscapedPath() + "?" + extra + "&_pragma=busy_timeout(10000)&_pragma=query_only(1)"
}

// init checks the pragmas took effect and migrates the schema.
func (db *DB) init(ctx context.Context) error {
	var mode string
	if err := db.sql.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		// Without WAL a long read would block the dispatcher's writes.
		return fmt.Errorf("journal_mode is %q, want wal (is the file on a network filesystem?)", mode)
	}
	return db.migrate(ctx)
}

// migration is one step of schema.sql.
type migration struct {
	version int
	sql     string
}

// parseSchema splits schema.sql into its steps at "-- version: N" lines. Text
// before the first marker is a header comment and is not run.
func parseSchema(text string) ([]migration, error) {
	var steps []migration
	var b strings.Builder
	flush := func() {
		if len(steps) > 0 {
			steps[len(steps)-1].sql = b.String()
		}
		b.Reset()
	}
	for line := range strings.Lines(text) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- version:")
		if !ok {
			b.WriteString(line)
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(rest))
		if err != nil {
			return nil, fmt.Errorf("parse schema: bad version line %q", strings.TrimSpace(line))
		}
		if n != len(steps)+1 {
			return nil, fmt.Errorf("parse schema: version %d follows version %d", n, len(steps))
		}
		flush()
		steps = append(steps, migration{version: n})
	}
	flush()
	return steps, nil
}

// schemaState returns the binary's schema steps and the file's version,
// once the file's ids are checked: ours, and not newer than this binary.
func (db *DB) schemaState(ctx context.Context) ([]migration, int, error) {
	steps, err := parseSchema(schemaSQL)
	if err != nil {
		return nil, 0, err
	}
	appID, version, err := readIDs(ctx, db.sql)
	if err != nil {
		return nil, 0, err
	}
	if err := checkIDs(appID, version, len(steps)); err != nil {
		return nil, 0, err
	}
	return steps, version, nil
}

// migrate applies every step of schema.sql above the file's user_version,
// each in its own IMMEDIATE transaction, so that two processes opening a new
// file at once cannot both apply a step.
func (db *DB) migrate(ctx context.Context) error {
	steps, version, err := db.schemaState(ctx)
	if err != nil {
		return err
	}
	for _, step := range steps {
		if step.version <= version {
			continue
		}
		if err := db.migrateStep(ctx, step, len(steps)); err != nil {
			return fmt.Errorf("migrate to version %d: %w", step.version, err)
		}
	}
	return nil
}

// migrateStep applies one step unless another process applied it first.
//
// It runs on a connection of its own with foreign keys off, as SQLite's
// procedure for rebuilding a table asks (a step that changes a CHECK
// constraint creates the new table, copies the rows, drops the old one and
// renames the new: with foreign keys on, the drop would delete or refuse
// every row that references it). PRAGMA foreign_keys is a no-op inside a
// transaction, so it is set before BEGIN; foreign_key_check then proves
// the step left every reference whole before it commits.
func (db *DB) migrateStep(ctx context.Context, step migration, known int) (err error) {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return err
	}
	defer func() {
		if _, onErr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON"); onErr != nil {
			// WARNING: a pooled connection must not go on without its
			// foreign keys: drop it.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, fmt.Errorf("foreign keys back on: %w", onErr))
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()

	// Re-read under the write lock: the check in migrate was outside it.
	appID, version, err := readIDs(ctx, tx)
	if err != nil {
		return err
	}
	if err := checkIDs(appID, version, known); err != nil {
		return err
	}
	if version >= step.version {
		return nil
	}
	if version != step.version-1 {
		return fmt.Errorf("file is at version %d, step needs %d", version, step.version-1)
	}
	if _, err := tx.ExecContext(ctx, step.sql); err != nil {
		return err
	}
	if err := checkForeignKeys(ctx, tx); err != nil {
		return err
	}
	// PRAGMA takes no bind parameters, hence the formatted integers.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(step.version)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA application_id = "+strconv.Itoa(ApplicationID)); err != nil {
		return err
	}
	return tx.Commit()
}

// checkForeignKeys fails when a row references one that is not there.
func checkForeignKeys(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("foreign key check: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return fmt.Errorf("foreign key check: %w", err)
		}
		return fmt.Errorf("foreign key check: a row of %s (rowid %d) references a missing row of %s", table, rowid.Int64, parent)
	}
	return rows.Err()
}

// queryer is what readIDs needs from a *sql.DB or *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readIDs reads the file's application_id and user_version.
func readIDs(ctx context.Context, q queryer) (appID, version int, err error) {
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return 0, 0, fmt.Errorf("read application_id: %w", err)
	}
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, 0, fmt.Errorf("read user_version: %w", err)
	}
	return appID, version, nil
}

// checkIDs refuses a file stamped by another application or migrated past
// the known steps.
func checkIDs(appID, version, known int) error {
	if appID != 0 && appID != ApplicationID {
		return fmt.Errorf("%w: application_id is %#x, want %#x", ErrForeignDatabase, appID, ApplicationID)
	}
	if version > known {
		return fmt.Errorf("%w: schema version %d, this binary knows up to %d; upgrade mljob", ErrSchemaTooNew, version, known)
	}
	return nil
}

// Close closes the database. In-flight calls must have returned.
func (db *DB) Close() error {
	if err := db.sql.Close(); err != nil {
		return fmt.Errorf("close database %s: %w", db.path, err)
	}
	return nil
}

// dbTx is a write transaction with the one timestamp it writes.
type dbTx struct {
	*sql.Tx
	now time.Time
}

// withTx runs fn in one IMMEDIATE transaction and commits if fn returns nil.
// The clock is read once, so every row fn writes carries the same time.
//
// The transactions of one DB take turns in the process before BEGIN: a
// write waiting for another of this process starts the moment that one
// ends. Left to SQLite, it would wait in the busy handler, which sleeps
// 1, 2, 5, 10 … up to 100 ms between tries whether or not the lock came
// free meanwhile: a dispatcher's loop and its workers (a proposal, a
// claim, a run marked running, an outcome) lost most of each trial's wall
// time there. Other processes sharing the file still wait in busy_timeout.
// fn must not start another transaction of db.
func (db *DB) withTx(ctx context.Context, fn func(tx *dbTx) error) error {
	select {
	case db.writing <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("begin: %w", ctx.Err())
	}
	defer func() { <-db.writing }()
	sqlTx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = sqlTx.Rollback() }()
	if err := fn(&dbTx{Tx: sqlTx, now: db.now()}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// now returns the current time in UTC, through Now when set.
func (db *DB) now() time.Time {
	if db.Now == nil {
		return time.Now().UTC()
	}
	return db.Now().UTC()
}

// formatTime renders t for storage; the zero time is stored as NULL.
func formatTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeFormat)
}

// parseTime reads a stored time back; NULL gives the zero time.
func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s.String, err)
	}
	return t.UTC(), nil
}

// nullString stores "" as NULL, for optional text columns.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullInt stores 0 as NULL, for optional integer columns such as pid.
func nullInt(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

// intPtr stores a nil *int as NULL.
func intPtr(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// floatPtr stores a nil *float64 as NULL.
func floatPtr(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// bytesText stores b as TEXT, keeping its bytes exactly; nil is NULL, so a
// missing spec trips the NOT NULL constraint instead of becoming "".
func bytesText(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// timeScanner collects the NullStrings of time columns so a scan helper can
// parse them after Scan, reporting the first bad value.
type timeScanner struct {
	dst []*time.Time
	src []*sql.NullString
}

// col returns a Scan destination that parse will decode into dst.
func (ts *timeScanner) col(dst *time.Time) *sql.NullString {
	s := new(sql.NullString)
	ts.dst = append(ts.dst, dst)
	ts.src = append(ts.src, s)
	return s
}

// parse decodes every collected column.
func (ts *timeScanner) parse() error {
	for i, s := range ts.src {
		t, err := parseTime(*s)
		if err != nil {
			return err
		}
		*ts.dst[i] = t
	}
	return nil
}
