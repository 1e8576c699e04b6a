package db

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/prune"
)

// NewJob is a job to submit: the spec as the user wrote it and the fields
// mljob reads from it.
type NewJob struct {
	Project  string
	Script   string
	DataFile string
	Priority int
	// Spec is the submitted JSON object, stored byte for byte. It must not
	// be nil.
	Spec []byte
	// Objective is what the job's runs are ranked by; the zero value is
	// objective.Default.
	Objective objective.Objective
	// Pruner is the rule that stops the job's runs early; the zero value
	// prunes nothing.
	Pruner prune.Rule
	// Code is the code the job is submitted with; nil records none. Jobs
	// of one submit may share one Code: its diff is stored once.
	Code *Code
	// Artifacts are the globs of the files its runs bring home (beside
	// their artifacts/ dir); ArtifactsCap their cap in bytes, 0 for the
	// dispatch's. Checked by the caller (artifacts.CheckGlobs).
	Artifacts    []string
	ArtifactsCap int64
}

// Submitted names the rows Submit created for one NewJob.
type Submitted struct {
	JobID   int64
	OrderID int64
	// Duplicates lists the jobs already in the queue (or earlier in the
	// same submission) with the same project and the same spec up to key
	// order and layout (see SpecHash): the oldest maxDuplicates of them.
	Duplicates []int64
	// Skipped is set when SubmitOptions.Dedupe left the job out because of
	// its Duplicates; JobID and OrderID are then 0.
	Skipped bool
}

// SubmitOptions says how Submit files a batch of jobs.
type SubmitOptions struct {
	// Sweep, when set, creates a sweep that every job of the batch belongs
	// to. Without it the jobs belong to no sweep.
	Sweep *NewSweep
	// Dedupe skips each job identical to one already queued in its project
	// instead of only reporting it.
	Dedupe bool
	// Study, with Sweep, registers the sweep as a study (method tpe) whose
	// trials the dispatcher makes (NextTrial); the batch of jobs must then
	// be empty, and the sweep is kept with none.
	Study *NewStudy
	// DryRun reports what Submit would do, duplicates and skips included,
	// and writes nothing: no sweep, job or order is inserted (a job's
	// JobID is then -(its index + 1), which is also how Duplicates names
	// an earlier job of the batch; OrderID is 0).
	DryRun bool
}

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("dry run")

// SubmitResult is what Submit did.
type SubmitResult struct {
	// Sweep is the sweep created, or nil (none asked for, or every job was
	// skipped as a duplicate).
	Sweep *Sweep
	// Jobs is in the order of the jobs given.
	Jobs []Submitted
}

// Job is a submitted job.
type Job struct {
	ID       int64
	Project  string
	Script   string
	DataFile string
	Priority int
	// Spec is the submitted JSON, exactly as submitted (whitespace, key
	// order and fields mljob does not know are all kept).
	Spec []byte
	// SweepID is the sweep the job was submitted in, 0 for none.
	SweepID   int64
	Objective objective.Objective
	// Pruner is the job's pruner, the zero value for none.
	Pruner prune.Rule
	// Artifacts and ArtifactsCap are NewJob's.
	Artifacts    []string
	ArtifactsCap int64
	CreatedAt    time.Time
}

// SubmitJobs stores jobs and one unassigned order for each, in one
// transaction: either all are queued or, on error, none. The result is in
// the order of jobs. It is Submit with no sweep and no dedupe.
func (db *DB) SubmitJobs(ctx context.Context, jobs []NewJob) ([]Submitted, error) {
	res, err := db.Submit(ctx, jobs, SubmitOptions{})
	if err != nil {
		return nil, err
	}
	return res.Jobs, nil
}

