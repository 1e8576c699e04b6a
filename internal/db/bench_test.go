package db

import (
	"context"
	"fmt"
	"testing"
)

// benchBatch is how many jobs the setup helpers submit per transaction.
const benchBatch = 10_000

// benchJobs returns n jobs with spread priorities and a realistic spec.
func benchJobs(n int) []NewJob {
	jobs := make([]NewJob, n)
	for i := range jobs {
		jobs[i] = NewJob{
			Project: fmt.Sprintf("sweep%d", i%4), Script: "nn.py", DataFile: "wine.csv", Priority: i % 3,
			Spec: fmt.Appendf(nil, `{"projectName":"sweep%d","scriptName":"nn.py","lr":%g,"hidden":[64,32]}`, i%4, float64(i%100)/1000),
		}
	}
	return jobs
}

// queueJobs submits n jobs in batches and returns their ids.
func queueJobs(tb testing.TB, db *DB, n int) []Submitted {
	tb.Helper()
	out := make([]Submitted, 0, n)
	for len(out) < n {
		sub, err := db.SubmitJobs(context.Background(), benchJobs(min(benchBatch, n-len(out))))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, sub...)
	}
	return out
}

// seedClaimed queues n jobs and puts their orders at attempt 1, running, in
// one transaction: claiming them one by one would take most of the
// benchmark's time.
func seedClaimed(tb testing.TB, db *DB, n int) []Submitted {
	tb.Helper()
	sub := queueJobs(tb, db, n)
	first, last := sub[0].OrderID, sub[len(sub)-1].OrderID
	err := db.withTx(context.Background(), func(tx *dbTx) error {
		now := formatTime(tx.now)
		if _, err := tx.Exec(`UPDATE orders SET state = 'running', attempt = 1, host = 'h', slot = '0',
			assigned_at = ?, started_at = ? WHERE id BETWEEN ? AND ?`, now, now, first, last); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO attempts (order_id, attempt, host, slot, state, assigned_at, started_at)
			SELECT id, 1, host, slot, state, assigned_at, started_at FROM orders WHERE id BETWEEN ? AND ?`, first, last)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return sub
}

func BenchmarkClaimOrder(b *testing.B) {
	for _, queued := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("queued=%d", queued), func(b *testing.B) {
			db := MustOpenDB(b)
			ctx := context.Background()
			queueJobs(b, db, queued)
			// Keep the queue between queued/2 and queued, refilling outside
			// the timer.
			left := queued
			for b.Loop() {
				if left <= queued/2 {
					b.StopTimer()
					queueJobs(b, db, queued/2)
					left += queued / 2
					b.StartTimer()
				}
				c, err := db.ClaimOrder(ctx, "h", "0", "bench")
				if err != nil || c == nil {
					b.Fatalf("ClaimOrder = %v, %v", c, err)
				}
				left--
			}
		})
	}
}

func BenchmarkSubmitJobs(b *testing.B) {
	const perOp = 10_000
	db := MustOpenDB(b)
	ctx := context.Background()
	jobs := benchJobs(perOp)
	for b.Loop() {
		if _, err := db.SubmitJobs(ctx, jobs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perOp), "ns/job")
}

func BenchmarkRecordOutcome(b *testing.B) {
	db := MustOpenDB(b)
	ctx := context.Background()
	var pool []Submitted
	for b.Loop() {
		if len(pool) == 0 {
			b.StopTimer()
			pool = seedClaimed(b, db, benchBatch)
			b.StartTimer()
		}
		s := pool[0]
		pool = pool[1:]
		ok, err := db.RecordOutcome(ctx, Outcome{
			OrderID: s.OrderID, Attempt: 1, Succeeded: true, Status: ptr(0), Loss: ptr(0.1), Metric: ptr(0.9),
			ExitCode: ptr(0), DurationSeconds: 60, JSON: []byte(`{"status":0,"loss":0.1,"metric":0.9}`),
			StdoutTail: "epoch 100: loss 0.1\n",
		})
		if err != nil || !ok {
			b.Fatalf("RecordOutcome = %v, %v", ok, err)
		}
	}
}

func BenchmarkOutcomesQuery(b *testing.B) {
	const outcomes = 100_000
	db := MustOpenDB(b)
	ctx := context.Background()
	seedClaimed(b, db, outcomes)
	// One transaction for all outcomes; about one in ten has no loss.
	err := db.withTx(ctx, func(tx *dbTx) error {
		_, err := tx.Exec(`INSERT INTO outcomes (order_id, attempt, job_id, host, succeeded, status, loss, metric,
				exit_code, duration_seconds, outcome_json, created_at)
			SELECT id, 1, job_id, 'h', 1, 0,
				CASE WHEN id % 10 = 0 THEN NULL ELSE abs(random() % 1000000) / 1e6 END,
				abs(random() % 1000000) / 1e6, 0, 60, '{"status":0}', ?
			FROM orders`, formatTime(tx.now))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("top=20", func(b *testing.B) {
		f := OutcomeFilter{Sort: "loss", Limit: 20}
		for b.Loop() {
			rows, err := db.Outcomes(ctx, f)
			if err != nil || len(rows) != 20 || rows[0].Loss == nil || *rows[0].Loss > *rows[19].Loss {
				b.Fatalf("Outcomes = %d rows, %v", len(rows), err)
			}
		}
	})
	// All rows in the default order, streamed: what mljob outcomes reads.
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			n, last := 0, int64(0)
			err := db.EachOutcome(ctx, OutcomeFilter{}, func(r *OutcomeRow) error {
				if r.JobID < last {
					return fmt.Errorf("job %d after job %d", r.JobID, last)
				}
				n, last = n+1, r.JobID
				return nil
			})
			if err != nil || n != outcomes {
				b.Fatalf("EachOutcome = %d rows, %v", n, err)
			}
		}
	})
}
