package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/tpe"
)

// NewStudy registers a sweep whose trials the dispatcher proposes one at a
// time (method tpe) instead of jobs queued at submit: see
// SubmitOptions.Study.
type NewStudy struct {
	Method string // "tpe"
	// Budget is how many trials the study runs in all (> 0).
	Budget int
	// Parallel bounds the study's trials in flight; 0 is every free slot.
	Parallel int
	// ConstantLiar makes the sampler count trials in flight as the worst
	// value instead of leaving them out (tpe.Options.ConstantLiar).
	ConstantLiar bool
	Seed         uint64
	// Space is the search space as sweep.Spec.SpaceJSON writes it.
	Space    []byte
	AllowNew bool
	// Base is the job each trial is made from (its Spec with the trial's
	// values set at the space's paths) and whose fields it keeps.
	Base NewJob
}

// Study is a registered study with where its trials stand.
type Study struct {
	SweepID  int64
	Sweep    string
	Method   string
	Budget   int
	Parallel int // 0: every free slot
	// ConstantLiar is NewStudy's; a study registered before the column
	// existed has it on, as the sampler then always had.
	ConstantLiar bool
	Seed         uint64
	Space        []byte
	AllowNew     bool
	Base         NewJob
	// Trials is how many trials were made so far (numbers 0 to Trials-1);
	// InFlight how many of them are queued, claimed or running; Queued
	// how many wait for a claim.
	Trials, InFlight, Queued int
}

// insertStudy stores ns for the sweep just created.
func insertStudy(ctx context.Context, tx *dbTx, sweepID int64, ns *NewStudy) error {
	obj := ns.Base.Objective
	if obj == (objective.Objective{}) {
		obj = objective.Default
	}
	if err := obj.Check(); err != nil {
		return fmt.Errorf("study: %w", err)
	}
	pruner, err := prunerText(ns.Base.Pruner)
	if err != nil {
		return fmt.Errorf("study: %w", err)
	}
	globs, err := globsText(ns.Base.Artifacts)
	if err != nil {
		return fmt.Errorf("study: %w", err)
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO studies (sweep_id, method, budget, parallel, seed, space, project, script, data_file,
			priority, spec, allow_new, objective, goal, pruner, artifacts, artifacts_cap, constant_liar)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sweepID, ns.Method, ns.Budget, nullInt(ns.Parallel), int64(ns.Seed), bytesText(ns.Space),
		ns.Base.Project, ns.Base.Script, ns.Base.DataFile, ns.Base.Priority, bytesText(ns.Base.Spec),
		ns.AllowNew, obj.Name, obj.Goal, pruner, globs, nullInt64(ns.Base.ArtifactsCap), ns.ConstantLiar)
	if err != nil {
		return fmt.Errorf("study: %w", err)
	}
	if ns.Base.Code != nil {
		// Each trial's job gets a copy (NextTrialFrom), so show and diff
		// read it as any job's.
		if err := storeCode(ctx, tx, "study_code", "sweep_id", sweepID, ns.Base.Code, map[string]bool{}); err != nil {
			return fmt.Errorf("study: %w", err)
		}
	}
	return nil
}

// studySelect selects a study with its sweep's name and its trials'
// counts; a trial is in flight until its order ends. Each count reads an
// index range that does not grow with the study: trials are numbered from
// 0 without gaps (NextTrial), so the highest number plus one is how many;
// the orders in flight are few in any queue, so they are read first
// (CROSS JOIN keeps SQLite to that order) and their jobs looked up.
const studySelect = `
	SELECT st.sweep_id, sw.name, st.method, st.budget, COALESCE(st.parallel, 0), st.seed, st.space,
		st.project, st.script, st.data_file, st.priority, st.spec, st.allow_new, st.objective, st.goal, st.pruner,
		st.artifacts, COALESCE(st.artifacts_cap, 0), st.constant_liar,
		COALESCE((SELECT MAX(j.trial) + 1 FROM jobs j WHERE j.sweep_id = st.sweep_id AND j.trial IS NOT NULL), 0),
		(SELECT COUNT(*) FROM orders o CROSS JOIN jobs j ON j.id = o.job_id
			WHERE o.state IN ('unassigned', 'assigned', 'running') AND j.sweep_id = st.sweep_id AND j.trial IS NOT NULL),
		(SELECT COUNT(*) FROM orders o CROSS JOIN jobs j ON j.id = o.job_id
			WHERE o.state = 'unassigned' AND j.sweep_id = st.sweep_id AND j.trial IS NOT NULL)
	FROM studies st JOIN sweeps sw ON sw.id = st.sweep_id`

