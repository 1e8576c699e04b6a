package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"
)

// mustCreateAtVersion makes a database file at path holding the schema up to
// version only, as an older mljob left it, and returns it open without
// Open's migration. The caller closes it.
func mustCreateAtVersion(tb testing.TB, path string, version int) *sql.DB {
	tb.Helper()
	steps, err := parseSchema(schemaSQL)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range steps[:version] {
		if _, err := raw.Exec(s.sql); err != nil {
			tb.Fatalf("step %d: %v", s.version, err)
		}
	}
	for _, p := range []string{"PRAGMA user_version = " + strconv.Itoa(version), "PRAGMA application_id = " + strconv.Itoa(ApplicationID)} {
		if _, err := raw.Exec(p); err != nil {
			tb.Fatal(err)
		}
	}
	return raw
}

// countCommits makes db use a single connection and counts the transactions
// committed on it from now on, through SQLite's commit hook.
func countCommits(tb testing.TB, db *DB) *atomic.Int32 {
	tb.Helper()
	db.sql.SetMaxOpenConns(1)
	conn, err := db.sql.Conn(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	n := new(atomic.Int32)
	if err := conn.Raw(func(dc any) error {
		h, ok := dc.(sqlite.HookRegisterer)
		if !ok {
			return fmt.Errorf("driver connection %T registers no hooks", dc)
		}
		h.RegisterCommitHook(func() int32 { n.Add(1); return 0 })
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return n
}

// mustMarkSlurm marks the claim's attempt running as task.
func mustMarkSlurm(tb testing.TB, db *DB, c *Claim, task SlurmTask) {
	tb.Helper()
	ctx := context.Background()
	if err := db.MarkRunning(ctx, c.Order.ID, c.Order.Attempt, "/w/runs/x", 0); err != nil {
		tb.Fatal(err)
	}
	if err := db.MarkSlurm(ctx, c.Order.ID, c.Order.Attempt, task); err != nil {
		tb.Fatal(err)
	}
}

// slurmText renders a task for comparison; "-" is nil.
func slurmText(t *SlurmTask) string {
	if t == nil {
		return "-"
	}
	return fmt.Sprintf("%d_%d(%s)", t.JobID, t.ArrayIndex, t.State)
}

// attemptSlurm returns the Slurm task of each attempt of an order, in order.
func attemptSlurm(tb testing.TB, db *DB, orderID int64) []string {
	tb.Helper()
	atts, err := db.Attempts(context.Background(), orderID)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, a := range atts {
		out = append(out, slurmText(a.Slurm))
	}
	return out
}

// TestMigrateFromV6: rows written by an mljob at schema 6 read back with no
// Slurm task, their columns NULL, and can be marked afterwards.
func TestMigrateFromV6(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mljob.db")
	raw := mustCreateAtVersion(t, path, 6)
	const at = "2026-03-01T12:00:00.000000000Z"
	for _, q := range []string{
		`INSERT INTO jobs (id, project, script, spec, created_at) VALUES (1, 'p', 'nn.py', '{}', '` + at + `')`,
		`INSERT INTO orders (id, job_id, state, priority, attempt, host, slot, created_at, assigned_at, started_at)
			VALUES (1, 1, 'running', 0, 1, 'gpu1', '0', '` + at + `', '` + at + `', '` + at + `')`,
		`INSERT INTO attempts (order_id, attempt, host, slot, state, assigned_at, started_at)
			VALUES (1, 1, 'gpu1', '0', 'running', '` + at + `', '` + at + `')`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	db := mustOpenPath(t, path)
	if _, version, err := readIDs(ctx, db.sql); err != nil || version < 7 {
		t.Fatalf("user_version = %d, %v; want 7 or later", version, err)
	}
	for _, table := range []string{"orders", "attempts"} {
		var n int
		if err := db.sql.QueryRow(`SELECT COUNT(*) FROM ` + table + ` WHERE sched_task IS NULL
			AND sched_state IS NULL`).Scan(&n); err != nil || n != 1 {
			t.Errorf("%s: %d rows with NULL task columns, %v; want 1", table, n, err)
		}
	}
	o := mustOrder(t, db, 1)
	if o.Slurm != nil || o.Host != "gpu1" || o.State != StateRunning {
		t.Errorf("order = %+v, want running on gpu1 with no Slurm task", o)
	}
	if got := attemptSlurm(t, db, 1); len(got) != 1 || got[0] != "-" {
		t.Errorf("attempts' Slurm = %v, want [-]", got)
	}
	if err := db.MarkSlurm(ctx, 1, 1, SlurmTask{JobID: 500, ArrayIndex: 3}); err != nil {
		t.Fatal(err)
	}
	if o := mustOrder(t, db, 1); slurmText(o.Slurm) != "500_3()" {
		t.Errorf("order's Slurm after MarkSlurm = %s, want 500_3()", slurmText(o.Slurm))
	}
}

func TestMarkSlurm(t *testing.T) {
	ctx := context.Background()
	task := SlurmTask{JobID: 12345, ArrayIndex: 7, State: "PENDING"}
	tests := []struct {
		name string
		// setup moves the order on after its first claim c and returns the
		// attempt to mark.
		setup        func(t *testing.T, db *DB, c *Claim) int
		task         SlurmTask
		want         error  // errors.Is; nil for success
		wantErr      bool   // an error that is no sentinel
		wantOrder    string // the order's Slurm, as slurmText
		wantAttempts []string
	}{
		{
			name:         "current attempt",
			setup:        func(*testing.T, *DB, *Claim) int { return 1 },
			task:         task,
			wantOrder:    "12345_7(PENDING)",
			wantAttempts: []string{"12345_7(PENDING)"},
		},
		{
			name:         "not seen yet",
			setup:        func(*testing.T, *DB, *Claim) int { return 1 },
			task:         SlurmTask{JobID: 9, ArrayIndex: 0},
			wantOrder:    "9_0()",
			wantAttempts: []string{"9_0()"},
		},
		{
			name: "stale attempt: only its own row",
			setup: func(t *testing.T, db *DB, c *Claim) int {
				if err := db.ReleaseOrder(ctx, c.Order.ID, 1, "sbatch timed out"); err != nil {
					t.Fatal(err)
				}
				mustClaim(t, db, "campus")
				return 1
			},
			task:         task,
			wantOrder:    "-",
			wantAttempts: []string{"12345_7(PENDING)", "-"},
		},
		{
			name:         "never claimed",
			setup:        func(*testing.T, *DB, *Claim) int { return 2 },
			task:         task,
			want:         ErrStaleAttempt,
			wantOrder:    "-",
			wantAttempts: []string{"-"},
		},
		{
			name:         "no job id",
			setup:        func(*testing.T, *DB, *Claim) int { return 1 },
			task:         SlurmTask{ArrayIndex: 1},
			wantErr:      true,
			wantOrder:    "-",
			wantAttempts: []string{"-"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			mustSubmit(t, db, "p", 0)
			c := mustClaim(t, db, "campus")
			attempt := tt.setup(t, db, c)

			err := db.MarkSlurm(ctx, c.Order.ID, attempt, tt.task)
			switch {
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("MarkSlurm error = %v, want %v", err, tt.want)
			case tt.wantErr && err == nil:
				t.Fatal("MarkSlurm succeeded, want an error")
			case tt.want == nil && !tt.wantErr && err != nil:
				t.Fatalf("MarkSlurm: %v", err)
			}
			if got := slurmText(mustOrder(t, db, c.Job.ID).Slurm); got != tt.wantOrder {
				t.Errorf("order's Slurm = %s, want %s", got, tt.wantOrder)
			}
			if got := attemptSlurm(t, db, c.Order.ID); fmt.Sprint(got) != fmt.Sprint(tt.wantAttempts) {
				t.Errorf("attempts' Slurm = %v, want %v", got, tt.wantAttempts)
			}
		})
	}
}

// TestSlurmClearedWithTheAttempt: the order's Slurm task describes its
// current attempt, so whatever moves the order off that attempt clears it,
// while the attempt row keeps it for the history.
func TestSlurmClearedWithTheAttempt(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		move func(t *testing.T, db *DB, c *Claim)
	}{
		{"released", func(t *testing.T, db *DB, c *Claim) {
			if err := db.ReleaseOrder(ctx, c.Order.ID, c.Order.Attempt, "node lost"); err != nil {
				t.Fatal(err)
			}
		}},
		{"released and claimed again", func(t *testing.T, db *DB, c *Claim) {
			if err := db.ReleaseOrder(ctx, c.Order.ID, c.Order.Attempt, "node lost"); err != nil {
				t.Fatal(err)
			}
			mustClaim(t, db, "campus")
		}},
		{"failed and retried", func(t *testing.T, db *DB, c *Claim) {
			if err := db.FailOrder(ctx, c.Order.ID, c.Order.Attempt, "TIMEOUT"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.RetryOrders(ctx, Selection{OrderIDs: []int64{c.Order.ID}}, StateFailed, StateCancelled); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			mustSubmit(t, db, "p", 0)
			c := mustClaim(t, db, "campus")
			mustMarkSlurm(t, db, c, SlurmTask{JobID: 77, ArrayIndex: 2, State: "RUNNING"})
			tt.move(t, db, c)
			if o := mustOrder(t, db, c.Job.ID); o.Slurm != nil {
				t.Errorf("order's Slurm = %s, want none", slurmText(o.Slurm))
			}
			if got := attemptSlurm(t, db, c.Order.ID); got[0] != "77_2(RUNNING)" {
				t.Errorf("attempt 1's Slurm = %s, want 77_2(RUNNING)", got[0])
			}
		})
	}
}

func TestSetSlurmStates(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	mustSubmit(t, db, "p", 0, 0, 0)
	var claims []*Claim
	for i := range 3 {
		c := mustClaim(t, db, "campus")
		mustMarkSlurm(t, db, c, SlurmTask{JobID: 100, ArrayIndex: i})
		claims = append(claims, c)
	}
	// The third order moves on to attempt 2, also in Slurm; its attempt 1
	// is stale.
	stale := claims[2]
	if err := db.ReleaseOrder(ctx, stale.Order.ID, 1, "node lost"); err != nil {
		t.Fatal(err)
	}
	mustMarkSlurm(t, db, mustClaim(t, db, "campus"), SlurmTask{JobID: 101, ArrayIndex: 0, State: "PENDING"})
	commits := countCommits(t, db)

	tests := []struct {
		name    string
		changes []SlurmStateChange
		wantErr bool
		// want is each order's Slurm, then each of its attempts', after
		// the call.
		want [3]string
	}{
		{
			name: "one poll",
			changes: []SlurmStateChange{
				{OrderID: claims[0].Order.ID, Attempt: 1, State: "RUNNING"},
				{OrderID: claims[1].Order.ID, Attempt: 1, State: "PENDING"},
				{OrderID: stale.Order.ID, Attempt: 1, State: "COMPLETED"},
			},
			want: [3]string{"100_0(RUNNING) [100_0(RUNNING)]", "100_1(PENDING) [100_1(PENDING)]",
				"101_0(PENDING) [100_2(COMPLETED) 101_0(PENDING)]"},
		},
		{
			name: "the current attempt of a moved order; a state unseen again",
			changes: []SlurmStateChange{
				{OrderID: stale.Order.ID, Attempt: 2, State: "RUNNING"},
				{OrderID: claims[1].Order.ID, Attempt: 1, State: ""},
			},
			want: [3]string{"100_0(RUNNING) [100_0(RUNNING)]", "100_1() [100_1()]",
				"101_0(RUNNING) [100_2(COMPLETED) 101_0(RUNNING)]"},
		},
		{
			name: "an attempt never handed to Slurm fails the whole call",
			changes: []SlurmStateChange{
				{OrderID: claims[0].Order.ID, Attempt: 1, State: "COMPLETING"},
				{OrderID: claims[1].Order.ID, Attempt: 9, State: "RUNNING"},
			},
			wantErr: true,
			want: [3]string{"100_0(RUNNING) [100_0(RUNNING)]", "100_1() [100_1()]",
				"101_0(RUNNING) [100_2(COMPLETED) 101_0(RUNNING)]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := commits.Load()
			err := db.SetSlurmStates(ctx, tt.changes)
			if (err != nil) != tt.wantErr {
				t.Fatalf("SetSlurmStates error = %v, want error %v", err, tt.wantErr)
			}
			wantCommits := int32(1)
			if tt.wantErr {
				wantCommits = 0
			}
			if n := commits.Load() - before; n != wantCommits {
				t.Errorf("%d transactions committed, want %d", n, wantCommits)
			}
			for i, c := range claims {
				got := slurmText(mustOrder(t, db, c.Job.ID).Slurm) + " " + fmt.Sprint(attemptSlurm(t, db, c.Order.ID))
				if got != tt.want[i] {
					t.Errorf("order %d: %s, want %s", c.Order.ID, got, tt.want[i])
				}
			}
		})
	}

	t.Run("empty slice opens no transaction", func(t *testing.T) {
		// A cancelled context fails any BeginTx, so success here means
		// none was begun.
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		before := commits.Load()
		if err := db.SetSlurmStates(cancelled, nil); err != nil {
			t.Errorf("SetSlurmStates(nil) = %v, want nil", err)
		}
		if n := commits.Load() - before; n != 0 {
			t.Errorf("%d transactions committed, want 0", n)
		}
	})
}

// TestSetSlurmStatesLargePollOneCommit: 200 states are one commit.
func TestSetSlurmStatesLargePollOneCommit(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	const n = 200
	prios := make([]int, n)
	mustSubmit(t, db, "p", prios...)
	changes := make([]SlurmStateChange, n)
	for i := range n {
		c := mustClaim(t, db, "campus")
		mustMarkSlurm(t, db, c, SlurmTask{JobID: 42, ArrayIndex: i})
		changes[i] = SlurmStateChange{OrderID: c.Order.ID, Attempt: c.Order.Attempt, State: "RUNNING"}
	}
	commits := countCommits(t, db)
	if err := db.SetSlurmStates(ctx, changes); err != nil {
		t.Fatal(err)
	}
	if got := commits.Load(); got != 1 {
		t.Errorf("%d transactions committed, want 1", got)
	}
	active, err := db.ActiveOrders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, o := range active {
		if o.Slurm != nil && o.Slurm.State == "RUNNING" {
			running++
		}
	}
	if running != n {
		t.Errorf("%d orders' Slurm state is RUNNING, want %d", running, n)
	}
}

// TestOrderReadsFillSlurm: every read that returns orders or attempts
// carries the Slurm task.
func TestOrderReadsFillSlurm(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return t0 }
	if err := db.RegisterDispatcher(ctx, "dead", "laptop", 1); err != nil {
		t.Fatal(err)
	}
	mustSubmit(t, db, "p", 0)
	c, err := db.ClaimOrder(ctx, "campus", "0", "dead")
	if err != nil || c == nil {
		t.Fatalf("claim: %v, %v", c, err)
	}
	mustMarkSlurm(t, db, c, SlurmTask{JobID: 12345, ArrayIndex: 7, State: "RUNNING"})
	const want = "12345_7(RUNNING)"

	readers := []struct {
		name string
		read func() (*SlurmTask, error)
	}{
		{"OrdersForJob", func() (*SlurmTask, error) {
			list, err := db.OrdersForJob(ctx, c.Job.ID)
			if err != nil || len(list) != 1 {
				return nil, fmt.Errorf("%d orders, %v", len(list), err)
			}
			return list[0].Slurm, nil
		}},
		{"ActiveOrders", func() (*SlurmTask, error) {
			list, err := db.ActiveOrders(ctx)
			if err != nil || len(list) != 1 {
				return nil, fmt.Errorf("%d orders, %v", len(list), err)
			}
			return list[0].Slurm, nil
		}},
		{"Attempts", func() (*SlurmTask, error) {
			as, err := db.Attempts(ctx, c.Order.ID)
			if err != nil || len(as) != 1 {
				return nil, fmt.Errorf("%d attempts, %v", len(as), err)
			}
			return as[0].Slurm, nil
		}},
		{"AdoptOrders", func() (*SlurmTask, error) {
			cs, err := db.AdoptOrders(ctx, "me", "campus", t0.Add(time.Hour))
			if err != nil || len(cs) != 1 {
				return nil, fmt.Errorf("%d claims, %v", len(cs), err)
			}
			return cs[0].Order.Slurm, nil
		}},
		// Last: cancel is what needs the task, to scancel it.
		{"CancelOrders", func() (*SlurmTask, error) {
			list, err := db.CancelOrders(ctx, Selection{OrderIDs: []int64{c.Order.ID}})
			if err != nil || len(list) != 1 {
				return nil, fmt.Errorf("%d orders, %v", len(list), err)
			}
			return list[0].Slurm, nil
		}},
	}
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			got, err := r.read()
			if err != nil {
				t.Fatal(err)
			}
			if slurmText(got) != want {
				t.Errorf("Slurm = %s, want %s", slurmText(got), want)
			}
		})
	}
}

