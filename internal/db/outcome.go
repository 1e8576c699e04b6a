package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/run"
)

// Outcome is the result of one attempt of an order: what the script
// reported, or why there is no report.
type Outcome struct {
	ID      int64
	OrderID int64
	JobID   int64 // filled from the order by RecordOutcome when zero
	Attempt int
	Host    string // filled from the attempt by RecordOutcome when empty

	Succeeded bool
	Status    *int     // the script's reported status; nil if none
	Loss      *float64 // nil if not reported
	Metric    *float64 // nil if not reported
	ExitCode  *int     // nil if the exit code is unknown

	DurationSeconds float64
	Error           string
	// Superseded, when set, says why this outcome does not count for its
	// order: another attempt's does (see RecordLateOutcome).
	Superseded string
	// Warning says what of the Outcome line could not be read (a loss
	// that is not a number, no status); "" when nothing.
	Warning string
	// JSON is the Outcome line the script printed, verbatim; nil if none.
	JSON       []byte
	StdoutTail string
	StderrTail string
	// Cost is what the attempt cost (run.Cost, from its run dir); nil
	// when unknown. Stored in costs with the outcome, read with it.
	Cost *run.Cost
	// NoArtifactsDir is true when the host said the run dir holds no
	// artifacts/ dir (run.Result.NoArtifactsDir): a job without artifact
	// globs then owes none, and its fetch is recorded done, empty.
	NoArtifactsDir bool
	CreatedAt      time.Time // set by RecordOutcome
	// Env, when set, is the key of the environment the attempt ran in
	// (SaveEnvironment): RecordOutcome links the attempt to it.
	Env string
}

// OutcomeRow is an outcome joined with its job.
type OutcomeRow struct {
	Outcome
	Project string
	Spec    []byte
	// SweepID is the job's sweep, 0 for a job submitted on its own.
	SweepID int64
	// Objective is the job's; ObjectiveValue the outcome's value of it,
	// nil when the Outcome line lacks it or it is not a number (NaN).
	Objective      objective.Objective
	ObjectiveValue *float64
	// Pruned is set when the outcome's attempt ended pruned (its pruner
	// stopped it: attempts.state): the outcome is then in state
	// OutcomePruned, neither succeeded nor failed.
	Pruned bool
}

// The states an outcome can be in. An outcome is written once, when its
// attempt ends: succeeded or failed (outcomes.succeeded), unless its
// attempt ended pruned (attempts.state), which makes it pruned whatever
// its run printed; a cancelled run that ends leaves a failed outcome.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomePruned    = "pruned"
)

// OutcomeStates lists the values OutcomeFilter.States accepts.
var OutcomeStates = []string{OutcomeSucceeded, OutcomeFailed, OutcomePruned}

// ErrUnknownOutcomeState is returned for an OutcomeFilter.States entry that
// is not one of OutcomeStates.
var ErrUnknownOutcomeState = errors.New("unknown outcome state")

// OutcomeFilter selects and orders the rows Outcomes returns.
type OutcomeFilter struct {
	Project string // "" = all
	JobID   int64  // 0 = all
	SweepID int64  // 0 = all
	// States keeps only outcomes in one of these states (OutcomeStates);
	// empty keeps all.
	States []string
	// Sort is "" (by job, then attempt), "objective", "-objective", "loss",
	// "-loss", "metric" or "-metric"; a leading "-" means descending.
	// "objective" ranks best first by each job's own objective and goal,
	// and never across objectives: rows are grouped by objective (name,
	// then goal) first, "-objective" puts each group's worst first. Rows
	// without the value come last either way, then ties go by outcome id (for the
	// objective sorts, by job and attempt: the order runs were queued in, not
	// the order they happened to end in).
	Sort string
	// Best keeps one row per (project, sweep, objective) group, jobs
	// outside any sweep being one group per project and objective: the
	// first of the group by Sort ("" is "objective") among its rows that have the sort value, so a row without it
	// (not reported, or NaN, which SQLite stores as NULL) never wins, nor
	// does a superseded one (see Outcome.Superseded) or a pruned one
	// (stopped before its end, its value is not a final one). The rows kept are
	// ordered by Sort.
	Best  bool
	Limit int // 0 = no limit
}

