package db

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/mljob/mljob/internal/prune"
)

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

func TestRecordOutcomeIdempotent(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	sub := mustSubmit(t, db, "p", 0)
	c := mustClaim(t, db, "gpu1")
	if err := db.MarkRunning(ctx, c.Order.ID, 1, "/r", 9); err != nil {
		t.Fatal(err)
	}

	first := Outcome{
		OrderID: c.Order.ID, Attempt: 1, Succeeded: true, Status: ptr(0), Loss: ptr(0.25), Metric: ptr(0.9),
		ExitCode: ptr(0), DurationSeconds: 12.5, JSON: []byte(`{"status": 0, "loss": 0.25}`),
		StdoutTail: "epoch 10\n", StderrTail: "warn\n", Warning: `"metric" is not a number`,
	}
	recorded, err := db.RecordOutcome(ctx, first)
	if err != nil || !recorded {
		t.Fatalf("first RecordOutcome = %v, %v; want true, nil", recorded, err)
	}
	afterFirst := mustOrder(t, db, sub[0].JobID)

	second := Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: false, Error: "retry", ExitCode: ptr(1)}
	recorded, err = db.RecordOutcome(ctx, second)
	if err != nil || recorded {
		t.Fatalf("second RecordOutcome = %v, %v; want false, nil", recorded, err)
	}

	o := mustOrder(t, db, sub[0].JobID)
	if o != afterFirst || o.State != StateSucceeded || o.LastError != "" || o.FinishedAt.IsZero() {
		t.Errorf("order after second record = %+v, want unchanged succeeded %+v", o, afterFirst)
	}
	rows, err := db.Outcomes(ctx, OutcomeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("got %d outcomes, want 1", len(rows))
	}
	got := rows[0]
	if !got.Succeeded || got.JobID != sub[0].JobID || got.Host != "gpu1" || *got.Status != 0 || *got.Loss != 0.25 ||
		*got.Metric != 0.9 || *got.ExitCode != 0 || got.DurationSeconds != 12.5 || got.Error != "" ||
		!bytes.Equal(got.JSON, first.JSON) || got.StdoutTail != first.StdoutTail || got.StderrTail != first.StderrTail ||
		got.Project != "p" || string(got.Spec) != `{"projectName":"p"}` || got.Warning != first.Warning {
		t.Errorf("outcome = %+v, want the first one", got)
	}
	atts, err := db.Attempts(ctx, c.Order.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 1 || atts[0].State != StateSucceeded || atts[0].ExitCode == nil || *atts[0].ExitCode != 0 {
		t.Errorf("attempts = %+v, want one succeeded with exit code 0", atts)
	}
}

func TestRecordOutcomeForOldAttempt(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	sub := mustSubmit(t, db, "p", 0)
	c := mustClaim(t, db, "gpu1")
	if err := db.ReleaseOrder(ctx, c.Order.ID, 1, "ssh: handshake failed"); err != nil {
		t.Fatal(err)
	}
	mustClaim(t, db, "gpu2")
	before := mustOrder(t, db, sub[0].JobID)

	// The first attempt did run after all and reports late.
	recorded, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: true, Loss: ptr(0.1)})
	if err != nil || !recorded {
		t.Fatalf("RecordOutcome(attempt 1) = %v, %v; want true, nil", recorded, err)
	}
	if after := mustOrder(t, db, sub[0].JobID); after != before {
		t.Errorf("order changed by an old attempt's outcome:\n got %+v\nwant %+v", after, before)
	}
	atts, err := db.Attempts(ctx, c.Order.ID)
	if err != nil {
		t.Fatal(err)
	}
	if atts[0].State != StateFailed || atts[0].Error != "ssh: handshake failed" {
		t.Errorf("released attempt = %+v, want it to stay failed", atts[0])
	}

	recorded, err = db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 2, Succeeded: false, Error: "exit 1"})
	if err != nil || !recorded {
		t.Fatalf("RecordOutcome(attempt 2) = %v, %v; want true, nil", recorded, err)
	}
	o := mustOrder(t, db, sub[0].JobID)
	if o.State != StateFailed || o.Attempt != 2 || o.LastError != "exit 1" {
		t.Errorf("order = %+v, want failed at attempt 2 with last error", o)
	}
	if n := countRows(t, db, "outcomes"); n != 2 {
		t.Errorf("outcomes has %d rows, want 2", n)
	}
}

