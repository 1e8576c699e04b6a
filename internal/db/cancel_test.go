package db

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// lifecycle names the orders seedLifecycle leaves in each situation.
type lifecycle struct {
	unassigned, assigned, running, succeeded, failed Submitted
	// cancelledLive was cancelled while running: its attempt row is still
	// running. cancelledDone was cancelled and its outcome recorded since.
	cancelledLive, cancelledDone Submitted
	other                        Submitted // unassigned, in project "q"
}

// seedLifecycle fills db with one order in each situation of lifecycle, all
// in project "p" but other. Each job is submitted and moved on before the
// next one is submitted, so each claim takes the job just submitted.
func seedLifecycle(tb testing.TB, db *DB) lifecycle {
	tb.Helper()
	ctx := context.Background()
	var l lifecycle
	claimOne := func(dst *Submitted) *Claim {
		tb.Helper()
		*dst = mustSubmit(tb, db, "p", 0)[0]
		c := mustClaim(tb, db, "h")
		if c.Order.ID != dst.OrderID {
			tb.Fatalf("claimed order %d, want %d", c.Order.ID, dst.OrderID)
		}
		return c
	}
	running := func(c *Claim) {
		tb.Helper()
		if err := db.MarkRunning(ctx, c.Order.ID, c.Order.Attempt, "/w/runs/x", 4242); err != nil {
			tb.Fatal(err)
		}
	}
	record := func(c *Claim, ok bool) {
		tb.Helper()
		if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: c.Order.Attempt, Succeeded: ok, Error: "x"}); err != nil {
			tb.Fatal(err)
		}
	}
	cancel := func(id int64) {
		tb.Helper()
		if _, err := db.CancelOrders(ctx, Selection{OrderIDs: []int64{id}}); err != nil {
			tb.Fatal(err)
		}
	}

	claimOne(&l.assigned)
	running(claimOne(&l.running))
	c := claimOne(&l.succeeded)
	running(c)
	record(c, true)
	c = claimOne(&l.failed)
	running(c)
	record(c, false)
	c = claimOne(&l.cancelledLive)
	running(c)
	cancel(c.Order.ID)
	c = claimOne(&l.cancelledDone)
	running(c)
	cancel(c.Order.ID)
	record(c, false)
	l.unassigned = mustSubmit(tb, db, "p", 0)[0]
	l.other = mustSubmit(tb, db, "q", 0)[0]
	return l
}

// orderByID reads one order.
func orderByID(tb testing.TB, db *DB, id int64) Order {
	tb.Helper()
	rows, err := db.sql.Query(orderSelect+` WHERE o.id = ?`, id)
	if err != nil {
		tb.Fatal(err)
	}
	got, err := scanOrders(rows)
	if err != nil || len(got) != 1 {
		tb.Fatalf("order %d: %v (%d rows)", id, err, len(got))
	}
	return got[0]
}

// idsAndStates flattens orders to "id:state" strings for comparison.
func idsAndStates(orders []Order) []string {
	var out []string
	for _, o := range orders {
		out = append(out, formatIDState(o.ID, o.State))
	}
	return out
}

// formatIDState renders one order as idsAndStates does.
func formatIDState(id int64, s OrderState) string {
	return fmt.Sprintf("%d:%s", id, s)
}

