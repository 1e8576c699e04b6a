package db

import (
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// TestStatus: every state is counted for each project, zero included; the
// active orders come by id with when their attempt began; host statuses by
// name.
func TestStatus(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	claimed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	started := claimed.Add(time.Minute)
	db.Now = func() time.Time { return claimed }

	empty, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(empty.Projects) != 0 || len(empty.Active) != 0 || len(empty.HostStatus) != 0 {
		t.Errorf("empty queue: %+v", empty)
	}

	var jobs []NewJob
	for _, p := range []string{"b", "a", "b", "b"} {
		jobs = append(jobs, NewJob{Project: p, Script: "s.py", Spec: []byte(`{"projectName":"` + p + `","x":` + strconv.Itoa(len(jobs)) + `}`)})
	}
	if _, err := db.SubmitJobs(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	first, err := db.ClaimOrder(ctx, "h1", "0", "d")
	if err != nil || first == nil {
		t.Fatalf("claim: %v, %v", first, err)
	}
	second, err := db.ClaimOrder(ctx, "h2", "0", "d")
	if err != nil || second == nil {
		t.Fatalf("claim: %v, %v", second, err)
	}
	db.Now = func() time.Time { return started }
	if err := db.MarkRunning(ctx, second.Order.ID, second.Order.Attempt, "/w/2", 7); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveHost(ctx, "h1", []byte(`{}`), "down", nil, "gone", true); err != nil {
		t.Fatal(err)
	}

	st, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	zero := func() map[OrderState]int {
		m := map[OrderState]int{}
		for _, s := range OrderStates {
			m[s] = 0
		}
		return m
	}
	// The claims took the oldest orders: job 1 (b, assigned) and job 2
	// (a, running).
	a, b := zero(), zero()
	a[StateRunning] = 1
	b[StateAssigned], b[StateUnassigned] = 1, 2
	want := []ProjectCounts{{Project: "a", Counts: a, Total: 1}, {Project: "b", Counts: b, Total: 3}}
	if !reflect.DeepEqual(st.Projects, want) {
		t.Errorf("Projects = %+v, want %+v", st.Projects, want)
	}
	if len(st.Active) != 2 || st.Active[0].ID != first.Order.ID || st.Active[1].ID != second.Order.ID {
		t.Fatalf("Active = %+v, want orders %d and %d", st.Active, first.Order.ID, second.Order.ID)
	}
	if got := st.Active[0].Since(); !got.Equal(claimed) {
		t.Errorf("Since of an assigned order = %v, want its claim %v", got, claimed)
	}
	if got := st.Active[1].Since(); !got.Equal(started) {
		t.Errorf("Since of a running order = %v, want its start %v", got, started)
	}
	if !reflect.DeepEqual(st.HostStatus, map[string]string{"h1": "down"}) {
		t.Errorf("HostStatus = %v", st.HostStatus)
	}
}
