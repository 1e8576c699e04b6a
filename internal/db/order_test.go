package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

func TestClaimOrderPriorityThenFIFO(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	// Submitted in this order; index i is job i.
	priorities := []int{0, 5, 0, 5, -1, 10, 0}
	sub := mustSubmit(t, db, "p", priorities...)
	wantJobs := []int{5, 1, 3, 0, 2, 6, 4}

	for i, j := range wantJobs {
		t.Run(fmt.Sprintf("claim %d", i), func(t *testing.T) {
			c := mustClaim(t, db, "h")
			if c.Order.ID != sub[j].OrderID || c.Job.ID != sub[j].JobID {
				t.Errorf("claimed order %d (job %d), want order %d (job %d, priority %d)",
					c.Order.ID, c.Job.ID, sub[j].OrderID, sub[j].JobID, priorities[j])
			}
			if c.Order.State != StateAssigned || c.Order.Attempt != 1 || c.Order.Host != "h" ||
				c.Order.Slot != "0" || c.Order.Dispatcher != "test-dispatcher" || c.Order.Project != "p" {
				t.Errorf("claimed order = %+v", c.Order)
			}
		})
	}
	c, err := db.ClaimOrder(ctx, "h", "0", "d")
	if err != nil || c != nil {
		t.Errorf("ClaimOrder on a drained queue = %+v, %v; want nil, nil", c, err)
	}
}

func TestClaimOrderEmpty(t *testing.T) {
	db := MustOpenDB(t)
	c, err := db.ClaimOrder(context.Background(), "h", "0", "d")
	if err != nil || c != nil {
		t.Errorf("ClaimOrder = %+v, %v; want nil, nil", c, err)
	}
	if n := countRows(t, db, "attempts"); n != 0 {
		t.Errorf("attempts has %d rows, want 0", n)
	}
}

func TestClaimOrderConcurrent(t *testing.T) {
	const orders, workers = 200, 8
	path := filepath.Join(t.TempDir(), "mljob.db")
	handles := []*DB{mustOpenPath(t, path), mustOpenPath(t, path)}
	prios := make([]int, orders)
	for i := range prios {
		prios[i] = i % 3
	}
	sub := mustSubmit(t, handles[0], "p", prios...)

	var mu sync.Mutex
	claimedBy := map[int64][]int{} // order id -> workers that got it; guarded by mu
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			db := handles[w%len(handles)]
			for {
				c, err := db.ClaimOrder(context.Background(), fmt.Sprintf("host%d", w), "0", "d")
				if err != nil {
					errs <- err
					return
				}
				if c == nil {
					return
				}
				mu.Lock()
				claimedBy[c.Order.ID] = append(claimedBy[c.Order.ID], w)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("worker: %v", err)
	}

	if len(claimedBy) != orders {
		t.Errorf("%d distinct orders claimed, want %d", len(claimedBy), orders)
	}
	for _, s := range sub {
		if got := claimedBy[s.OrderID]; len(got) != 1 {
			t.Errorf("order %d claimed by workers %v, want exactly one", s.OrderID, got)
		}
	}
	if n := countRows(t, handles[1], "attempts"); n != orders {
		t.Errorf("attempts has %d rows, want %d", n, orders)
	}
	if n, err := handles[1].CountUnassigned(context.Background()); err != nil || n != 0 {
		t.Errorf("CountUnassigned = %d, %v; want 0", n, err)
	}
}

func TestMarkRunning(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		setup   func(t *testing.T, db *DB, c *Claim) // after the claim
		orderID func(c *Claim) int64
		attempt int
		want    error
	}{
		{name: "current attempt", attempt: 1},
		{name: "wrong attempt", attempt: 2, want: ErrStaleAttempt},
		{name: "attempt zero", attempt: 0, want: ErrStaleAttempt},
		{name: "unknown order", attempt: 1, orderID: func(*Claim) int64 { return 999 }, want: ErrStaleAttempt},
		{name: "already running", attempt: 1, want: ErrStaleAttempt, setup: func(t *testing.T, db *DB, c *Claim) {
			if err := db.MarkRunning(ctx, c.Order.ID, 1, "/r", 1); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "released", attempt: 1, want: ErrStaleAttempt, setup: func(t *testing.T, db *DB, c *Claim) {
			if err := db.ReleaseOrder(ctx, c.Order.ID, 1, "ssh down"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "finished", attempt: 1, want: ErrStaleAttempt, setup: func(t *testing.T, db *DB, c *Claim) {
			if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: true}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			mustSubmit(t, db, "p", 0)
			c := mustClaim(t, db, "h")
			if tt.setup != nil {
				tt.setup(t, db, c)
			}
			before := mustOrder(t, db, c.Job.ID)
			id := c.Order.ID
			if tt.orderID != nil {
				id = tt.orderID(c)
			}

			err := db.MarkRunning(ctx, id, tt.attempt, "/w/runs/1-1", 4242)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("MarkRunning error = %v, want %v", err, tt.want)
			}
			after := mustOrder(t, db, c.Job.ID)
			atts, err := db.Attempts(ctx, c.Order.ID)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil {
				if after != before {
					t.Errorf("order changed by a stale MarkRunning:\n got %+v\nwant %+v", after, before)
				}
				return
			}
			if after.State != StateRunning || after.RunDir != "/w/runs/1-1" || after.PID != 4242 || after.StartedAt.IsZero() {
				t.Errorf("order = %+v, want running in /w/runs/1-1 as 4242", after)
			}
			if len(atts) != 1 || atts[0].State != StateRunning || atts[0].RunDir != after.RunDir || atts[0].PID != 4242 {
				t.Errorf("attempts = %+v, want one running attempt", atts)
			}
		})
	}
}