func TestRecordOutcomeErrors(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	sub := mustSubmit(t, db, "p", 0, 0)
	c := mustClaim(t, db, "h")
	tests := []struct {
		name string
		o    Outcome
		want error
	}{
		{name: "unknown order", o: Outcome{OrderID: 999, Attempt: 1}, want: ErrOrderNotFound},
		{name: "attempt never claimed", o: Outcome{OrderID: c.Order.ID, Attempt: 2}, want: ErrStaleAttempt},
		{name: "attempt zero", o: Outcome{OrderID: c.Order.ID, Attempt: 0}, want: ErrStaleAttempt},
		{name: "order never claimed", o: Outcome{OrderID: sub[1].OrderID, Attempt: 1}, want: ErrStaleAttempt},
		{name: "wrong job", o: Outcome{OrderID: c.Order.ID, Attempt: 1, JobID: sub[1].JobID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recorded, err := db.RecordOutcome(ctx, tt.o)
			if err == nil || recorded || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("RecordOutcome = %v, %v; want false, %v", recorded, err, tt.want)
			}
		})
	}
	if n := countRows(t, db, "outcomes"); n != 0 {
		t.Errorf("outcomes has %d rows, want 0", n)
	}
}

func TestFailOrder(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	sub := mustSubmit(t, db, "p", 0)
	c := mustClaim(t, db, "gpu1")
	const reason = "host lost 3 times"
	for i := range 2 { // the second call is a no-op
		if err := db.FailOrder(ctx, c.Order.ID, 1, reason); err != nil {
			t.Fatalf("FailOrder call %d: %v", i+1, err)
		}
	}
	o := mustOrder(t, db, sub[0].JobID)
	if o.State != StateFailed || o.LastError != reason {
		t.Errorf("order = %+v, want failed with %q", o, reason)
	}
	rows, err := db.Outcomes(ctx, OutcomeFilter{JobID: sub[0].JobID})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Succeeded || rows[0].Error != reason || rows[0].JSON != nil || rows[0].Host != "gpu1" ||
		rows[0].Loss != nil || rows[0].ExitCode != nil {
		t.Errorf("outcomes = %+v, want one failed outcome with the reason", rows)
	}
}