// Submit stores jobs and one unassigned order for each, in one
// transaction: either all are queued or, on error, none. It reports, for
// each job, the jobs already queued in its project with an identical spec
// (see SpecHash), and skips those jobs when opts.Dedupe is set. With
// opts.Sweep it first creates the sweep the jobs belong to; a sweep whose
// jobs were all skipped is not kept.
func (db *DB) Submit(ctx context.Context, jobs []NewJob, opts SubmitOptions) (SubmitResult, error) {
	var res SubmitResult
	err := db.withTx(ctx, func(tx *dbTx) error {
		var err error
		res, err = submit(ctx, tx, jobs, opts)
		if err == nil && opts.DryRun {
			return errDryRun
		}
		return err
	})
	if err != nil && !(opts.DryRun && errors.Is(err, errDryRun)) {
		return SubmitResult{}, fmt.Errorf("submit jobs: %w", err)
	}
	return res, nil
}

// submit does Submit's work in tx with prepared statements, as a sweep can
// submit thousands of jobs at once.
func submit(ctx context.Context, tx *dbTx, jobs []NewJob, opts SubmitOptions) (SubmitResult, error) {
	if err := hashOldSpecs(ctx, tx); err != nil {
		return SubmitResult{}, err
	}
	var res SubmitResult
	var sweepID any // NULL without a sweep
	if opts.Sweep != nil && !opts.DryRun {
		sw, err := createSweep(ctx, tx, *opts.Sweep, jobs)
		if err != nil {
			return SubmitResult{}, err
		}
		res.Sweep, sweepID = &sw, sw.ID
	}
	if opts.Study != nil {
		switch {
		case opts.Sweep == nil || len(jobs) > 0:
			return SubmitResult{}, errors.New("a study needs a sweep and no jobs: its trials are made by the dispatcher")
		case opts.Study.Budget < 1:
			return SubmitResult{}, fmt.Errorf("study budget %d: want at least 1 trial", opts.Study.Budget)
		}
		if res.Sweep != nil {
			if err := insertStudy(ctx, tx, res.Sweep.ID, opts.Study); err != nil {
				return SubmitResult{}, err
			}
		}
	}
	if opts.Sweep != nil && opts.DryRun && opts.Sweep.Name != "" {
		var taken bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sweeps WHERE name = ?)`, opts.Sweep.Name).Scan(&taken); err != nil {
			return SubmitResult{}, fmt.Errorf("find sweep %q: %w", opts.Sweep.Name, err)
		}
		if taken {
			return SubmitResult{}, ErrSweepNameTaken
		}
	}
	insJob, err := tx.PrepareContext(ctx, `
		INSERT INTO jobs (project, script, data_file, priority, spec, created_at, sweep_id, spec_hash, objective, goal, pruner,
			artifacts, artifacts_cap)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return SubmitResult{}, err
	}
	defer insJob.Close()
	insOrder, err := tx.PrepareContext(ctx, `
		INSERT INTO orders (job_id, state, priority, created_at)
		VALUES (?, 'unassigned', ?, ?)`)
	if err != nil {
		return SubmitResult{}, err
	}
	defer insOrder.Close()
	hashes := make([][]byte, len(jobs))
	for i, j := range jobs {
		if j.Spec != nil { // a nil spec gets a NULL hash, and the insert refuses it
			hashes[i] = SpecHash(j.Spec)
		}
	}
	seen, err := jobsWithHashes(ctx, tx, hashes)
	if err != nil {
		return SubmitResult{}, err
	}

	now := formatTime(tx.now)
	diffs := map[string]bool{} // diffs stored by this submit
	res.Jobs = make([]Submitted, 0, len(jobs))
	inserted := 0
	for i, j := range jobs {
		var s Submitted
		var key [16]byte
		if hashes[i] != nil {
			key = [16]byte(hashes[i])
			for _, d := range seen[key] {
				if d.project == j.Project && len(s.Duplicates) < maxDuplicates {
					s.Duplicates = append(s.Duplicates, d.id)
				}
			}
		}
		if opts.Dedupe && len(s.Duplicates) > 0 {
			s.Skipped = true
			res.Jobs = append(res.Jobs, s)
			continue
		}
		if opts.DryRun {
			s.JobID = -int64(i + 1)
			if hashes[i] != nil {
				seen[key] = append(seen[key], hashedJob{s.JobID, j.Project})
			}
			res.Jobs = append(res.Jobs, s)
			inserted++
			continue
		}
		obj := j.Objective
		if obj == (objective.Objective{}) {
			obj = objective.Default
		}
		if err := obj.Check(); err != nil {
			return SubmitResult{}, fmt.Errorf("job %d: %w", i, err)
		}
		pruner, err := prunerText(j.Pruner)
		if err != nil {
			return SubmitResult{}, fmt.Errorf("job %d: %w", i, err)
		}
		globs, err := globsText(j.Artifacts)
		if err != nil {
			return SubmitResult{}, fmt.Errorf("job %d: %w", i, err)
		}
		r, err := insJob.ExecContext(ctx, j.Project, j.Script, j.DataFile, j.Priority, bytesText(j.Spec), now, sweepID, hashes[i], obj.Name, obj.Goal, pruner,
			globs, nullInt64(j.ArtifactsCap))
		if err != nil {
			return SubmitResult{}, fmt.Errorf("job %d: %w", i, err)
		}
		if s.JobID, err = r.LastInsertId(); err != nil {
			return SubmitResult{}, fmt.Errorf("job %d: %w", i, err)
		}
		r, err = insOrder.ExecContext(ctx, s.JobID, j.Priority, now)
		if err != nil {
			return SubmitResult{}, fmt.Errorf("job %d: order: %w", i, err)
		}
		if s.OrderID, err = r.LastInsertId(); err != nil {
			return SubmitResult{}, fmt.Errorf("job %d: order: %w", i, err)
		}
		if j.Code != nil {
			if err := insertCode(ctx, tx, s.JobID, j.Code, diffs); err != nil {
				return SubmitResult{}, fmt.Errorf("job %d: %w", i, err)
			}
		}
		if hashes[i] != nil {
			seen[key] = append(seen[key], hashedJob{s.JobID, j.Project})
		}
		res.Jobs = append(res.Jobs, s)
		inserted++
	}
	if res.Sweep != nil && opts.Study == nil {
		if inserted == 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sweeps WHERE id = ?`, res.Sweep.ID); err != nil {
				return SubmitResult{}, fmt.Errorf("drop empty sweep: %w", err)
			}
			res.Sweep = nil
		} else {
			res.Sweep.Jobs = inserted
		}
	}
	return res, nil
}

// maxDuplicates bounds Submitted.Duplicates: naming a few is enough to
// warn.
const maxDuplicates = 5

// hashedJob is a job found by its spec hash.
type hashedJob struct {
	id      int64
	project string
}

// jobsWithHashes returns the jobs whose spec_hash is one of hashes (nil
// ones ignored), by hash, oldest first. One statement probes the index for
// all of them: a query per job costs more in the driver than in SQLite.
func jobsWithHashes(ctx context.Context, tx *dbTx, hashes [][]byte) (map[[16]byte][]hashedJob, error) {
	hexes := make([]string, 0, len(hashes))
	for _, h := range hashes {
		if h != nil {
			hexes = append(hexes, hex.EncodeToString(h))
		}
	}
	list, err := json.Marshal(hexes)
	if err != nil {
		return nil, fmt.Errorf("find duplicates: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT spec_hash, project, id FROM jobs
		WHERE spec_hash IN (SELECT unhex(value) FROM json_each(?))
		ORDER BY id`, string(list))
	if err != nil {
		return nil, fmt.Errorf("find duplicates: %w", err)
	}
	defer rows.Close()
	seen := make(map[[16]byte][]hashedJob, len(hashes))
	for rows.Next() {
		var h []byte
		var d hashedJob
		if err := rows.Scan(&h, &d.project, &d.id); err != nil {
			return nil, fmt.Errorf("find duplicates: %w", err)
		}
		if len(h) == 16 {
			seen[[16]byte(h)] = append(seen[[16]byte(h)], d)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find duplicates: %w", err)
	}
	return seen, nil
}