// TestMigrateSlurmColumnsToTask: Slurm tasks recorded before version 11,
// in Slurm's own columns, read back the same from the scheduler-task
// columns that replace them; rows without a task keep none.
func TestMigrateSlurmColumnsToTask(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mljob.db")
	raw := mustCreateAtVersion(t, path, 10)
	const at = "2026-03-01T12:00:00.000000000Z"
	for _, q := range []string{
		`INSERT INTO jobs (id, project, script, spec, created_at) VALUES (1, 'p', 'nn.py', '{}', '` + at + `')`,
		`INSERT INTO jobs (id, project, script, spec, created_at) VALUES (2, 'p', 'nn.py', '{}', '` + at + `')`,
		`INSERT INTO orders (id, job_id, state, priority, attempt, host, slot, created_at, assigned_at, started_at,
			slurm_job_id, slurm_array_index, slurm_state)
			VALUES (1, 1, 'running', 0, 2, 'campus', '0', '` + at + `', '` + at + `', '` + at + `', 501, 4, 'RUNNING')`,
		`INSERT INTO attempts (order_id, attempt, host, slot, state, assigned_at, started_at, finished_at,
			slurm_job_id, slurm_array_index, slurm_state)
			VALUES (1, 1, 'campus', '0', 'failed', '` + at + `', '` + at + `', '` + at + `', 500, 3, 'NODE_FAIL')`,
		`INSERT INTO attempts (order_id, attempt, host, slot, state, assigned_at, started_at,
			slurm_job_id, slurm_array_index, slurm_state)
			VALUES (1, 2, 'campus', '0', 'running', '` + at + `', '` + at + `', 501, 4, 'RUNNING')`,
		`INSERT INTO orders (id, job_id, state, priority, attempt, host, slot, created_at, assigned_at, started_at)
			VALUES (2, 2, 'running', 0, 1, 'gpu1', '0', '` + at + `', '` + at + `', '` + at + `')`,
		`INSERT INTO attempts (order_id, attempt, host, slot, state, assigned_at, started_at)
			VALUES (2, 1, 'gpu1', '0', 'running', '` + at + `', '` + at + `')`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	db := mustOpenPath(t, path)
	if o := mustOrder(t, db, 1); slurmText(o.Slurm) != "501_4(RUNNING)" {
		t.Errorf("order 1's task = %s, want 501_4(RUNNING)", slurmText(o.Slurm))
	}
	if got := attemptSlurm(t, db, 1); !slices.Equal(got, []string{"500_3(NODE_FAIL)", "501_4(RUNNING)"}) {
		t.Errorf("order 1's attempts' tasks = %v", got)
	}
	if o := mustOrder(t, db, 2); o.Slurm != nil {
		t.Errorf("order 2's task = %s, want none", slurmText(o.Slurm))
	}
	if got := attemptSlurm(t, db, 2); !slices.Equal(got, []string{"-"}) {
		t.Errorf("order 2's attempts' tasks = %v, want [-]", got)
	}
	var task, state string
	if err := db.sql.QueryRow(`SELECT sched_task, sched_state FROM orders WHERE id = 1`).Scan(&task, &state); err != nil || task != "501_4" || state != "RUNNING" {
		t.Errorf("orders.sched_task, sched_state = %q, %q, %v", task, state, err)
	}
	if err := db.SetSlurmStates(ctx, []SlurmStateChange{{OrderID: 1, Attempt: 2, State: "COMPLETED"}}); err != nil {
		t.Fatal(err)
	}
	if o := mustOrder(t, db, 1); slurmText(o.Slurm) != "501_4(COMPLETED)" {
		t.Errorf("order 1's task after a poll = %s", slurmText(o.Slurm))
	}
}
