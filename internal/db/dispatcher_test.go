package db

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAdoptOrders(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	db.Now = func() time.Time { return now }
	if _, err := db.SubmitJobs(ctx, []NewJob{
		{Project: "p", Script: "s.py", Spec: []byte(`{"a":1}`)},
		{Project: "p", Script: "s.py", Spec: []byte(`{"a":2}`)},
		{Project: "p", Script: "s.py", Spec: []byte(`{"a":3}`)},
		{Project: "p", Script: "s.py", Spec: []byte(`{"a":4}`)},
	}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"dead", "live"} {
		if err := db.RegisterDispatcher(ctx, d, "laptop", 1); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(host, dispatcher string) *Claim {
		t.Helper()
		c, err := db.ClaimOrder(ctx, host, "0", dispatcher)
		if err != nil || c == nil {
			t.Fatalf("claim: %v %v", c, err)
		}
		return c
	}
	c1 := claim("h1", "dead") // running on h1 under a dead dispatcher: adopted
	if err := db.MarkRunning(ctx, c1.Order.ID, 1, "/w/runs/1-1", 42); err != nil {
		t.Fatal(err)
	}
	claim("h1", "live")  // its dispatcher lives: not adopted
	claim("h2", "dead")  // another host: not asked for
	claim("h1", "ghost") // never registered: adopted
	now = t0.Add(time.Minute)
	if err := db.Heartbeat(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	if err := db.RegisterDispatcher(ctx, "me", "laptop", 2); err != nil {
		t.Fatal(err)
	}
	got, err := db.AdoptOrders(ctx, "me", "h1", t0.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Order.ID != 1 || got[1].Order.ID != 4 {
		t.Fatalf("adopted %+v", got)
	}
	if got[0].Order.Dispatcher != "me" || got[0].Order.RunDir != "/w/runs/1-1" || got[0].Order.PID != 42 ||
		string(got[0].Job.Spec) != `{"a":1}` || got[0].Order.State != StateRunning {
		t.Fatalf("adopted order 1: %+v", got[0])
	}
	// Adopted orders are ours now: a second dispatcher gets nothing.
	if again, err := db.AdoptOrders(ctx, "other", "h1", t0.Add(30*time.Second)); err != nil || len(again) != 0 {
		t.Fatalf("adopted twice: %+v %v", again, err)
	}
	// A stopped dispatcher's orders are adoptable at once.
	if err := db.StopDispatcher(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	got, err = db.AdoptOrders(ctx, "me", "h1", t0)
	if err != nil || len(got) != 1 || got[0].Order.ID != 2 {
		t.Fatalf("after stop: %+v %v", got, err)
	}
	live, err := db.Dispatchers(ctx)
	if err != nil || len(live) != 2 || live[0].ID != "dead" || live[1].ID != "me" {
		t.Fatalf("dispatchers %+v %v", live, err)
	}
}

func TestReleaseCountsInfraFailures(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	if _, err := db.SubmitJobs(ctx, []NewJob{{Project: "p", Script: "s.py", Spec: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		c, err := db.ClaimOrder(ctx, "h", "0", "d")
		if err != nil || c == nil || c.Order.InfraFailures != i-1 {
			t.Fatalf("claim %d: %+v %v", i, c, err)
		}
		if err := db.ReleaseOrder(ctx, c.Order.ID, c.Order.Attempt, "lost"); err != nil {
			t.Fatal(err)
		}
	}
	orders, _ := db.OrdersForJob(ctx, 1)
	if orders[0].InfraFailures != 2 || orders[0].State != StateUnassigned {
		t.Fatalf("order %+v", orders[0])
	}
	states, err := db.OrderStates(ctx, []int64{1, 99})
	if err != nil || len(states) != 1 || states[1].State != StateUnassigned || states[1].Attempt != 2 || states[1].AttemptState != StateFailed {
		t.Fatalf("states %+v %v", states, err)
	}
}

// TestOrderStatesManyIDs asks for more ids than one query takes: every
// chunk is read, and ids with no order are left out.
func TestOrderStatesManyIDs(t *testing.T) {
	db := MustOpenDB(t)
	sub := mustSubmit(t, db, "p", make([]int, 1201)...)
	ids := []int64{99999}
	for _, s := range sub {
		ids = append(ids, s.OrderID)
	}
	states, err := db.OrderStates(context.Background(), append(ids, 99998))
	if err != nil || len(states) != len(sub) {
		t.Fatalf("OrderStates = %d states, %v; want %d", len(states), err, len(sub))
	}
	for _, s := range sub {
		if st := states[s.OrderID]; st.ID != s.OrderID || st.State != StateUnassigned {
			t.Fatalf("order %d: %+v", s.OrderID, st)
		}
	}
}

func TestSaveHost(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return t0 }
	load := 1.5
	if err := db.SaveHost(ctx, "gpu1", []byte(`{"address":"10.0.0.5"}`), "up", &load, "", true); err != nil {
		t.Fatal(err)
	}
	db.Now = func() time.Time { return t0.Add(time.Hour) }
	if err := db.SaveHost(ctx, "gpu1", []byte(`{"address":"10.0.0.6"}`), "down", nil, "dial: refused", false); err != nil {
		t.Fatal(err)
	}
	h, err := db.Host(ctx, "gpu1")
	if err != nil {
		t.Fatal(err)
	}
	if string(h.Config) != `{"address":"10.0.0.6"}` || h.Status != "down" || h.Load == nil || *h.Load != 1.5 ||
		h.LastError != "dial: refused" || !h.SeenAt.Equal(t0) || !h.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("host %+v", h)
	}
	if _, err := db.Host(ctx, "nope"); !errors.Is(err, ErrHostNotFound) {
		t.Fatalf("unknown host: %v", err)
	}
	all, err := db.Hosts(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("hosts %+v %v", all, err)
	}
}

func TestQueueID(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := mustOpenPath(t, dir+"/a.db")
	b := mustOpenPath(t, dir+"/b.db")
	if len(a.QueueID()) != 8 || a.QueueID() == b.QueueID() {
		t.Fatalf("queue ids %q, %q: want 8 hex digits, different per file", a.QueueID(), b.QueueID())
	}
	again, err := Open(ctx, dir+"/a.db")
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.QueueID() != a.QueueID() {
		t.Fatalf("queue id changed on reopen: %q → %q", a.QueueID(), again.QueueID())
	}
}
