package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// OrderState is where an order (or one attempt of it) stands.
type OrderState string

// The states of an order. An order goes unassigned → assigned (claimed by a
// dispatcher for a host slot) → running (the script started) → succeeded,
// failed, cancelled or pruned (stopped early by its pruner: see Prune). A
// released attempt sends it back to unassigned.
const (
	StateUnassigned OrderState = "unassigned"
	StateAssigned   OrderState = "assigned"
	StateRunning    OrderState = "running"
	StateSucceeded  OrderState = "succeeded"
	StateFailed     OrderState = "failed"
	StateCancelled  OrderState = "cancelled"
	StatePruned     OrderState = "pruned"
)

// Order is the live state of one requested job. The host fields describe the
// current attempt; earlier attempts are kept as Attempt rows.
type Order struct {
	ID      int64
	JobID   int64
	Project string // from the job
	State   OrderState
	// Priority is copied from the job at submit time.
	Priority int
	// Attempt counts claims: 0 before the first, n during the n-th.
	Attempt    int
	Host       string
	Slot       string
	Dispatcher string
	RunDir     string
	PID        int
	LastError  string
	CreatedAt  time.Time
	AssignedAt time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	// InfraFailures counts attempts lost to infrastructure (ReleaseOrder)
	// since the order was last queued by hand.
	InfraFailures int
	// Slurm names the current attempt's Slurm task; nil when that attempt
	// was not handed to Slurm (see MarkSlurm).
	Slurm *SlurmTask
}

// Claim is what a dispatcher needs to run an attempt: the claimed order (at
// its new attempt) and its job.
type Claim struct {
	Order Order
	Job   Job
}

// Attempt is one claim of an order and what became of it.
type Attempt struct {
	OrderID    int64
	Attempt    int
	Host       string
	Slot       string
	Dispatcher string
	RunDir     string
	PID        int
	State      OrderState
	ExitCode   *int // nil if the script's exit code is unknown
	Error      string
	AssignedAt time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	// Slurm names the attempt's Slurm task; nil when the attempt was not
	// handed to Slurm (see MarkSlurm).
	Slurm *SlurmTask
}

// StateCount is the number of orders of one project in one state.
type StateCount struct {
	Project string
	State   OrderState
	Count   int
}

// orderReturning is the order column list, unqualified for RETURNING; it
// matches the order of scanOrder.
const orderReturning = `id, job_id, state, priority, attempt, host, slot, dispatcher, run_dir, pid,
	last_error, created_at, assigned_at, started_at, finished_at, infra_failures,
	sched_task, sched_state`

// orderSelect reads orders with their job's project, which scanOrder takes
// as its extra destination.
const orderSelect = `SELECT o.id, o.job_id, o.state, o.priority, o.attempt, o.host, o.slot, o.dispatcher,
	o.run_dir, o.pid, o.last_error, o.created_at, o.assigned_at, o.started_at, o.finished_at, o.infra_failures,
	o.sched_task, o.sched_state, j.project
	FROM orders o JOIN jobs j ON j.id = o.job_id`

// scanOrder reads the columns of orderReturning, then into extra.
func scanOrder(s scanner, extra ...any) (Order, error) {
	var o Order
	var host, slot, dispatcher, runDir, lastErr sql.NullString
	var pid sql.NullInt64
	var ts timeScanner
	var sc slurmScanner
	dest := []any{&o.ID, &o.JobID, &o.State, &o.Priority, &o.Attempt, &host, &slot, &dispatcher, &runDir, &pid,
		&lastErr, ts.col(&o.CreatedAt), ts.col(&o.AssignedAt), ts.col(&o.StartedAt), ts.col(&o.FinishedAt), &o.InfraFailures,
		&sc.task, &sc.state}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return Order{}, err
	}
	o.Host, o.Slot, o.Dispatcher, o.RunDir, o.LastError = host.String, slot.String, dispatcher.String, runDir.String, lastErr.String
	o.PID = int(pid.Int64)
	o.Slurm = sc.slurmTask()
	return o, ts.parse()
}

// scanOrders reads every row of an orderSelect query.
func scanOrders(rows *sql.Rows) ([]Order, error) {
	defer rows.Close()
	var out []Order
	for rows.Next() {
		var project string
		o, err := scanOrder(rows, &project)
		if err != nil {
			return nil, err
		}
		o.Project = project
		out = append(out, o)
	}
	return out, rows.Err()
}