// hashOldSpecs fills in spec_hash for jobs submitted before schema
// version 5 added it: SQLite cannot compute it, so the first submit after
// the upgrade does, and every later one finds nothing to do in the (empty)
// jobs_unhashed index.
func hashOldSpecs(ctx context.Context, tx *dbTx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, spec FROM jobs WHERE spec_hash IS NULL`)
	if err != nil {
		return fmt.Errorf("hash old specs: %w", err)
	}
	type idHash struct {
		id   int64
		hash []byte
	}
	var todo []idHash
	for rows.Next() {
		var id int64
		var spec string
		if err := rows.Scan(&id, &spec); err != nil {
			_ = rows.Close()
			return fmt.Errorf("hash old specs: %w", err)
		}
		todo = append(todo, idHash{id, SpecHash([]byte(spec))})
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("hash old specs: %w", err)
	}
	for _, t := range todo {
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET spec_hash = ? WHERE id = ?`, t.hash, t.id); err != nil {
			return fmt.Errorf("hash old specs: job %d: %w", t.id, err)
		}
	}
	return nil
}

// SpecHash returns the first 128 bits of the SHA-256 of spec's canonical
// form: the JSON with every object's keys sorted, no insignificant
// whitespace, strings escaped alike, and numbers as written (0.1 and 0.10
// differ). Two specs with the same hash ask for the same run. A spec that
// is not JSON is hashed as it is. 128 bits keep the index small; a chance
// collision is out of reach at any queue size.
func SpecHash(spec []byte) []byte {
	sum := sha256.Sum256(canonicalJSON(spec))
	return sum[:16]
}

