package db

import (
	"context"
	"testing"
	"time"
)

// TestSaveHostSince: Since moves only when the status changes.
func TestSaveHostSince(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		name      string
		status    string
		seen      bool
		wantSince time.Time
	}{
		{name: "first save", status: "up", seen: true, wantSince: t0},
		{name: "still up", status: "up", seen: true, wantSince: t0},
		{name: "goes down", status: "down", wantSince: t0.Add(2 * time.Minute)},
		{name: "still down", status: "down", wantSince: t0.Add(2 * time.Minute)},
		{name: "back up", status: "up", seen: true, wantSince: t0.Add(4 * time.Minute)},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			now := t0.Add(time.Duration(i) * time.Minute)
			db.Now = func() time.Time { return now }
			if err := db.SaveHost(ctx, "gpu1", []byte(`{}`), st.status, nil, "", st.seen); err != nil {
				t.Fatal(err)
			}
			h, err := db.Host(ctx, "gpu1")
			if err != nil {
				t.Fatal(err)
			}
			if h.Status != st.status || !h.Since.Equal(st.wantSince) || !h.UpdatedAt.Equal(now) {
				t.Errorf("status %q since %v updated %v; want %q since %v updated %v",
					h.Status, h.Since, h.UpdatedAt, st.status, st.wantSince, now)
			}
		})
	}
}

// TestSaveHostSinceUnknownBeforeV6: a row saved before schema v6 has no
// since; an unchanged status leaves it unknown rather than inventing one.
func TestSaveHostSinceUnknownBeforeV6(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	if err := db.SaveHost(ctx, "old", []byte(`{}`), "up", nil, "", true); err != nil {
		t.Fatal(err)
	}
	if _, err := db.sql.ExecContext(ctx, `UPDATE hosts SET status_since = NULL`); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveHost(ctx, "old", []byte(`{}`), "up", nil, "", true); err != nil {
		t.Fatal(err)
	}
	h, err := db.Host(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if !h.Since.IsZero() {
		t.Errorf("since = %v, want zero (unknown)", h.Since)
	}
}

// TestHostRuns counts attempts per host in every state and averages the
// run time of finished ones only.
func TestHostRuns(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) { db.Now = func() time.Time { return t0.Add(d) } }

	mustSubmit(t, db, "p", 0, 0, 0, 0, 0)
	// gpu1: one success that ran 10s, one failure that ran 20.5s, one running.
	at(0)
	ok := mustClaim(t, db, "gpu1")
	bad := mustClaim(t, db, "gpu1")
	running := mustClaim(t, db, "gpu1")
	for _, c := range []*Claim{ok, bad, running} {
		if err := db.MarkRunning(ctx, c.Order.ID, c.Order.Attempt, "/run", 1); err != nil {
			t.Fatal(err)
		}
	}
	at(10 * time.Second)
	if _, err := db.RecordOutcome(ctx, Outcome{OrderID: ok.Order.ID, Attempt: ok.Order.Attempt, Succeeded: true}); err != nil {
		t.Fatal(err)
	}
	at(20500 * time.Millisecond)
	if err := db.FailOrder(ctx, bad.Order.ID, bad.Order.Attempt, "boom"); err != nil {
		t.Fatal(err)
	}
	// gpu2: claimed but never started, then failed: counted, not timed.
	at(time.Minute)
	never := mustClaim(t, db, "gpu2")
	if err := db.FailOrder(ctx, never.Order.ID, never.Order.Attempt, "upload failed"); err != nil {
		t.Fatal(err)
	}

	got, err := db.HostRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []HostRuns{
		{Host: "gpu1", Runs: 3, Succeeded: 1, Failed: 1, Active: 1, Timed: 2, MeanRun: 15250 * time.Millisecond, LastRun: t0},
		{Host: "gpu2", Runs: 1, Failed: 1, LastRun: t0.Add(time.Minute)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		t.Run(want[i].Host, func(t *testing.T) {
			g := got[i]
			if !g.LastRun.Equal(want[i].LastRun) {
				t.Errorf("LastRun = %v, want %v", g.LastRun, want[i].LastRun)
			}
			g.LastRun = want[i].LastRun
			if g != want[i] {
				t.Errorf("got %+v, want %+v", g, want[i])
			}
		})
	}
}

// TestHostRunsEmpty: no attempts, no rows, no error.
func TestHostRunsEmpty(t *testing.T) {
	got, err := MustOpenDB(t).HostRuns(context.Background())
	if err != nil || len(got) != 0 {
		t.Fatalf("HostRuns = %+v, %v; want none", got, err)
	}
}

// TestMigrationBlanksEnvValues: host entries saved before version 8 kept
// their env values (API keys); the step blanks them and keeps the keys.
func TestMigrationBlanksEnvValues(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	cfg := `{"Name":"h","Env":[{"Key":"API_KEY","Value":"s3cret"},{"Key":"B","Value":"x"}],"Slots":1}`
	if err := db.SaveHost(ctx, "h", []byte(cfg), "up", nil, "", true); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveHost(ctx, "noenv", []byte(`{"Name":"noenv","Env":null}`), "up", nil, "", true); err != nil {
		t.Fatal(err)
	}
	steps, err := parseSchema(schemaSQL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.sql.ExecContext(ctx, steps[7].sql); err != nil {
		t.Fatal(err)
	}
	h, err := db.Host(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Name":"h","Env":[{"Key":"API_KEY","Value":""},{"Key":"B","Value":""}],"Slots":1}`
	if string(h.Config) != want {
		t.Errorf("config after step 8 = %s, want %s", h.Config, want)
	}
	n, err := db.Host(ctx, "noenv")
	if err != nil || string(n.Config) != `{"Name":"noenv","Env":null}` {
		t.Errorf("entry without env after step 8 = %s, %v; want it unchanged", n.Config, err)
	}
}