// ClaimOrder assigns the highest-priority unassigned order (oldest first
// within a priority) to host and slot for dispatcher, starting its next
// attempt. It returns nil and no error when nothing is unassigned.
//
// Claims are safe across processes: each is one IMMEDIATE transaction whose
// single UPDATE picks and takes the order, so no order is handed out twice.
func (db *DB) ClaimOrder(ctx context.Context, host, slot, dispatcher string) (*Claim, error) {
	return db.ClaimOrderSkipping(ctx, host, slot, dispatcher, nil)
}

// ClaimOrderSkipping is ClaimOrder passing over the orders whose job runs
// one of the scripts in skip (those the host cannot run). It returns nil
// when no other order is unassigned.
func (db *DB) ClaimOrderSkipping(ctx context.Context, host, slot, dispatcher string, skip []string) (*Claim, error) {
	return db.ClaimOrderFit(ctx, host, slot, dispatcher, skip, nil)
}

// GPUFit says which orders a claim may take by their job's "gpus" (none
// counts as 0): those asking at most Free GPUs (the distinct GPUs free on
// the claiming host, 0 on a host without GPUs), and those asking more
// than Most, the most GPUs any host has, so that the dispatcher refuses
// them at once rather than leaving them queued for ever.
type GPUFit struct {
	Free, Most int
}