// OutcomeSorts are the values OutcomeFilter.Sort takes besides "": by loss
// or metric, ascending, or descending with a leading "-". Commands offer
// them as --sort.
var OutcomeSorts = []string{"objective", "-objective", "loss", "-loss", "metric", "-metric"}

// outcomeSorts maps OutcomeFilter.Sort to ORDER BY clauses. The clauses are
// fixed strings, never built from input.
var outcomeSorts = map[string]string{
	"":           "o.job_id, o.attempt",
	"objective":  "j.objective, j.goal, " + signedObjective + " ASC NULLS LAST, o.job_id, o.attempt",
	"-objective": "j.objective, j.goal, " + signedObjective + " DESC NULLS LAST, o.job_id, o.attempt",
	"loss":       "o.loss ASC NULLS LAST, o.id",
	"-loss":      "o.loss DESC NULLS LAST, o.id",
	"metric":     "o.metric ASC NULLS LAST, o.id",
	"-metric":    "o.metric DESC NULLS LAST, o.id",
}

// RecordOutcome stores the outcome of attempt o.Attempt of order o.OrderID
// and finishes that attempt. It is idempotent: when an outcome for the
// attempt already exists it changes nothing and returns false, so a
// dispatcher that retries after a crash or a lost connection cannot record
// twice.
//
// When the order is still at that attempt and assigned or running, it
// becomes succeeded or failed (by o.Succeeded) with last_error = o.Error. An
// outcome for an older attempt (one released, then claimed again) is kept
// but leaves the order alone. The attempt row gets the state, exit code and
// error unless it was already finished (a released attempt stays failed);
// the current attempt of a cancelled order, and an attempt cancelled while
// its run went on (CancelOrders), end cancelled whatever the outcome says;
// the current attempt of a pruned order (Prune) ends pruned.
// CreatedAt is the transaction's time; o.ID and o.CreatedAt are ignored.
//
// It returns ErrOrderNotFound for an unknown order and ErrStaleAttempt for
// an attempt that was never claimed.
func (db *DB) RecordOutcome(ctx context.Context, o Outcome) (recorded bool, err error) {
	err = db.withTx(ctx, func(tx *dbTx) error {
		var err error
		recorded, err = recordOutcome(ctx, tx, o)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("record outcome of order %d attempt %d: %w", o.OrderID, o.Attempt, err)
	}
	return recorded, nil
}

// recordOutcome is RecordOutcome inside its transaction.
func recordOutcome(ctx context.Context, tx *dbTx, o Outcome) (bool, error) {
	var jobID int64
	var current int
	var state OrderState
	err := tx.QueryRowContext(ctx, `SELECT job_id, attempt, state FROM orders WHERE id = ?`, o.OrderID).
		Scan(&jobID, &current, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return false, ErrOrderNotFound
	}
	if err != nil {
		return false, err
	}
	if o.Attempt < 1 || o.Attempt > current {
		return false, ErrStaleAttempt
	}
	if o.JobID == 0 {
		o.JobID = jobID
	} else if o.JobID != jobID {
		return false, fmt.Errorf("outcome names job %d, order belongs to job %d", o.JobID, jobID)
	}
	var attemptState OrderState
	var attemptHost, attemptFinished, attemptErr sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT state, host, finished_at, error FROM attempts WHERE order_id = ? AND attempt = ?`,
		o.OrderID, o.Attempt).Scan(&attemptState, &attemptHost, &attemptFinished, &attemptErr); err != nil {
		return false, fmt.Errorf("read attempt: %w", err)
	}
	if o.Host == "" {
		o.Host = attemptHost.String
	}
	if attemptState == StateCancelled && o.Superseded == "" {
		// An earlier attempt, given up and found finished, took the order
		// while this one ran (RecordLateOutcome): this one is kept, and
		// says so.
		o.Superseded = attemptErr.String
	}

	if o.Env != "" {
		if err := linkEnvironment(ctx, tx, o.OrderID, o.Attempt, o.Env); err != nil {
			return false, err
		}
	}
	now := formatTime(tx.now)
	res, err := insertOutcome(ctx, tx, o)
	if err != nil {
		return false, fmt.Errorf("insert: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, err
	} else if n == 0 {
		return false, nil // already recorded: change nothing
	}

	final := StateFailed
	if o.Succeeded {
		final = StateSucceeded
	}
	if o.Attempt == current && (state == StateAssigned || state == StateRunning) {
		if _, err := tx.ExecContext(ctx, `
			UPDATE orders SET state = ?, finished_at = ?, last_error = ? WHERE id = ?`,
			final, now, nullString(o.Error), o.OrderID); err != nil {
			return false, fmt.Errorf("finish order: %w", err)
		}
	}
	// The current attempt of a cancelled order ends cancelled, whatever
	// its run did; so does one cancelled while its run went on.
	pendingCancel := attemptState == StateCancelled && !attemptFinished.Valid
	if pendingCancel || (o.Attempt == current && state == StateCancelled) {
		final = StateCancelled
	}
	if o.Attempt == current && state == StatePruned {
		// Its pruner stopped it (Prune): so it ends, whatever its run
		// printed after the point it was judged on.
		final = StatePruned
	}
	if attemptState == StateAssigned || attemptState == StateRunning || pendingCancel {
		if _, err := tx.ExecContext(ctx, `
			UPDATE attempts SET state = ?, exit_code = ?, error = ?, finished_at = ?
			WHERE order_id = ? AND attempt = ?`,
			final, intPtr(o.ExitCode), nullString(o.Error), now, o.OrderID, o.Attempt); err != nil {
			return false, fmt.Errorf("finish attempt: %w", err)
		}
	}
	return true, nil
}

// FailOrder gives up on an attempt for which no script will report, e.g.
// after too many infrastructure errors: it records a failed outcome with
// reason as its error through RecordOutcome, so it is just as idempotent.
func (db *DB) FailOrder(ctx context.Context, orderID int64, attempt int, reason string) error {
	_, err := db.RecordOutcome(ctx, Outcome{OrderID: orderID, Attempt: attempt, Succeeded: false, Error: reason})
	return err
}

// Outcomes returns the outcomes f selects, with their jobs.
func (db *DB) Outcomes(ctx context.Context, f OutcomeFilter) ([]OutcomeRow, error) {
	var out []OutcomeRow
	err := db.EachOutcome(ctx, f, func(r *OutcomeRow) error {
		out = append(out, *r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachOutcome calls fn with each outcome f selects, in order, as it is read,
// so a caller can format 100,000 rows without holding them all. fn runs on
// the caller's goroutine; the row it gets is fresh each call (fn may keep
// it). An error from fn stops the scan and is returned as is.
func (db *DB) EachOutcome(ctx context.Context, f OutcomeFilter, fn func(*OutcomeRow) error) error {
	q, args, err := outcomesQuery(f)
	if err != nil {
		return fmt.Errorf("outcomes: %w", err)
	}
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("outcomes: %w", err)
	}
	defer rows.Close()
	var s outcomeScanner
	for rows.Next() {
		r := new(OutcomeRow)
		if err := s.scan(rows, r); err != nil {
			return fmt.Errorf("outcomes: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("outcomes: %w", err)
	}
	return nil
}

// outcomeColumns are the columns outcomeScanner reads, in its order.
const outcomeColumns = `o.id, o.order_id, o.attempt, o.job_id, o.host, o.succeeded, o.status, o.loss, o.metric,
		o.exit_code, o.duration_seconds, o.error, o.outcome_json, o.stdout_tail, o.stderr_tail, o.created_at,
		j.project, j.spec, j.sweep_id, o.superseded, o.warning, j.objective, j.goal, o.objective_value,
		` + prunedAttempt + `, ` + costColumn

// costColumn is the cost of outcome o's attempt as a JSON array (see
// costFromJSON), NULL when none: one lookup by the costs' primary key.
const costColumn = `(SELECT json_array(c.wall_seconds, c.user_seconds, c.sys_seconds, c.max_rss_bytes, c.gpus)
		FROM costs c WHERE c.order_id = o.order_id AND c.attempt = o.attempt)`

// costFromJSON reads costColumn's array; nil for NULL.
func costFromJSON(text sql.NullString) (*run.Cost, error) {
	if !text.Valid {
		return nil, nil
	}
	var v [5]float64
	if err := json.Unmarshal([]byte(text.String), &v); err != nil {
		return nil, fmt.Errorf("cost: %w", err)
	}
	return &run.Cost{WallSeconds: v[0], UserSeconds: v[1], SysSeconds: v[2], MaxRSSBytes: int64(v[3]), GPUs: int(v[4])}, nil
}

// prunedAttempt is the condition that outcome o's attempt ended pruned:
// one lookup by the attempts' primary key.
const prunedAttempt = `EXISTS (SELECT 1 FROM attempts a WHERE a.order_id = o.order_id AND a.attempt = o.attempt AND a.state = 'pruned')`

// outcomeStateConds are the conditions of the outcome states, fixed
// strings never built from input.
var outcomeStateConds = map[string]string{
	OutcomeSucceeded: "(o.succeeded AND NOT " + prunedAttempt + ")",
	OutcomeFailed:    "(NOT o.succeeded AND NOT " + prunedAttempt + ")",
	OutcomePruned:    prunedAttempt,
}

// statesCondition is the WHERE condition keeping the outcomes in one of
// states (OutcomeStates); "" when that is every outcome.
func statesCondition(states []string) (string, error) {
	var conds []string
	for _, s := range OutcomeStates {
		if slices.Contains(states, s) {
			conds = append(conds, outcomeStateConds[s])
		}
	}
	for _, s := range states {
		if !slices.Contains(OutcomeStates, s) {
			return "", fmt.Errorf("%w %q (want %s)", ErrUnknownOutcomeState, s, strings.Join(OutcomeStates, ", "))
		}
	}
	if len(conds) == len(OutcomeStates) {
		return "", nil
	}
	return "(" + strings.Join(conds, " OR ") + ")", nil
}

// signedObjective is the outcome's objective value with lower always
// better: negated where the job maximizes.
const signedObjective = "(CASE j.goal WHEN 'maximize' THEN -o.objective_value ELSE o.objective_value END)"

// sortColumns maps a Sort to the column Best needs a value in.
var sortColumns = map[string]string{"objective": "o.objective_value", "-objective": "o.objective_value",
	"loss": "o.loss", "-loss": "o.loss", "metric": "o.metric", "-metric": "o.metric"}

// outcomesQuery builds the SQL of f.
func outcomesQuery(f OutcomeFilter) (string, []any, error) {
	if f.Best && f.Sort == "" {
		f.Sort = "objective"
	}
	order, ok := outcomeSorts[f.Sort]
	if !ok {
		return "", nil, fmt.Errorf("unknown sort %q (want %s)", f.Sort, strings.Join(OutcomeSorts, ", "))
	}
	var where []string
	var args []any
	// Best partitions by the job's project, sweep and objective; the
	// objective sorts read the job's goal.
	join := f.Best || strings.Contains(order, "j.")
	if f.Project != "" {
		join = true
		where = append(where, "j.project = ?")
		args = append(args, f.Project)
	}
	if f.SweepID != 0 {
		join = true
		where = append(where, "j.sweep_id = ?")
		args = append(args, f.SweepID)
	}
	if f.JobID != 0 {
		where = append(where, "o.job_id = ?")
		args = append(args, f.JobID)
	}
	if len(f.States) > 0 {
		cond, err := statesCondition(f.States)
		if err != nil {
			return "", nil, err
		}
		if cond != "" {
			where = append(where, cond)
		}
	}
	from := "outcomes o"
	if join {
		from += " JOIN jobs j ON j.id = o.job_id"
	}
	if f.Best {
		// An outcome that does not count for its order (another attempt's
		// does) never stands for its job.
		// Nor does a pruned one: its value is where it was stopped.
		where = append(where, sortColumns[f.Sort]+" IS NOT NULL", "o.superseded IS NULL")
		if !slices.Equal(f.States, []string{OutcomeSucceeded}) {
			// (The succeeded state's condition already says it.)
			where = append(where, "NOT "+prunedAttempt)
		}
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	if f.Best {
		// The window numbers each group's rows in sort order; the first of
		// each is its best. A job's sweep_id is NULL outside a sweep, and
		// PARTITION BY puts NULLs together: one group per project.
		ids := `SELECT b.id FROM (SELECT o.id, ROW_NUMBER() OVER (PARTITION BY j.project, j.sweep_id, j.objective, j.goal ORDER BY ` + order +
			`) AS rn FROM ` + from + cond + `) AS b WHERE b.rn = 1`
		q := `SELECT ` + outcomeColumns + `
		FROM (` + ids + `) AS pick
		JOIN outcomes o ON o.id = pick.id
		JOIN jobs j ON j.id = o.job_id
		ORDER BY ` + order
		if f.Limit > 0 {
			q += " LIMIT ?"
			args = append(args, f.Limit)
		}
		return q, args, nil
	}
	if f.Limit == 0 {
		// Every row is read anyway: one pass over outcomes_job (the default
		// order only sorts each job's attempts) beats picking ids first,
		// which looks each outcome up twice.
		if !join {
			from += " JOIN jobs j ON j.id = o.job_id"
		}
		return "SELECT " + outcomeColumns + " FROM " + from + cond + " ORDER BY " + order, args, nil
	}
	// Pick the ids first: SQLite builds every result column (the job's
	// spec included) for each row it sorts, so sorting bare ids and then
	// reading only the rows kept halves a top-20 over 100k outcomes.
	ids := "SELECT o.id FROM " + from + cond + " ORDER BY " + order + " LIMIT ?"
	args = append(args, f.Limit)
	q := `SELECT ` + outcomeColumns + `
		FROM (` + ids + `) AS pick
		JOIN outcomes o ON o.id = pick.id
		JOIN jobs j ON j.id = o.job_id
		ORDER BY ` + order
	return q, args, nil
}

// outcomeScanner holds the scan destinations of the Outcomes query, reused
// from row to row: a fresh set per row was a tenth of a 100k-row read.
type outcomeScanner struct {
	host, errText, stdout, stderr, created, superseded sql.NullString
	warning, cost                                      sql.NullString
	status, exitCode, sweepID                          sql.NullInt64
	loss, metric, duration, objValue                   sql.NullFloat64
	dest                                               []any
}

// scan reads the current row of rows into r.
func (s *outcomeScanner) scan(rows *sql.Rows, r *OutcomeRow) error {
	if s.dest == nil {
		s.dest = make([]any, 26)
	}
	// JSON and Spec scan straight into r: convertAssign copies the bytes
	// once, and leaves JSON nil for NULL.
	d := s.dest
	d[0], d[1], d[2], d[3], d[4], d[5] = &r.ID, &r.OrderID, &r.Attempt, &r.JobID, &s.host, &r.Succeeded
	d[6], d[7], d[8], d[9], d[10], d[11] = &s.status, &s.loss, &s.metric, &s.exitCode, &s.duration, &s.errText
	d[12], d[13], d[14], d[15], d[16], d[17] = &r.JSON, &s.stdout, &s.stderr, &s.created, &r.Project, &r.Spec
	d[18], d[19], d[20] = &s.sweepID, &s.superseded, &s.warning
	d[21], d[22], d[23], d[24], d[25] = &r.Objective.Name, &r.Objective.Goal, &s.objValue, &r.Pruned, &s.cost
	if err := rows.Scan(d...); err != nil {
		return err
	}
	r.Host, r.Error, r.StdoutTail, r.StderrTail = s.host.String, s.errText.String, s.stdout.String, s.stderr.String
	r.Superseded = s.superseded.String
	r.DurationSeconds = s.duration.Float64
	r.Warning = s.warning.String
	r.SweepID = s.sweepID.Int64 // 0 when NULL: no sweep
	if s.status.Valid {
		v := int(s.status.Int64)
		r.Status = &v
	}
	if s.exitCode.Valid {
		v := int(s.exitCode.Int64)
		r.ExitCode = &v
	}
	if s.loss.Valid {
		v := s.loss.Float64
		r.Loss = &v
	}
	if s.metric.Valid {
		v := s.metric.Float64
		r.Metric = &v
	}
	if s.objValue.Valid {
		v := s.objValue.Float64
		r.ObjectiveValue = &v
	}
	cost, err := costFromJSON(s.cost)
	if err != nil {
		return err
	}
	r.Cost = cost
	t, err := parseTime(s.created)
	r.CreatedAt = t
	return err
}

// objectiveValue is o's value of obj: read from its Outcome line, or for
// an outcome recorded without one, its loss or metric when obj names them.
func objectiveValue(obj objective.Objective, o Outcome) *float64 {
	if len(o.JSON) > 0 {
		return obj.Value(o.JSON)
	}
	switch obj.Name {
	case "loss":
		return o.Loss
	case "metric":
		return o.Metric
	}
	return nil
}

// insertOutcome adds o unless its attempt has one already (the unique key
// makes every recording idempotent); created_at is the transaction's time.
func insertOutcome(ctx context.Context, tx *dbTx, o Outcome) (sql.Result, error) {
	var obj objective.Objective
	err := tx.QueryRowContext(ctx, `SELECT objective, goal FROM jobs WHERE id = ?`, o.JobID).Scan(&obj.Name, &obj.Goal)
	if err != nil {
		return nil, fmt.Errorf("objective of job %d: %w", o.JobID, err)
	}
	res, err := tx.ExecContext(ctx, `
		INSERT INTO outcomes (order_id, attempt, job_id, host, succeeded, status, loss, metric, exit_code,
			duration_seconds, error, outcome_json, stdout_tail, stderr_tail, created_at, superseded, warning,
			objective_value)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (order_id, attempt) DO NOTHING`,
		o.OrderID, o.Attempt, o.JobID, nullString(o.Host), o.Succeeded, intPtr(o.Status), floatPtr(o.Loss),
		floatPtr(o.Metric), intPtr(o.ExitCode), o.DurationSeconds, nullString(o.Error), bytesText(o.JSON),
		nullString(o.StdoutTail), nullString(o.StderrTail), formatTime(tx.now), nullString(o.Superseded), nullString(o.Warning),
		floatPtr(objectiveValue(obj, o)))
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return res, err
	}
	// The run's artifacts are owed home from now on, in the outcome's
	// own transaction: a dispatcher that dies before copying them leaves
	// the work to the next (see PendingFetches).
	if err := owePendingFetch(ctx, tx, o.OrderID, o.Attempt, o.NoArtifactsDir); err != nil {
		return nil, err
	}
	if o.Cost == nil {
		return res, nil
	}
	c := o.Cost
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO costs (order_id, attempt, wall_seconds, user_seconds, sys_seconds, max_rss_bytes, gpus)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (order_id, attempt) DO NOTHING`,
		o.OrderID, o.Attempt, c.WallSeconds, c.UserSeconds, c.SysSeconds, c.MaxRSSBytes, c.GPUs); err != nil {
		return nil, fmt.Errorf("cost: %w", err)
	}
	return res, nil
}