func TestCancelOrders(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		sel  func(l lifecycle) Selection
		// want lists the orders changed, with their previous states.
		want func(l lifecycle) []string
	}{
		{
			name: "empty selection",
			sel:  func(lifecycle) Selection { return Selection{} },
			want: func(lifecycle) []string { return nil },
		},
		{
			name: "by job id, every state",
			sel: func(l lifecycle) Selection {
				return Selection{JobIDs: []int64{l.unassigned.JobID, l.assigned.JobID, l.running.JobID,
					l.succeeded.JobID, l.failed.JobID, l.cancelledLive.JobID, l.cancelledDone.JobID}}
			},
			want: func(l lifecycle) []string {
				return []string{formatIDState(l.assigned.OrderID, StateAssigned), formatIDState(l.running.OrderID, StateRunning),
					formatIDState(l.unassigned.OrderID, StateUnassigned)}
			},
		},
		{
			name: "by order id",
			sel: func(l lifecycle) Selection {
				return Selection{OrderIDs: []int64{l.running.OrderID, l.succeeded.OrderID}}
			},
			want: func(l lifecycle) []string { return []string{formatIDState(l.running.OrderID, StateRunning)} },
		},
		{
			name: "by project",
			sel:  func(lifecycle) Selection { return Selection{Project: "q"} },
			want: func(l lifecycle) []string { return []string{formatIDState(l.other.OrderID, StateUnassigned)} },
		},
		{
			name: "union of job, order and project, overlapping",
			sel: func(l lifecycle) Selection {
				return Selection{JobIDs: []int64{l.assigned.JobID}, OrderIDs: []int64{l.assigned.OrderID, l.unassigned.OrderID}, Project: "q"}
			},
			want: func(l lifecycle) []string {
				return []string{formatIDState(l.assigned.OrderID, StateAssigned), formatIDState(l.unassigned.OrderID, StateUnassigned),
					formatIDState(l.other.OrderID, StateUnassigned)}
			},
		},
		{
			name: "unknown ids",
			sel: func(lifecycle) Selection {
				return Selection{JobIDs: []int64{99}, OrderIDs: []int64{98}, Project: "none"}
			},
			want: func(lifecycle) []string { return nil },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			l := seedLifecycle(t, db)
			at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
			db.Now = func() time.Time { return at }
			before := map[int64]Order{}
			for id := int64(1); id <= 8; id++ {
				before[id] = orderByID(t, db, id)
			}
			beforeAttempts := countRows(t, db, "attempts")

			got, err := db.CancelOrders(ctx, tt.sel(l))
			if err != nil {
				t.Fatal(err)
			}
			if g, w := idsAndStates(got), tt.want(l); !slices.Equal(g, w) {
				t.Fatalf("CancelOrders changed %v, want %v", g, w)
			}
			changed := map[int64]bool{}
			for _, o := range got {
				changed[o.ID] = true
				if o != before[o.ID] {
					t.Errorf("returned order %d = %+v, want it as it was: %+v", o.ID, o, before[o.ID])
				}
			}
			for id, b := range before {
				a := orderByID(t, db, id)
				if !changed[id] {
					if a != b {
						t.Errorf("order %d changed though not cancelled:\n got %+v\nwant %+v", id, a, b)
					}
					continue
				}
				wantErr := b.LastError
				if b.State != StateUnassigned {
					wantErr = "cancelled"
				}
				if a.State != StateCancelled || a.LastError != wantErr || !a.FinishedAt.Equal(at) ||
					a.Attempt != b.Attempt || a.Host != b.Host || a.RunDir != b.RunDir || a.PID != b.PID {
					t.Errorf("order %d after cancel = %+v, want cancelled at %v with last_error %q, attempt fields kept", id, a, at, wantErr)
				}
				atts, err := db.Attempts(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				// The current attempt says it is cancelled, its kill pending:
				// not finished until its run's outcome is recorded.
				if b.Attempt > 0 && (b.State == StateAssigned || b.State == StateRunning) {
					last := atts[len(atts)-1]
					if len(atts) != b.Attempt || last.State != StateCancelled || last.Error != KillPending || !last.FinishedAt.IsZero() {
						t.Errorf("order %d attempts = %+v, want the current one cancelled, kill pending, not finished", id, atts)
					}
				}
			}
			if n := countRows(t, db, "attempts"); n != beforeAttempts {
				t.Errorf("attempts rows %d, want %d", n, beforeAttempts)
			}

			again, err := db.CancelOrders(ctx, tt.sel(l))
			if err != nil || len(again) != 0 {
				t.Errorf("second CancelOrders = %v, %v; want nothing changed", idsAndStates(again), err)
			}
		})
	}
}