// ClaimOrderFit is ClaimOrderSkipping taking only the orders fit lets
// through (every order when fit is nil). The jobs of the orders passed
// over are each looked up, as with skip.
func (db *DB) ClaimOrderFit(ctx context.Context, host, slot, dispatcher string, skip []string, fit *GPUFit) (*Claim, error) {
	var c *Claim
	err := db.withTx(ctx, func(tx *dbTx) error {
		var err error
		c, err = claimOrder(ctx, tx, host, slot, dispatcher, skip, fit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim order: %w", err)
	}
	return c, nil
}

// claimOrder takes the order, opens its attempt row and reads its job.
func claimOrder(ctx context.Context, tx *dbTx, host, slot, dispatcher string, skip []string, fit *GPUFit) (*Claim, error) {
	now := formatTime(tx.now)
	// The orders of skipped scripts are walked past in the index's order,
	// each looked up in jobs: a claim costs one probe per order passed over.
	skipWhere := ""
	args := []any{nullString(host), nullString(slot), nullString(dispatcher), now}
	if len(skip) > 0 {
		skipWhere = ` AND (SELECT script FROM jobs WHERE jobs.id = orders.job_id) NOT IN (?` + strings.Repeat(", ?", len(skip)-1) + `)`
		for _, s := range skip {
			args = append(args, s)
		}
	}
	if fit != nil {
		// A job's "gpus" is a whole number (pyexec.ReadJob), or absent.
		skipWhere += ` AND (SELECT COALESCE(CAST(json_extract(spec, '$.gpus') AS INTEGER), 0) NOT BETWEEN ? + 1 AND ?
			FROM jobs WHERE jobs.id = orders.job_id)`
		args = append(args, fit.Free, fit.Most)
	}
	// INDEXED BY: without statistics the planner prefers orders_state and
	// sorts every unassigned order, making a claim linear in the queue
	// (22 ms at 100k queued); orders_claim yields the first row directly.
	o, err := scanOrder(tx.QueryRowContext(ctx, `
		UPDATE orders SET state = 'assigned', attempt = attempt + 1,
			host = ?, slot = ?, dispatcher = ?, assigned_at = ?,
			run_dir = NULL, pid = NULL, started_at = NULL, finished_at = NULL, last_error = NULL,
			sched_task = NULL, sched_state = NULL
		WHERE id = (SELECT id FROM orders INDEXED BY orders_claim
			WHERE state = 'unassigned'`+skipWhere+` ORDER BY priority DESC, id LIMIT 1)
		RETURNING `+orderReturning, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO attempts (order_id, attempt, host, slot, dispatcher, state, assigned_at)
		VALUES (?, ?, ?, ?, ?, 'assigned', ?)`,
		o.ID, o.Attempt, nullString(host), nullString(slot), nullString(dispatcher), now); err != nil {
		return nil, fmt.Errorf("order %d: insert attempt %d: %w", o.ID, o.Attempt, err)
	}
	j, err := findJob(ctx, tx, o.JobID)
	if err != nil {
		return nil, fmt.Errorf("order %d: job %d: %w", o.ID, o.JobID, err)
	}
	o.Project = j.Project
	return &Claim{Order: o, Job: j}, nil
}

// SetSlot records that the order's claimed attempt holds slot (a run
// taking several GPUs names them all). It returns ErrStaleAttempt unless
// the order is at that attempt and assigned.
func (db *DB) SetSlot(ctx context.Context, orderID int64, attempt int, slot string) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		res, err := tx.ExecContext(ctx, `UPDATE orders SET slot = ? WHERE id = ? AND attempt = ? AND state = 'assigned'`,
			slot, orderID, attempt)
		if err := requireOne(res, err); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `UPDATE attempts SET slot = ? WHERE order_id = ? AND attempt = ?`, slot, orderID, attempt)
		return requireOne(res, err)
	})
	if err != nil {
		return fmt.Errorf("order %d attempt %d: set slot: %w", orderID, attempt, err)
	}
	return nil
}

// MarkRunning records that the script of the order's attempt started in
// runDir as pid. It returns ErrStaleAttempt unless the order is at that
// attempt and assigned.
func (db *DB) MarkRunning(ctx context.Context, orderID int64, attempt int, runDir string, pid int) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		now := formatTime(tx.now)
		res, err := tx.ExecContext(ctx, `
			UPDATE orders SET state = 'running', run_dir = ?, pid = ?, started_at = ?
			WHERE id = ? AND attempt = ? AND state = 'assigned'`,
			nullString(runDir), nullInt(pid), now, orderID, attempt)
		if err := requireOne(res, err); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `
			UPDATE attempts SET state = 'running', run_dir = ?, pid = ?, started_at = ?
			WHERE order_id = ? AND attempt = ?`,
			nullString(runDir), nullInt(pid), now, orderID, attempt)
		return requireOne(res, err)
	})
	if err != nil {
		return fmt.Errorf("mark order %d attempt %d running: %w", orderID, attempt, err)
	}
	return nil
}

// ReleaseOrder gives back an attempt lost to infrastructure (an SSH or
// upload error before the script started, or a run lost with its host): the
// attempt is marked failed with reason, and the order goes back to
// unassigned with last_error set, InfraFailures+1 and its attempt counter
// kept, so the next claim starts attempt+1. It returns
// ErrStaleAttempt unless the order is at that attempt and assigned or
// running.
func (db *DB) ReleaseOrder(ctx context.Context, orderID int64, attempt int, reason string) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		now := formatTime(tx.now)
		// The host fields describe the attempt, which the attempts row keeps;
		// an unassigned order has none.
		res, err := tx.ExecContext(ctx, `
			UPDATE orders SET state = 'unassigned', last_error = ?, infra_failures = infra_failures + 1,
				host = NULL, slot = NULL, dispatcher = NULL, run_dir = NULL, pid = NULL,
				assigned_at = NULL, started_at = NULL, finished_at = NULL,
				sched_task = NULL, sched_state = NULL
			WHERE id = ? AND attempt = ? AND state IN ('assigned', 'running')`,
			nullString(reason), orderID, attempt)
		if err := requireOne(res, err); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `
			UPDATE attempts SET state = 'failed', error = ?, finished_at = ?
			WHERE order_id = ? AND attempt = ?`,
			nullString(reason), now, orderID, attempt)
		return requireOne(res, err)
	})
	if err != nil {
		return fmt.Errorf("release order %d attempt %d: %w", orderID, attempt, err)
	}
	return nil
}

// UnclaimOrder undoes the claim of an attempt that never reached its host
// (the host cannot run the job's script): the order goes back to
// unassigned at its previous attempt, with reason as its last error, and
// the attempt's row is deleted, so that nothing counts it as tried or lost.
// It returns ErrStaleAttempt unless the order is at that attempt and
// assigned.
func (db *DB) UnclaimOrder(ctx context.Context, orderID int64, attempt int, reason string) error {
	err := db.withTx(ctx, func(tx *dbTx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE orders SET state = 'unassigned', attempt = attempt - 1, last_error = ?,
				host = NULL, slot = NULL, dispatcher = NULL, run_dir = NULL, pid = NULL,
				assigned_at = NULL, started_at = NULL, finished_at = NULL,
				sched_task = NULL, sched_state = NULL
			WHERE id = ? AND attempt = ? AND state = 'assigned'`,
			nullString(reason), orderID, attempt)
		if err := requireOne(res, err); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `DELETE FROM attempts WHERE order_id = ? AND attempt = ? AND state = 'assigned'`, orderID, attempt)
		return requireOne(res, err)
	})
	if err != nil {
		return fmt.Errorf("unclaim order %d attempt %d: %w", orderID, attempt, err)
	}
	return nil
}

// UnassignedScripts returns how many unassigned orders wait for each
// script.
func (db *DB) UnassignedScripts(ctx context.Context) (map[string]int, error) {
	rows, err := db.sql.QueryContext(ctx, `
		SELECT j.script, COUNT(*) FROM orders o JOIN jobs j ON j.id = o.job_id
		WHERE o.state = 'unassigned' GROUP BY j.script`)
	if err != nil {
		return nil, fmt.Errorf("unassigned scripts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("unassigned scripts: %w", err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("unassigned scripts: %w", err)
	}
	return out, nil
}

// requireOne turns an update that matched no row into ErrStaleAttempt.
func requireOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrStaleAttempt
	}
	return nil
}

