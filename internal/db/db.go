package db

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	// The pure-Go driver keeps the binary CGO-free; it registers as "sqlite".
	_ "modernc.org/sqlite"
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

	// Now returns the current time; tests replace it to pin timestamps.
	// Each transaction calls it once and converts the result to UTC.
	Now func() time.Time
}

// Open opens the database at path, creating it and its parent directory if
// missing, and migrates it to the schema this binary knows. It refuses a file
// stamped by another application (ErrForeignDatabase) or migrated by a newer
// mljob (ErrSchemaTooNew).
func Open(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// The queue names hosts, scripts and results: keep it private to the user.
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// Create the file ourselves so its mode is 0600 whatever the umask lets
	// SQLite pick; SQLite gives the -wal and -shm files the same mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}

	sqlDB, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db := &DB{sql: sqlDB, path: abs, Now: time.Now}
	if err := db.init(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := sqlDB.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'queue_id'`).Scan(&db.queueID); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("open database %s: read queue id: %w", path, err)
	}
	return db, nil
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

// migrate applies every step of schema.sql above the file's user_version,
// each in its own IMMEDIATE transaction, so that two processes opening a new
// file at once cannot both apply a step.
func (db *DB) migrate(ctx context.Context) error {
	steps, err := parseSchema(schemaSQL)
	if err != nil {
		return err
	}
	appID, version, err := readIDs(ctx, db.sql)
	if err != nil {
		return err
	}
	if err := checkIDs(appID, version, len(steps)); err != nil {
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
func (db *DB) migrateStep(ctx context.Context, step migration, known int) error {
	tx, err := db.sql.BeginTx(ctx, nil)
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
	// PRAGMA takes no bind parameters, hence the formatted integers.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(step.version)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA application_id = "+strconv.Itoa(ApplicationID)); err != nil {
		return err
	}
	return tx.Commit()
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
func (db *DB) withTx(ctx context.Context, fn func(tx *dbTx) error) error {
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