// TestCancelThenOutcome: the outcome of a cancelled run is recorded for its
// attempt but leaves the order cancelled, and the cancelled order is not
// claimed again.
func TestCancelThenOutcome(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	mustSubmit(t, db, "p", 0)
	c := mustClaim(t, db, "h")
	if err := db.MarkRunning(ctx, c.Order.ID, 1, "/w/runs/1-1", 7); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CancelOrders(ctx, Selection{OrderIDs: []int64{c.Order.ID}}); err != nil {
		t.Fatal(err)
	}
	if next, err := db.ClaimOrder(ctx, "h", "0", "d"); err != nil || next != nil {
		t.Fatalf("ClaimOrder after cancel = %+v, %v; want nothing", next, err)
	}
	recorded, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Error: "killed by signal TERM"})
	if err != nil || !recorded {
		t.Fatalf("RecordOutcome = %v, %v", recorded, err)
	}
	o := orderByID(t, db, c.Order.ID)
	if o.State != StateCancelled || o.LastError != "cancelled" {
		t.Errorf("order = %+v, want still cancelled", o)
	}
	atts, err := db.Attempts(ctx, c.Order.ID)
	if err != nil || len(atts) != 1 || atts[0].State != StateCancelled || atts[0].Error != "killed by signal TERM" || atts[0].FinishedAt.IsZero() {
		t.Errorf("attempts = %+v, %v; want attempt 1 cancelled and finished with the outcome's error", atts, err)
	}
}

func TestRetryOrders(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		sel    func(l lifecycle) Selection
		states []OrderState // default failed and cancelled
		want   func(l lifecycle) []string
	}{
		{
			name: "empty selection",
			sel:  func(lifecycle) Selection { return Selection{} },
			want: func(lifecycle) []string { return nil },
		},
		{
			name: "project: failed and finished cancelled, not a cancelled run still live",
			sel:  func(lifecycle) Selection { return Selection{Project: "p"} },
			want: func(l lifecycle) []string {
				return []string{formatIDState(l.failed.OrderID, StateFailed), formatIDState(l.cancelledDone.OrderID, StateCancelled)}
			},
		},
		{
			name:   "only failed",
			sel:    func(lifecycle) Selection { return Selection{Project: "p"} },
			states: []OrderState{StateFailed},
			want:   func(l lifecycle) []string { return []string{formatIDState(l.failed.OrderID, StateFailed)} },
		},
		{
			name: "by job id: active and succeeded orders are left alone",
			sel: func(l lifecycle) Selection {
				return Selection{JobIDs: []int64{l.unassigned.JobID, l.assigned.JobID, l.running.JobID, l.succeeded.JobID, l.cancelledLive.JobID}}
			},
			want: func(lifecycle) []string { return nil },
		},
		{
			name: "by order id",
			sel:  func(l lifecycle) Selection { return Selection{OrderIDs: []int64{l.cancelledDone.OrderID}} },
			want: func(l lifecycle) []string { return []string{formatIDState(l.cancelledDone.OrderID, StateCancelled)} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			l := seedLifecycle(t, db)
			before := map[int64]Order{}
			for id := int64(1); id <= 8; id++ {
				before[id] = orderByID(t, db, id)
			}
			beforeAttempts, beforeOutcomes := countRows(t, db, "attempts"), countRows(t, db, "outcomes")

			states := tt.states
			if states == nil {
				states = []OrderState{StateFailed, StateCancelled}
			}
			got, err := db.RetryOrders(ctx, tt.sel(l), states...)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := idsAndStates(got), tt.want(l); !slices.Equal(g, w) {
				t.Fatalf("RetryOrders changed %v, want %v", g, w)
			}
			changed := map[int64]bool{}
			for _, o := range got {
				changed[o.ID] = true
				if o != before[o.ID] {
					t.Errorf("returned order %d = %+v, want it as it was: %+v", o.ID, o, before[o.ID])
				}
			}
			for id, b := range before {
				a := orderByID(t, db, id)
				if !changed[id] {
					if a != b {
						t.Errorf("order %d changed though not retried:\n got %+v\nwant %+v", id, a, b)
					}
					continue
				}
				want := b
				want.State, want.InfraFailures = StateUnassigned, 0
				want.Host, want.Slot, want.RunDir, want.PID, want.Dispatcher = "", "", "", 0, ""
				want.AssignedAt, want.StartedAt, want.FinishedAt = time.Time{}, time.Time{}, time.Time{}
				if a != want {
					t.Errorf("order %d after retry:\n got %+v\nwant %+v", id, a, want)
				}
			}
			if n := countRows(t, db, "attempts"); n != beforeAttempts {
				t.Errorf("attempts rows %d, want %d kept", n, beforeAttempts)
			}
			if n := countRows(t, db, "outcomes"); n != beforeOutcomes {
				t.Errorf("outcomes rows %d, want %d kept", n, beforeOutcomes)
			}
		})
	}
}