func TestReleaseOrder(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	sub := mustSubmit(t, db, "p", 0)
	c1 := mustClaim(t, db, "gpu1")
	if err := db.MarkRunning(ctx, c1.Order.ID, 1, "/r/1-1", 7); err != nil {
		t.Fatal(err)
	}
	if err := db.ReleaseOrder(ctx, c1.Order.ID, 1, "upload: connection reset"); err != nil {
		t.Fatal(err)
	}

	o := mustOrder(t, db, sub[0].JobID)
	if o.State != StateUnassigned || o.Attempt != 1 || o.Host != "" || o.Slot != "" || o.RunDir != "" || o.PID != 0 ||
		o.LastError != "upload: connection reset" {
		t.Errorf("released order = %+v", o)
	}
	if err := db.ReleaseOrder(ctx, c1.Order.ID, 1, "again"); !errors.Is(err, ErrStaleAttempt) {
		t.Errorf("second ReleaseOrder error = %v, want ErrStaleAttempt", err)
	}

	c2 := mustClaim(t, db, "gpu2")
	if c2.Order.ID != c1.Order.ID || c2.Order.Attempt != 2 || c2.Order.Host != "gpu2" || c2.Order.LastError != "" {
		t.Errorf("reclaimed order = %+v, want order %d at attempt 2 on gpu2", c2.Order, c1.Order.ID)
	}
	if err := db.ReleaseOrder(ctx, c1.Order.ID, 1, "late"); !errors.Is(err, ErrStaleAttempt) {
		t.Errorf("ReleaseOrder of the old attempt error = %v, want ErrStaleAttempt", err)
	}

	atts, err := db.Attempts(ctx, c1.Order.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		attempt int
		state   OrderState
		host    string
		err     string
	}{
		{1, StateFailed, "gpu1", "upload: connection reset"},
		{2, StateAssigned, "gpu2", ""},
	}
	if len(atts) != len(want) {
		t.Fatalf("got %d attempts, want %d: %+v", len(atts), len(want), atts)
	}
	for i, w := range want {
		a := atts[i]
		if a.Attempt != w.attempt || a.State != w.state || a.Host != w.host || a.Error != w.err {
			t.Errorf("attempt %d = %+v, want %+v", i+1, a, w)
		}
	}
	if atts[0].RunDir != "/r/1-1" || atts[0].PID != 7 || atts[0].FinishedAt.IsZero() {
		t.Errorf("released attempt lost its run: %+v", atts[0])
	}
}

func TestActiveOrdersAndStateCounts(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	mustSubmit(t, db, "wine", 0, 0, 0, 0)
	mustSubmit(t, db, "iris", 0, 0)
	// Claims go FIFO: wine orders 1..4 first.
	c1 := mustClaim(t, db, "h") // wine, stays assigned
	c2 := mustClaim(t, db, "h") // wine, running
	c3 := mustClaim(t, db, "h") // wine, succeeded
	if err := db.MarkRunning(ctx, c2.Order.ID, 1, "/r", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c3.Order.ID, Attempt: 1, Succeeded: true}); err != nil {
		t.Fatal(err)
	}

	active, err := db.ActiveOrders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, o := range active {
		ids = append(ids, o.ID)
		if o.Project != "wine" {
			t.Errorf("active order %d project = %q, want wine", o.ID, o.Project)
		}
	}
	if want := []int64{c1.Order.ID, c2.Order.ID}; !slices.Equal(ids, want) {
		t.Errorf("ActiveOrders ids = %v, want %v", ids, want)
	}

	counts, err := db.StateCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []StateCount{
		{"iris", StateUnassigned, 2},
		{"wine", StateUnassigned, 1},
		{"wine", StateAssigned, 1},
		{"wine", StateRunning, 1},
		{"wine", StateSucceeded, 1},
	}
	if !slices.Equal(counts, want) {
		t.Errorf("StateCounts = %v, want %v", counts, want)
	}
}