// OrdersForJob returns the orders of a job by id; none if the job does not
// exist.
func (db *DB) OrdersForJob(ctx context.Context, jobID int64) ([]Order, error) {
	rows, err := db.sql.QueryContext(ctx, orderSelect+` WHERE o.job_id = ? ORDER BY o.id`, jobID)
	if err != nil {
		return nil, fmt.Errorf("orders for job %d: %w", jobID, err)
	}
	out, err := scanOrders(rows)
	if err != nil {
		return nil, fmt.Errorf("orders for job %d: %w", jobID, err)
	}
	return out, nil
}

// ActiveOrders returns the assigned and running orders by id: the runs a
// dispatcher may have to reattach to.
func (db *DB) ActiveOrders(ctx context.Context) ([]Order, error) {
	rows, err := db.sql.QueryContext(ctx, orderSelect+` WHERE o.state IN ('assigned', 'running') ORDER BY o.id`)
	if err != nil {
		return nil, fmt.Errorf("active orders: %w", err)
	}
	out, err := scanOrders(rows)
	if err != nil {
		return nil, fmt.Errorf("active orders: %w", err)
	}
	return out, nil
}

// Attempts returns the attempts of an order by attempt number.
func (db *DB) Attempts(ctx context.Context, orderID int64) ([]Attempt, error) {
	rows, err := db.sql.QueryContext(ctx, `
		SELECT order_id, attempt, host, slot, dispatcher, run_dir, pid, state, exit_code, error,
			assigned_at, started_at, finished_at, sched_task, sched_state
		FROM attempts WHERE order_id = ? ORDER BY attempt`, orderID)
	if err != nil {
		return nil, fmt.Errorf("attempts of order %d: %w", orderID, err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		a, err := scanAttempt(rows)
		if err != nil {
			return nil, fmt.Errorf("attempts of order %d: %w", orderID, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attempts of order %d: %w", orderID, err)
	}
	return out, nil
}

// scanAttempt reads one row of the Attempts query.
func scanAttempt(s scanner) (Attempt, error) {
	var a Attempt
	var host, slot, dispatcher, runDir, errText sql.NullString
	var pid, exitCode sql.NullInt64
	var ts timeScanner
	var sc slurmScanner
	if err := s.Scan(&a.OrderID, &a.Attempt, &host, &slot, &dispatcher, &runDir, &pid, &a.State, &exitCode, &errText,
		ts.col(&a.AssignedAt), ts.col(&a.StartedAt), ts.col(&a.FinishedAt), &sc.task, &sc.state); err != nil {
		return Attempt{}, err
	}
	a.Slurm = sc.slurmTask()
	a.Host, a.Slot, a.Dispatcher, a.RunDir, a.Error = host.String, slot.String, dispatcher.String, runDir.String, errText.String
	a.PID = int(pid.Int64)
	if exitCode.Valid {
		c := int(exitCode.Int64)
		a.ExitCode = &c
	}
	return a, ts.parse()
}

// StateCounts returns how many orders each project has in each state, by
// project name, then by state in lifecycle order (unassigned, assigned,
// running, succeeded, failed, cancelled). States with no orders are left out.
func (db *DB) StateCounts(ctx context.Context) ([]StateCount, error) {
	rows, err := db.sql.QueryContext(ctx, `
		SELECT j.project, o.state, COUNT(*)
		FROM orders o JOIN jobs j ON j.id = o.job_id
		GROUP BY j.project, o.state
		ORDER BY j.project, CASE o.state
			WHEN 'unassigned' THEN 0 WHEN 'assigned' THEN 1 WHEN 'running' THEN 2
			WHEN 'succeeded' THEN 3 WHEN 'failed' THEN 4 ELSE 5 END`)
	if err != nil {
		return nil, fmt.Errorf("state counts: %w", err)
	}
	defer rows.Close()
	var out []StateCount
	for rows.Next() {
		var c StateCount
		if err := rows.Scan(&c.Project, &c.State, &c.Count); err != nil {
			return nil, fmt.Errorf("state counts: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state counts: %w", err)
	}
	return out, nil
}

// CountUnassigned returns the number of orders waiting for a claim.
func (db *DB) CountUnassigned(ctx context.Context) (int, error) {
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE state = 'unassigned'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count unassigned: %w", err)
	}
	return n, nil
}