// TestRetryStartsNextAttempt: a retried order is claimed at its next
// attempt, and its infrastructure failure count starts over.
func TestRetryStartsNextAttempt(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	sub := mustSubmit(t, db, "p", 0)
	c := mustClaim(t, db, "h")
	if err := db.ReleaseOrder(ctx, c.Order.ID, 1, "ssh down"); err != nil {
		t.Fatal(err)
	}
	c = mustClaim(t, db, "h")
	if err := db.FailOrder(ctx, c.Order.ID, 2, "too many infrastructure errors"); err != nil {
		t.Fatal(err)
	}
	if o := orderByID(t, db, c.Order.ID); o.InfraFailures != 1 || o.State != StateFailed {
		t.Fatalf("order before retry = %+v", o)
	}
	got, err := db.RetryOrders(ctx, Selection{JobIDs: []int64{sub[0].JobID}}, StateFailed)
	if err != nil || len(got) != 1 {
		t.Fatalf("RetryOrders = %v, %v", got, err)
	}
	if o := orderByID(t, db, c.Order.ID); o.InfraFailures != 0 || o.State != StateUnassigned || o.Attempt != 2 {
		t.Errorf("order after retry = %+v, want unassigned at attempt 2 with no infra failures", o)
	}
	c3 := mustClaim(t, db, "h2")
	if c3.Order.ID != c.Order.ID || c3.Order.Attempt != 3 || c3.Order.Host != "h2" {
		t.Errorf("claim after retry = %+v, want order %d at attempt 3", c3.Order, c.Order.ID)
	}
	atts, err := db.Attempts(ctx, c.Order.ID)
	if err != nil || len(atts) != 3 {
		t.Fatalf("attempts = %+v, %v; want 3", atts, err)
	}
	if atts[0].State != StateFailed || atts[1].State != StateFailed || atts[2].State != StateAssigned {
		t.Errorf("attempt states %s %s %s, want failed failed assigned", atts[0].State, atts[1].State, atts[2].State)
	}
}

// TestRetryOrdersAll: every project's failed orders are queued again in one
// call, project by project and by id within each, and nothing else is.
func TestRetryOrdersAll(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	mustSubmit(t, db, "zeta", 0)
	mustSubmit(t, db, "alpha", 0, 0)
	mustSubmit(t, db, "zeta", 0)
	for range 4 {
		c := mustClaim(t, db, "h")
		if err := db.FailOrder(ctx, c.Order.ID, c.Order.Attempt, "boom"); err != nil {
			t.Fatal(err)
		}
	}
	mustSubmit(t, db, "alpha", 0) // unassigned: left alone
	got, err := db.RetryOrders(ctx, Selection{All: true}, StateFailed)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, o := range got {
		ids = append(ids, o.ID)
	}
	if want := []int64{2, 3, 1, 4}; !slices.Equal(ids, want) {
		t.Fatalf("RetryOrders(All) queued %v, want %v (alpha's, then zeta's)", ids, want)
	}
	if o := orderByID(t, db, 5); o.State != StateUnassigned || o.Attempt != 0 {
		t.Errorf("order 5 = %+v, want untouched", o)
	}
	if again, err := db.RetryOrders(ctx, Selection{All: true}, StateFailed); err != nil || len(again) != 0 {
		t.Errorf("second RetryOrders(All) = %v, %v; want nothing", idsAndStates(again), err)
	}
}

// TestSelectionMissing: the named ids no order matches, job or order ids
// as the selection names them.
func TestSelectionMissing(t *testing.T) {
	orders := []Order{{ID: 10, JobID: 1}, {ID: 11, JobID: 2}}
	tests := []struct {
		name string
		sel  Selection
		want []int64
	}{
		{"jobs", Selection{JobIDs: []int64{3, 1, 4}}, []int64{3, 4}},
		{"orders", Selection{OrderIDs: []int64{11, 1}}, []int64{1}},
		{"all matched", Selection{JobIDs: []int64{2}, Project: "p"}, nil},
		{"all", Selection{All: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.sel.Missing(orders); !slices.Equal(got, tt.want) {
				t.Errorf("Missing = %v, want %v", got, tt.want)
			}
		})
	}
}