// TestClaimSkippingAndUnclaim: a host that cannot run a script passes over
// its orders; an unclaimed order waits again as if never claimed, with no
// attempt and no infrastructure loss counted.
func TestClaimSkippingAndUnclaim(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	sub, err := db.SubmitJobs(ctx, []NewJob{
		{Project: "p", Script: "nn.py", Spec: []byte(`{"a":1}`)},
		{Project: "p", Script: "echo.py", Spec: []byte(`{"a":2}`)},
		{Project: "p", Script: "nn.py", Spec: []byte(`{"a":3}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.ClaimOrderSkipping(ctx, "bad", "0", "d", []string{"nn.py", "other.py"})
	if err != nil || c == nil || c.Job.ID != sub[1].JobID {
		t.Fatalf("claim skipping nn.py = %+v, %v; want job %d", c, err, sub[1].JobID)
	}
	if c, err := db.ClaimOrderSkipping(ctx, "bad", "1", "d", []string{"nn.py"}); c != nil || err != nil {
		t.Fatalf("claim with only skipped scripts left = %+v, %v; want nothing", c, err)
	}
	scripts, err := db.UnassignedScripts(ctx)
	if err != nil || len(scripts) != 1 || scripts["nn.py"] != 2 {
		t.Errorf("UnassignedScripts = %v, %v; want nn.py: 2", scripts, err)
	}

	c = mustClaim(t, db, "bad")
	if c.Job.ID != sub[0].JobID || c.Order.Attempt != 1 {
		t.Fatalf("claim = %+v", c.Order)
	}
	if err := db.UnclaimOrder(ctx, c.Order.ID, 1, "bad: python3 cannot import torch"); err != nil {
		t.Fatal(err)
	}
	o := mustOrder(t, db, sub[0].JobID)
	if o.State != StateUnassigned || o.Attempt != 0 || o.InfraFailures != 0 || o.Host != "" || o.LastError != "bad: python3 cannot import torch" {
		t.Errorf("unclaimed order = %+v", o)
	}
	if atts, err := db.Attempts(ctx, o.ID); err != nil || len(atts) != 0 {
		t.Errorf("attempts of the unclaimed order = %+v, %v; want none", atts, err)
	}
	if err := db.UnclaimOrder(ctx, c.Order.ID, 1, "again"); !errors.Is(err, ErrStaleAttempt) {
		t.Errorf("second UnclaimOrder = %v, want ErrStaleAttempt", err)
	}
	if c2 := mustClaim(t, db, "good"); c2.Order.ID != o.ID || c2.Order.Attempt != 1 {
		t.Errorf("reclaimed = %+v, want order %d at attempt 1", c2.Order, o.ID)
	}
}

// TestClaimOrderFit: a claim takes the first order whose job asks no more
// GPUs than the host has free, or more than any host has (to be refused).
func TestClaimOrderFit(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	sub, err := db.SubmitJobs(ctx, []NewJob{
		{Project: "p", Script: "a.py", Spec: []byte(`{"gpus":2}`)},
		{Project: "p", Script: "a.py", Spec: []byte(`{"gpus":1}`)},
		{Project: "p", Script: "a.py", Spec: []byte(`{"gpus":8}`)},
		{Project: "p", Script: "a.py", Spec: []byte(`{"x":1}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	job := func(i int) int64 { return sub[i].JobID }
	steps := []struct {
		name string
		fit  GPUFit
		want int64 // 0: nothing to claim
	}{
		{"one gpu free passes the two-gpu job", GPUFit{Free: 1, Most: 4}, job(1)},
		{"no host has eight: claimed to be refused", GPUFit{Free: 1, Most: 4}, job(2)},
		{"two free", GPUFit{Free: 2, Most: 4}, job(0)},
		{"no gpus asked: any host", GPUFit{Free: 0, Most: 4}, job(3)},
		{"dry", GPUFit{Free: 4, Most: 4}, 0},
	}
	for _, s := range steps {
		fit := s.fit
		c, err := db.ClaimOrderFit(ctx, "h", "0", "d", nil, &fit)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got := int64(0)
		if c != nil {
			got = c.Job.ID
		}
		if got != s.want {
			t.Fatalf("%s: claimed job %d, want %d", s.name, got, s.want)
		}
	}
	o := mustOrder(t, db, job(0))
	if err := db.SetSlot(ctx, o.ID, o.Attempt, "0+1"); err != nil {
		t.Fatal(err)
	}
	if o := mustOrder(t, db, job(0)); o.Slot != "0+1" {
		t.Errorf("slot after SetSlot = %q, want 0+1", o.Slot)
	}
	if err := db.SetSlot(ctx, o.ID, o.Attempt+1, "2+3"); !errors.Is(err, ErrStaleAttempt) {
		t.Errorf("SetSlot of another attempt = %v, want ErrStaleAttempt", err)
	}
}
