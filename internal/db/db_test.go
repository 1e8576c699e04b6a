package db

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// MustOpenDB opens a fresh database file in a temporary directory and closes
// it when the test ends. A file, not :memory:, because WAL needs one.
func MustOpenDB(tb testing.TB) *DB {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "mljob.db"))
}

// mustOpenPath opens the database at path and closes it when the test ends.
func mustOpenPath(tb testing.TB, path string) *DB {
	tb.Helper()
	db, err := Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

// mustSubmit queues one job per priority in project and returns their ids.
func mustSubmit(tb testing.TB, db *DB, project string, priorities ...int) []Submitted {
	tb.Helper()
	jobs := make([]NewJob, len(priorities))
	for i, p := range priorities {
		jobs[i] = NewJob{Project: project, Script: "nn.py", Priority: p, Spec: []byte(`{"projectName":"` + project + `"}`)}
	}
	sub, err := db.SubmitJobs(context.Background(), jobs)
	if err != nil {
		tb.Fatalf("SubmitJobs: %v", err)
	}
	return sub
}

// mustClaim claims an order and fails the test if there is none.
func mustClaim(tb testing.TB, db *DB, host string) *Claim {
	tb.Helper()
	c, err := db.ClaimOrder(context.Background(), host, "0", "test-dispatcher")
	if err != nil {
		tb.Fatalf("ClaimOrder: %v", err)
	}
	if c == nil {
		tb.Fatal("ClaimOrder: nothing to claim")
	}
	return c
}

// mustOrder returns the only order of a job.
func mustOrder(tb testing.TB, db *DB, jobID int64) Order {
	tb.Helper()
	orders, err := db.OrdersForJob(context.Background(), jobID)
	if err != nil {
		tb.Fatalf("OrdersForJob(%d): %v", jobID, err)
	}
	if len(orders) != 1 {
		tb.Fatalf("OrdersForJob(%d): got %d orders, want 1", jobID, len(orders))
	}
	return orders[0]
}

// countRows counts the rows of a table.
func countRows(tb testing.TB, db *DB, table string) int {
	tb.Helper()
	var n int
	if err := db.sql.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	tests := []struct {
		name    string
		rel     string // path below the temp dir
		newDirs []string
	}{
		{name: "existing dir", rel: "mljob.db"},
		{name: "missing parents", rel: "a/b/mljob.db", newDirs: []string{"a", "a/b"}},
		{name: "odd characters", rel: "x?y#z %41/mljob.db", newDirs: []string{"x?y#z %41"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, tt.rel)
			mustOpenPath(t, path)

			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("file mode = %o, want 600", got)
			}
			for _, d := range tt.newDirs {
				fi, err := os.Stat(filepath.Join(root, d))
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != 0o700 {
					t.Errorf("dir %s mode = %o, want 700", d, got)
				}
			}
			// The WAL sits beside the file we created (so SQLite opened that
			// very path, odd characters and all) and has its mode.
			fi, err = os.Stat(path + "-wal")
			if err != nil {
				t.Fatalf("no WAL beside the database: %v", err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("wal mode = %o, want 600", got)
			}
		})
	}
}

func TestPragmasOnEveryConnection(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()

	// Holding the first connection forces the pool to open a second one.
	first, err := db.sql.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := db.sql.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()

	for name, conn := range map[string]*sql.Conn{"first": first, "second": second} {
		tests := []struct {
			pragma string
			want   string
		}{
			{"busy_timeout", "10000"},
			{"foreign_keys", "1"},
			{"journal_mode", "wal"},
			{"synchronous", "2"}, // FULL
		}
		for _, tt := range tests {
			t.Run(name+"/"+tt.pragma, func(t *testing.T) {
				var got string
				if err := conn.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
				}
			})
		}
	}
}

func TestOpenTwiceKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mljob.db")
	ctx := context.Background()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	sub := mustSubmit(t, db, "p", 1)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpenPath(t, path)
	steps, err := parseSchema(schemaSQL)
	if err != nil {
		t.Fatal(err)
	}
	appID, version, err := readIDs(ctx, db.sql)
	if err != nil {
		t.Fatal(err)
	}
	if appID != ApplicationID || version != len(steps) {
		t.Errorf("application_id, user_version = %#x, %d; want %#x, %d", appID, version, ApplicationID, len(steps))
	}
	if _, err := db.Job(ctx, sub[0].JobID); err != nil {
		t.Errorf("job after reopen: %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name    string
		pragmas []string // run on the file before Open
		want    error
	}{
		{name: "newer schema", pragmas: []string{"PRAGMA user_version = 99"}, want: ErrSchemaTooNew},
		{name: "foreign application", pragmas: []string{"PRAGMA application_id = 305419896"}, want: ErrForeignDatabase},
		{name: "foreign with our version", pragmas: []string{"PRAGMA application_id = 1", "PRAGMA user_version = 1"}, want: ErrForeignDatabase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "other.db")
			raw, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.pragmas {
				if _, err := raw.Exec(p); err != nil {
					t.Fatal(err)
				}
			}
			if err := raw.Close(); err != nil {
				t.Fatal(err)
			}

			db, err := Open(context.Background(), path)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Open error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseSchema(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		versions int
		wantErr  string
	}{
		{name: "header and two steps", text: "-- header\n-- version: 1\nCREATE TABLE a(x);\n-- version: 2\nCREATE TABLE b(x);\n", versions: 2},
		{name: "gap", text: "-- version: 1\nX;\n-- version: 3\nY;\n", wantErr: "version 3 follows version 1"},
		{name: "not a number", text: "-- version: one\n", wantErr: "bad version line"},
		{name: "embedded", text: schemaSQL, versions: 21},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps, err := parseSchema(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(steps) != tt.versions {
				t.Fatalf("got %d steps, want %d", len(steps), tt.versions)
			}
			for i, s := range steps {
				if s.version != i+1 || !(strings.Contains(s.sql, "CREATE ") || strings.Contains(s.sql, "ALTER TABLE") || strings.Contains(s.sql, "UPDATE ")) || strings.Contains(s.sql, "-- version:") {
					t.Errorf("step %d = %+v", i, s)
				}
			}
		})
	}
}

func TestPinnedNow(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	zone := time.FixedZone("UTC+2", 2*60*60)
	times := []time.Time{
		time.Date(2024, 3, 1, 12, 0, 0, 0, zone),         // submit: whole second
		time.Date(2024, 3, 1, 12, 0, 1, 500, zone),       // claim
		time.Date(2024, 3, 1, 12, 0, 2, 123456789, zone), // running
		time.Date(2024, 3, 1, 12, 5, 0, 100000000, zone), // outcome
	}
	step := 0
	db.Now = func() time.Time { return times[step] }

	sub := mustSubmit(t, db, "p", 0)
	step++
	c := mustClaim(t, db, "gpu1")
	step++
	if err := db.MarkRunning(ctx, c.Order.ID, c.Order.Attempt, "/w/runs/1-1", 42); err != nil {
		t.Fatal(err)
	}
	step++
	if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: true}); err != nil {
		t.Fatal(err)
	}

	job, err := db.Job(ctx, sub[0].JobID)
	if err != nil {
		t.Fatal(err)
	}
	order := mustOrder(t, db, sub[0].JobID)
	atts, err := db.Attempts(ctx, c.Order.ID)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := db.Outcomes(ctx, OutcomeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 1 || len(outs) != 1 {
		t.Fatalf("got %d attempts, %d outcomes; want 1, 1", len(atts), len(outs))
	}
	tests := []struct {
		name string
		got  time.Time
		want time.Time
	}{
		{"job created", job.CreatedAt, times[0]},
		{"order created", order.CreatedAt, times[0]},
		{"claim assigned", c.Order.AssignedAt, times[1]},
		{"order assigned", order.AssignedAt, times[1]},
		{"order started", order.StartedAt, times[2]},
		{"order finished", order.FinishedAt, times[3]},
		{"attempt assigned", atts[0].AssignedAt, times[1]},
		{"attempt started", atts[0].StartedAt, times[2]},
		{"attempt finished", atts[0].FinishedAt, times[3]},
		{"outcome created", outs[0].CreatedAt, times[3]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.got.Equal(tt.want) || tt.got.Location() != time.UTC {
				t.Errorf("got %v, want %v in UTC", tt.got, tt.want.UTC())
			}
		})
	}

	// The stored text is fixed-width UTC, so it sorts in time order.
	var stored string
	if err := db.sql.QueryRow("SELECT created_at FROM jobs").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := "2024-03-01T10:00:00.000000000Z"; stored != want {
		t.Errorf("stored created_at = %q, want %q", stored, want)
	}
	var unset sql.NullString
	if err := db.sql.QueryRow("SELECT exit_code FROM attempts").Scan(&unset); err != nil {
		t.Fatal(err)
	}
	if unset.Valid {
		t.Errorf("unknown exit code stored as %q, want NULL", unset.String)
	}
}