func TestOutcomesFilterAndSort(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	// Outcome ids follow this order: wine a..d, then iris e.
	type res struct {
		name         string
		project      string
		loss, metric *float64
		succeeded    bool
	}
	results := []res{
		{"a", "wine", ptr(0.5), ptr(0.7), true},
		{"b", "wine", nil, ptr(0.9), false},
		{"c", "wine", ptr(0.1), nil, true},
		{"d", "wine", ptr(0.3), ptr(0.8), true},
		{"e", "iris", ptr(0.2), ptr(0.95), true},
	}
	jobOf := map[int64]string{} // job id -> result name
	for _, r := range results {
		sub := mustSubmit(t, db, r.project, 0)
		c := mustClaim(t, db, "h")
		jobOf[sub[0].JobID] = r.name
		_, err := db.RecordOutcome(ctx, Outcome{
			OrderID: c.Order.ID, Attempt: 1, Succeeded: r.succeeded, Loss: r.loss, Metric: r.metric,
			JSON: []byte(`{"name":"` + r.name + `"}`),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wineJobC := int64(0)
	for id, name := range jobOf {
		if name == "c" {
			wineJobC = id
		}
	}

	tests := []struct {
		name string
		f    OutcomeFilter
		want []string
	}{
		{name: "all by id", f: OutcomeFilter{}, want: []string{"a", "b", "c", "d", "e"}},
		{name: "loss ascending, null last", f: OutcomeFilter{Sort: "loss"}, want: []string{"c", "e", "d", "a", "b"}},
		{name: "loss descending, null last", f: OutcomeFilter{Sort: "-loss"}, want: []string{"a", "d", "e", "c", "b"}},
		{name: "metric ascending, null last", f: OutcomeFilter{Sort: "metric"}, want: []string{"a", "d", "b", "e", "c"}},
		{name: "metric descending, null last", f: OutcomeFilter{Sort: "-metric"}, want: []string{"e", "b", "d", "a", "c"}},
		{name: "limit", f: OutcomeFilter{Sort: "loss", Limit: 2}, want: []string{"c", "e"}},
		{name: "project", f: OutcomeFilter{Project: "wine", Sort: "loss"}, want: []string{"c", "d", "a", "b"}},
		{name: "project and limit", f: OutcomeFilter{Project: "wine", Sort: "-metric", Limit: 1}, want: []string{"b"}},
		{name: "job", f: OutcomeFilter{JobID: wineJobC}, want: []string{"c"}},
		{name: "unknown project", f: OutcomeFilter{Project: "nope"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := db.Outcomes(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				name := jobOf[r.JobID]
				got = append(got, name)
				if want := `{"name":"` + name + `"}`; string(r.JSON) != want {
					t.Errorf("outcome %s JSON = %q, want %q", name, r.JSON, want)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Outcomes(%+v) = %v, want %v", tt.f, got, tt.want)
			}
		})
	}

	if _, err := db.Outcomes(ctx, OutcomeFilter{Sort: "loss; DROP TABLE jobs"}); err == nil {
		t.Error("Outcomes with an unknown sort succeeded, want an error")
	}
}

// filterJob is one job of TestOutcomeFilters' queue and its one outcome.
type filterJob struct {
	project   string
	sweep     string // "" for none
	succeeded bool
	// pruned: its pruner stops it (Prune) before its outcome is recorded.
	pruned bool
	loss   *float64
	metric *float64
}

// mustRunJobs submits jobs (each sweep name made once, in the order met),
// claims each in turn and records its outcome; it returns the sweep ids by
// name. Job i gets id i+1.
func mustRunJobs(tb testing.TB, db *DB, jobs []filterJob) map[string]int64 {
	tb.Helper()
	ctx := context.Background()
	sweeps := map[string]int64{}
	for _, j := range jobs {
		opts := SubmitOptions{}
		if j.sweep != "" && sweeps[j.sweep] == 0 {
			opts.Sweep = &NewSweep{Name: j.sweep, Project: j.project, Definition: []byte(`{}`)}
		}
		res, err := db.Submit(ctx, []NewJob{{Project: j.project, Script: "nn.py",
			Spec: []byte(`{"projectName":"` + j.project + `"}`)}}, opts)
		if err != nil {
			tb.Fatal(err)
		}
		if res.Sweep != nil {
			sweeps[j.sweep] = res.Sweep.ID
		} else if j.sweep != "" {
			// Later jobs of a sweep join it directly: Submit makes a new
			// sweep per call.
			if _, err := db.sql.ExecContext(ctx, `UPDATE jobs SET sweep_id = ? WHERE id = ?`, sweeps[j.sweep], res.Jobs[0].JobID); err != nil {
				tb.Fatal(err)
			}
		}
	}
	for range jobs {
		c := mustClaim(tb, db, "h")
		j := jobs[c.Order.JobID-1]
		if j.pruned {
			if ok, err := db.Prune(ctx, Pruning{OrderID: c.Order.ID, Attempt: 1, Series: "",
				Decision: prune.Decision{Prune: true, Rung: 0, Step: 1, Value: 0.5, Cutoff: 0.4, Rank: 3, Of: 3},
				Reason:   "pruned at step 1 (rung 0)"}); !ok || err != nil {
				tb.Fatalf("Prune = %v, %v", ok, err)
			}
		}
		if _, err := db.RecordOutcome(ctx, Outcome{OrderID: c.Order.ID, Attempt: 1, Succeeded: j.succeeded,
			Loss: j.loss, Metric: j.metric}); err != nil {
			tb.Fatal(err)
		}
	}
	return sweeps
}

func TestOutcomeFilters(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	sweeps := mustRunJobs(t, db, []filterJob{
		{project: "a", sweep: "s1", succeeded: true, loss: ptr(0.5), metric: ptr(0.1)}, // 1
		{project: "a", sweep: "s1", succeeded: true, loss: ptr(0.2), metric: ptr(0.3)}, // 2
		{project: "a", sweep: "s1", succeeded: false, loss: nil, metric: ptr(0.9)},     // 3
		{project: "a", sweep: "s2", succeeded: true, loss: ptr(0.7), metric: nil},      // 4
		{project: "a", sweep: "s2", succeeded: false, loss: nil, metric: nil},          // 5
		{project: "a", succeeded: true, loss: ptr(0.9), metric: ptr(0.2)},              // 6
		{project: "a", succeeded: true, loss: ptr(0.1), metric: ptr(0.0)},              // 7
		{project: "b", succeeded: false, loss: ptr(3.0), metric: ptr(0.5)},             // 8
		{project: "b", sweep: "s3", succeeded: true, loss: nil, metric: nil},           // 9
		// Pruned with the best loss and metric of s1: it never wins.
		{project: "a", sweep: "s1", pruned: true, loss: ptr(0.05), metric: ptr(0.95)}, // 10
	})
	tests := []struct {
		name string
		f    OutcomeFilter
		want []int64 // job ids, in order
	}{
		{"all", OutcomeFilter{}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"sweep", OutcomeFilter{SweepID: sweeps["s1"]}, []int64{1, 2, 3, 10}},
		{"sweep and project", OutcomeFilter{SweepID: sweeps["s1"], Project: "b"}, nil},
		{"succeeded", OutcomeFilter{States: []string{OutcomeSucceeded}}, []int64{1, 2, 4, 6, 7, 9}},
		{"failed", OutcomeFilter{States: []string{OutcomeFailed}, Project: "a"}, []int64{3, 5}},
		{"both states", OutcomeFilter{States: []string{OutcomeFailed, OutcomeSucceeded}, SweepID: sweeps["s2"]}, []int64{4, 5}},
		{"failed in sweep sorted", OutcomeFilter{States: []string{"failed"}, SweepID: sweeps["s1"], Sort: "-metric"}, []int64{3}},
		{"pruned", OutcomeFilter{States: []string{OutcomePruned}}, []int64{10}},
		{"failed or pruned", OutcomeFilter{States: []string{OutcomePruned, OutcomeFailed}, SweepID: sweeps["s1"]}, []int64{3, 10}},
		{"succeeded or pruned", OutcomeFilter{States: []string{OutcomeSucceeded, OutcomePruned}, Project: "a", Sort: "loss"}, []int64{10, 7, 2, 1, 4, 6}},
		{"every state", OutcomeFilter{States: OutcomeStates, SweepID: sweeps["s1"]}, []int64{1, 2, 3, 10}},
		// One per (project, sweep); default loss ascending; s3 and job 5
		// have no loss, so s3 has no best.
		{"best by loss", OutcomeFilter{Best: true}, []int64{7, 2, 4, 8}},
		{"best by -metric", OutcomeFilter{Best: true, Sort: "-metric"}, []int64{3, 8, 6}},
		{"best of a project", OutcomeFilter{Best: true, Project: "a", Sort: "metric"}, []int64{7, 1}},
		{"best of succeeded", OutcomeFilter{Best: true, States: []string{"succeeded"}, Sort: "-metric"}, []int64{2, 6}},
		{"best with limit", OutcomeFilter{Best: true, Limit: 2}, []int64{7, 2}},
		{"best of a sweep", OutcomeFilter{Best: true, SweepID: sweeps["s2"]}, []int64{4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := db.Outcomes(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, r := range rows {
				got = append(got, r.JobID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("jobs = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("sweep id on rows", func(t *testing.T) {
		rows, err := db.Outcomes(ctx, OutcomeFilter{})
		if err != nil {
			t.Fatal(err)
		}
		want := []int64{sweeps["s1"], sweeps["s1"], sweeps["s1"], sweeps["s2"], sweeps["s2"], 0, 0, 0, sweeps["s3"], sweeps["s1"]}
		for i, r := range rows {
			if r.SweepID != want[i] {
				t.Errorf("job %d: SweepID = %d, want %d", r.JobID, r.SweepID, want[i])
			}
			if r.Pruned != (r.JobID == 10) {
				t.Errorf("job %d: Pruned = %v, want %v", r.JobID, r.Pruned, r.JobID == 10)
			}
		}
	})
	t.Run("unknown state", func(t *testing.T) {
		_, err := db.Outcomes(ctx, OutcomeFilter{States: []string{"cancelled"}})
		if !errors.Is(err, ErrUnknownOutcomeState) {
			t.Errorf("err = %v, want ErrUnknownOutcomeState", err)
		}
	})
}

// TestOutcomeSortsHaveOrders: every sort offered has its ORDER BY.
func TestOutcomeSortsHaveOrders(t *testing.T) {
	for _, k := range OutcomeSorts {
		if _, ok := outcomeSorts[k]; !ok || k == "" {
			t.Errorf("sort %q has no ORDER BY", k)
		}
	}
	if len(outcomeSorts) != len(OutcomeSorts)+1 {
		t.Errorf("outcomeSorts has %d orders, OutcomeSorts %d keys (+ the default)", len(outcomeSorts), len(OutcomeSorts))
	}
}