func scanStudy(s scanner) (Study, error) {
	var st Study
	var seed int64
	var space, spec string
	var pruner, globs sql.NullString
	err := s.Scan(&st.SweepID, &st.Sweep, &st.Method, &st.Budget, &st.Parallel, &seed, &space,
		&st.Base.Project, &st.Base.Script, &st.Base.DataFile, &st.Base.Priority, &spec, &st.AllowNew,
		&st.Base.Objective.Name, &st.Base.Objective.Goal, &pruner, &globs, &st.Base.ArtifactsCap, &st.ConstantLiar,
		&st.Trials, &st.InFlight, &st.Queued)
	if err != nil {
		return Study{}, err
	}
	st.Seed, st.Space, st.Base.Spec = uint64(seed), []byte(space), []byte(spec)
	if globs.Valid {
		if err := json.Unmarshal([]byte(globs.String), &st.Base.Artifacts); err != nil {
			return Study{}, fmt.Errorf("study %d: artifacts: %w", st.SweepID, err)
		}
	}
	if pruner.Valid {
		if err := json.Unmarshal([]byte(pruner.String), &st.Base.Pruner); err != nil {
			return Study{}, fmt.Errorf("study %d: pruner: %w", st.SweepID, err)
		}
	}
	return st, nil
}

// Studies returns every study, oldest first, with its counts.
func (db *DB) Studies(ctx context.Context) ([]Study, error) {
	return db.studies(ctx, db.sql, studySelect+` ORDER BY st.sweep_id`)
}

// OpenStudies returns the studies that may take a trial now: budget left,
// none of theirs waiting for a claim, fewer than Parallel in flight. It
// only reads, so an idle dispatcher can ask it often; NextTrial decides.
func (db *DB) OpenStudies(ctx context.Context) ([]Study, error) {
	all, err := db.Studies(ctx)
	if err != nil {
		return nil, err
	}
	open := all[:0]
	for _, st := range all {
		if st.mayPropose() {
			open = append(open, st)
		}
	}
	return open, nil
}

// mayPropose reports whether the study takes a trial now. One queued
// trial at a time: a trial is made when a slot is free for it, so that it
// is proposed from the outcomes as they are when it starts.
func (st Study) mayPropose() bool {
	return st.Trials < st.Budget && st.Queued == 0 && (st.Parallel <= 0 || st.InFlight < st.Parallel)
}