// canonicalJSON returns spec's canonical form, or spec itself when it does
// not parse.
func canonicalJSON(spec []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.UseNumber() // keep big integers and the digits as written
	var v any
	if err := dec.Decode(&v); err != nil {
		return spec
	}
	// json.Marshal sorts map keys and writes no whitespace.
	b, err := json.Marshal(v)
	if err != nil {
		return spec
	}
	return b
}

// Job returns the job with the given id, or ErrJobNotFound.
func (db *DB) Job(ctx context.Context, id int64) (Job, error) {
	j, err := findJob(ctx, db.sql, id)
	if err != nil {
		return Job{}, fmt.Errorf("job %d: %w", id, err)
	}
	return j, nil
}

// jobColumns is the column list scanJob reads, in its order.
const jobColumns = `jobs.id, jobs.project, jobs.script, jobs.data_file, jobs.priority, jobs.spec, jobs.sweep_id,
	jobs.objective, jobs.goal, jobs.pruner, jobs.artifacts, COALESCE(jobs.artifacts_cap, 0), jobs.created_at`

// findJob reads one job through q (the DB or a transaction).
func findJob(ctx context.Context, q queryer, id int64) (Job, error) {
	j, err := scanJob(q.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE jobs.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, ErrJobNotFound
	}
	return j, err
}

// prunerText is a pruner as jobs.pruner stores it: JSON, NULL for none.
func prunerText(r prune.Rule) (any, error) {
	if r.IsZero() {
		return nil, nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("pruner: %w", err)
	}
	return string(b), nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanJob reads the columns of jobColumns.
func scanJob(s scanner) (Job, error) {
	var j Job
	var spec string
	var sweepID sql.NullInt64
	var pruner, globs sql.NullString
	var ts timeScanner
	if err := s.Scan(&j.ID, &j.Project, &j.Script, &j.DataFile, &j.Priority, &spec, &sweepID, &j.Objective.Name, &j.Objective.Goal, &pruner, &globs, &j.ArtifactsCap, ts.col(&j.CreatedAt)); err != nil {
		return Job{}, err
	}
	if globs.Valid {
		if err := json.Unmarshal([]byte(globs.String), &j.Artifacts); err != nil {
			return Job{}, fmt.Errorf("job %d: its artifacts %q: %w", j.ID, globs.String, err)
		}
	}
	j.Spec, j.SweepID = []byte(spec), sweepID.Int64
	if pruner.Valid {
		if err := json.Unmarshal([]byte(pruner.String), &j.Pruner); err != nil {
			return Job{}, fmt.Errorf("job %d: its pruner %q: %w", j.ID, pruner.String, err)
		}
	}
	return j, ts.parse()
}

// globsText is a job's artifact globs as stored: a JSON array, NULL for none.
func globsText(globs []string) (any, error) {
	if len(globs) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(globs)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// nullInt64 is n, or NULL for 0.
func nullInt64(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}