func (db *DB) studies(ctx context.Context, q rowsQueryer, query string, args ...any) ([]Study, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("studies: %w", err)
	}
	defer rows.Close()
	var out []Study
	for rows.Next() {
		st, err := scanStudy(rows)
		if err != nil {
			return nil, fmt.Errorf("studies: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("studies: %w", err)
	}
	return out, nil
}

// Proposal is a trial's job as NextTrial's caller makes it: the spec (the
// base job with the point set) and the point, as the sampler sees it.
type Proposal struct {
	Spec   []byte
	Params []float64
}

// NewTrial is a trial NextTrial queued.
type NewTrial struct {
	Number  int
	JobID   int64
	OrderID int64
	Params  []float64
}

// ErrStudyNotFound is returned by NextTrial for a sweep that is no study.
var ErrStudyNotFound = errors.New("study not found")

// NextTrial makes the study's next trial, if it may take one now (see
// OpenStudies): in one transaction it reads the study and its trials,
// calls propose with the next trial number and every trial so far (see
// StudyTrials), and queues the job propose made and its order. A nil
// result with a nil error means the study takes none now. The transaction
// holds the write lock from its start, so two dispatchers on one database
// take turns: neither reuses a number nor passes the budget (the unique
// index on (sweep, trial) would refuse it anyway). propose runs inside the
// transaction: it may read the database but must not write it (a write of
// db would wait for this transaction, which waits for propose).
func (db *DB) NextTrial(ctx context.Context, sweepID int64, propose func(st Study, number int, trials []tpe.Trial) (Proposal, error)) (*NewTrial, error) {
	return db.NextTrialFrom(ctx, NewTrialLog(sweepID), propose)
}

// NextTrialFrom is NextTrial with the study's trials kept in log between
// calls: inside the transaction it reads only the trials changed since
// log last read them (see TrialLog), so a proposal's cost does not grow
// with the study beyond the sampler's own. The trials propose is given
// are the same as NextTrial's full read would give.
func (db *DB) NextTrialFrom(ctx context.Context, log *TrialLog, propose func(st Study, number int, trials []tpe.Trial) (Proposal, error)) (*NewTrial, error) {
	sweepID := log.sweepID
	var out *NewTrial
	err := db.withTx(ctx, func(tx *dbTx) error {
		sts, err := db.studies(ctx, tx, studySelect+` WHERE st.sweep_id = ?`, sweepID)
		if err != nil {
			return err
		}
		if len(sts) == 0 {
			return fmt.Errorf("%w: sweep %d", ErrStudyNotFound, sweepID)
		}
		st := sts[0]
		if !st.mayPropose() {
			return nil
		}
		if err := log.sync(ctx, tx); err != nil {
			return err
		}
		trials, next := log.Trials(), log.next()
		if next != st.Trials {
			// The log and the count disagree only if numbers have gaps,
			// which NextTrial never makes: refuse rather than reuse one.
			return fmt.Errorf("trial log of sweep %d holds %d trials, the study %d", sweepID, next, st.Trials)
		}
		p, err := propose(st, next, trials)
		if err != nil {
			return err
		}
		params, err := json.Marshal(p.Params)
		if err != nil {
			return fmt.Errorf("trial %d: %w", next, err)
		}
		pruner, err := prunerText(st.Base.Pruner)
		if err != nil {
			return err
		}
		now := formatTime(tx.now)
		b := st.Base
		var jobID int64
		globs, err := globsText(b.Artifacts)
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `
			INSERT INTO jobs (project, script, data_file, priority, spec, created_at, sweep_id, spec_hash,
				objective, goal, pruner, trial, params, artifacts, artifacts_cap)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			b.Project, b.Script, b.DataFile, b.Priority, bytesText(p.Spec), now, sweepID, SpecHash(p.Spec),
			b.Objective.Name, b.Objective.Goal, pruner, next, string(params), globs, nullInt64(b.ArtifactsCap)).Scan(&jobID)
		if err != nil {
			return fmt.Errorf("trial %d: %w", next, err)
		}
		// The study's code, as submit recorded it, is the trial's.
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO job_code (job_id, repo, git_commit, dirty, diff_hash, note, script_hash, data_hash)
			SELECT ?, repo, git_commit, dirty, diff_hash, note, script_hash, data_hash FROM study_code WHERE sweep_id = ?`,
			jobID, sweepID); err != nil {
			return fmt.Errorf("trial %d: code: %w", next, err)
		}
		var orderID int64
		err = tx.QueryRowContext(ctx, `
			INSERT INTO orders (job_id, state, priority, created_at) VALUES (?, 'unassigned', ?, ?) RETURNING id`,
			jobID, b.Priority, now).Scan(&orderID)
		if err != nil {
			return fmt.Errorf("trial %d: order: %w", next, err)
		}
		out = &NewTrial{Number: next, JobID: jobID, OrderID: orderID, Params: p.Params}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("next trial of sweep %d: %w", sweepID, err)
	}
	return out, nil
}

// StudyTrials returns the study's trials as the sampler sees them, and
// the next trial number (see studyTrials).
func (db *DB) StudyTrials(ctx context.Context, sweepID int64) ([]tpe.Trial, int, error) {
	trials, next, err := studyTrials(ctx, db.sql, sweepID)
	if err != nil {
		return nil, 0, fmt.Errorf("trials of sweep %d: %w", sweepID, err)
	}
	return trials, next, nil
}

// TrialLog is a study's trials as the sampler sees them, kept between
// proposals by the one dispatcher that owns it (it is not safe for
// concurrent use). The triggers of schema step 19 stamp a trial with the
// study's rev each time anything the sampler sees of it changes (its job
// made, its order's state or attempt, an outcome or whether it counts, a
// prune verdict); sync reads only the trials stamped above the rev it last
// saw, so a log rebuilt from SQLite (a restarted dispatcher: the first
// sync reads every trial) and one kept in memory hold the same trials.
type TrialLog struct {
	sweepID int64
	rev     int64       // the study's rev at the last sync; -1 before the first
	trials  []tpe.Trial // by number; numbers run from 0 without gaps
}

// NewTrialLog returns an empty log of the study; its first sync reads
// every trial.
func NewTrialLog(sweepID int64) *TrialLog {
	return &TrialLog{sweepID: sweepID, rev: -1}
}

// Trials returns the trials by number. The slice is the log's own: the
// caller must not change it, and it is valid until the next sync.
func (l *TrialLog) Trials() []tpe.Trial { return l.trials[:len(l.trials):len(l.trials)] }

// next is the next trial number.
func (l *TrialLog) next() int { return len(l.trials) }

// SyncTrialLog brings log up to date outside a proposal (for tests and
// tools that watch a study).
func (db *DB) SyncTrialLog(ctx context.Context, log *TrialLog) error {
	if err := log.sync(ctx, db.sql); err != nil {
		return fmt.Errorf("trials of sweep %d: %w", log.sweepID, err)
	}
	return nil
}

// sync reads the trials changed since the last sync (every trial the
// first time) and the study's rev, both in q's snapshot.
func (l *TrialLog) sync(ctx context.Context, q rowsQueryer) error {
	rows, err := q.QueryContext(ctx, `SELECT rev FROM studies WHERE sweep_id = ?`, l.sweepID)
	if err != nil {
		return err
	}
	var rev int64 = -1
	for rows.Next() {
		if err := rows.Scan(&rev); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if rev < 0 {
		return fmt.Errorf("%w: sweep %d", ErrStudyNotFound, l.sweepID)
	}
	if rev == l.rev {
		return nil
	}
	changed, err := readTrials(ctx, q, l.sweepID, l.rev)
	if err != nil {
		return err
	}
	// changed is by number and numbers run from 0 without gaps, so each
	// row replaces a trial the log holds or is the next one.
	for _, t := range changed {
		switch {
		case t.Number >= 0 && t.Number < len(l.trials):
			l.trials[t.Number] = t
		case t.Number == len(l.trials):
			l.trials = append(l.trials, t)
		default:
			return fmt.Errorf("trial %d of sweep %d follows trial %d", t.Number, l.sweepID, len(l.trials)-1)
		}
	}
	l.rev = rev
	return nil
}

// studyTrials reads each trial of a study with its order's state, by
// trial number: succeeded with a value of the objective is Complete;
// pruned is Pruned with the value and step its pruner judged (Optuna's
// last intermediate value), or step -1 when there is no verdict row;
// queued, claimed or running is Running (left out of the model, or the
// worst value under the study's constant liar);
// anything else (failed, cancelled, succeeded without a value) is Failed.
// next is one past the highest number taken.
func studyTrials(ctx context.Context, q rowsQueryer, sweepID int64) ([]tpe.Trial, int, error) {
	out, err := readTrials(ctx, q, sweepID, -1)
	if err != nil {
		return nil, 0, err
	}
	next := 0
	for _, t := range out {
		next = max(next, t.Number+1)
	}
	return out, next, nil
}

// trialsQuery is readTrials' query: the study's trials by number (its id
// the one argument), or, changed, those stamped above a rev (the second).
// A changed read names its index: left to itself, SQLite walks jobs_trial,
// which gives the order by number for free, through every trial of the
// study, and a kept log's sync would cost as much as reading them all (3 ms
// a proposal at 10,000 trials) instead of the few changed rows and a sort.
func trialsQuery(changed bool) string {
	from, cond := `jobs j`, `1`
	if changed {
		from, cond = `jobs j INDEXED BY jobs_trial_rev`, `j.trial_rev > ?`
	}
	return `
		SELECT j.trial, j.params, o.state,
			(SELECT oc.objective_value FROM outcomes oc
				WHERE oc.order_id = o.id AND oc.succeeded AND oc.superseded IS NULL
				ORDER BY oc.id DESC LIMIT 1),
			p.step, p.value
		FROM ` + from + `
		JOIN orders o ON o.job_id = j.id
		LEFT JOIN prunes p ON p.order_id = o.id AND p.attempt = o.attempt
		WHERE j.sweep_id = ? AND j.trial IS NOT NULL AND ` + cond + `
		ORDER BY j.trial`
}

// readTrials reads the study's trials stamped above rev (every trial
// with rev < 0), by number, as studyTrials describes.
func readTrials(ctx context.Context, q rowsQueryer, sweepID, rev int64) ([]tpe.Trial, error) {
	args := []any{sweepID}
	if rev >= 0 {
		args = append(args, rev)
	}
	rows, err := q.QueryContext(ctx, trialsQuery(rev >= 0), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []tpe.Trial
	for rows.Next() {
		var t tpe.Trial
		var params string
		var state OrderState
		var value, pStep, pValue sql.NullFloat64
		if err := rows.Scan(&t.Number, &params, &state, &value, &pStep, &pValue); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(params), &t.Params); err != nil {
			return nil, fmt.Errorf("trial %d: params: %w", t.Number, err)
		}
		switch {
		case state == StateSucceeded && value.Valid:
			t.State, t.Value = tpe.Complete, value.Float64
		case state == StatePruned && pStep.Valid:
			t.State, t.Step, t.Value = tpe.Pruned, int64(pStep.Float64), nanIfNull(pValue)
		case state == StatePruned:
			t.State, t.Step, t.Value = tpe.Pruned, -1, math.NaN()
		case state == StateUnassigned || state == StateAssigned || state == StateRunning:
			t.State = tpe.Running
		default:
			t.State = tpe.Failed
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// rowsQueryer is a *sql.DB or a transaction, for queries of many rows.
type rowsQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}
