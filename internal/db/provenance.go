package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
)

// Repo states of a job's Code.
const (
	RepoGit   = "git"    // the scripts dir is in a git repository
	RepoNone  = "none"   // it is not
	RepoNoGit = "no git" // git was not found
	RepoError = "error"  // git failed; Code.Note says how
)

// Code is the code a job was submitted with: the scripts dir's repository
// (commit, dirty, the uncommitted diff) and the script and data file's
// content hashes.
type Code struct {
	Repo   string // RepoGit, RepoNone, RepoNoGit or RepoError
	Commit string // HEAD's commit; "" outside a repository or before the first commit
	Dirty  bool   // git status --porcelain listed something
	// Diff is `git diff HEAD` as stored (cut at the size limit the
	// capture applies); nil when there were no changes to tracked files.
	Diff []byte
	// DiffSize is the whole diff's size in bytes, more than len(Diff)
	// when it was cut.
	DiffSize int64
	// DiffHash is the SHA-256 (hex) of Diff, the key it is stored under;
	// set by Submit and when read back.
	DiffHash string
	// Note says what the record leaves out: a cut diff, untracked files,
	// git's error.
	Note       string
	ScriptHash string // SHA-256 (hex) of the script
	DataHash   string // SHA-256 (hex) of the data file; "" without one
}

// HashBytes is the hex SHA-256 of b: the key of content-addressed rows.
func HashBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// insertCode links job to its code, storing the diff unless a row holds
// it already (stored tells which diffs this transaction has written).
func insertCode(ctx context.Context, tx *dbTx, jobID int64, c *Code, stored map[string]bool) error {
	return storeCode(ctx, tx, "job_code", "job_id", jobID, c, stored)
}

// storeCode stores c as the code of the row id of table (job_code by
// job_id, or study_code by sweep_id: fixed names, no input reaches the
// SQL text), and its diff as insertCode says.
func storeCode(ctx context.Context, tx *dbTx, table, key string, id int64, c *Code, stored map[string]bool) error {
	var diffHash any
	if c.Diff != nil {
		h := HashBytes(c.Diff)
		if !stored[h] {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO code_diffs (hash, data, size, created_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (hash) DO NOTHING`, h, c.Diff, c.DiffSize, formatTime(tx.now)); err != nil {
				return fmt.Errorf("store diff: %w", err)
			}
			stored[h] = true
		}
		diffHash = h
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO `+table+` (`+key+`, repo, git_commit, dirty, diff_hash, note, script_hash, data_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id, c.Repo, c.Commit, c.Dirty, diffHash, c.Note, c.ScriptHash, c.DataHash); err != nil {
		return fmt.Errorf("link code: %w", err)
	}
	return nil
}

// JobCode reads the code job was submitted with, its diff included; nil
// when the job has no such record (submitted before mljob kept one).
func (db *DB) JobCode(ctx context.Context, jobID int64) (*Code, error) {
	var c Code
	var hash sql.NullString
	var data []byte
	var size sql.NullInt64
	err := db.sql.QueryRowContext(ctx, `
		SELECT c.repo, c.git_commit, c.dirty, c.diff_hash, c.note, c.script_hash, c.data_hash, d.data, d.size
		FROM job_code c LEFT JOIN code_diffs d ON d.hash = c.diff_hash
		WHERE c.job_id = ?`, jobID).
		Scan(&c.Repo, &c.Commit, &c.Dirty, &hash, &c.Note, &c.ScriptHash, &c.DataHash, &data, &size)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read code of job %d: %w", jobID, err)
	}
	if hash.Valid {
		c.DiffHash, c.Diff, c.DiffSize = hash.String, data, size.Int64
		if c.Diff == nil {
			c.Diff = []byte{}
		}
	}
	return &c, nil
}

// CodeDiffs counts the stored diffs (for tests and the docs' claim that
// a diff is stored once).
func (db *DB) CodeDiffs(ctx context.Context) (int, error) {
	var n int
	err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM code_diffs`).Scan(&n)
	return n, err
}

// SaveEnvironment stores an environment's JSON once per content and
// returns its key (the SHA-256 of spec), which an Outcome's Env names.
func (db *DB) SaveEnvironment(ctx context.Context, spec []byte) (string, error) {
	h := HashBytes(spec)
	err := db.withTx(ctx, func(tx *dbTx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO environments (hash, spec, created_at) VALUES (?, ?, ?)
			ON CONFLICT (hash) DO NOTHING`, h, bytesText(spec), formatTime(tx.now))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("save environment: %w", err)
	}
	return h, nil
}

// linkEnvironment links an attempt to the environment it ran in, keeping
// the first link.
func linkEnvironment(ctx context.Context, tx *dbTx, orderID int64, attempt int, hash string) error {
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO attempt_envs (order_id, attempt, env_hash) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`, orderID, attempt, hash); err != nil {
		return fmt.Errorf("link environment: %w", err)
	}
	return nil
}

// AttemptEnv is the environment one attempt ran in.
type AttemptEnv struct {
	OrderID int64
	Attempt int
	Hash    string
	Spec    []byte // the environment's JSON
}

// JobEnvironments reads the environments of job's attempts, by order and
// attempt; attempts without one are left out.
func (db *DB) JobEnvironments(ctx context.Context, jobID int64) ([]AttemptEnv, error) {
	rows, err := db.sql.QueryContext(ctx, `
		SELECT a.order_id, a.attempt, e.hash, e.spec
		FROM attempt_envs a JOIN orders o ON o.id = a.order_id JOIN environments e ON e.hash = a.env_hash
		WHERE o.job_id = ? ORDER BY a.order_id, a.attempt`, jobID)
	if err != nil {
		return nil, fmt.Errorf("read environments of job %d: %w", jobID, err)
	}
	defer rows.Close()
	var out []AttemptEnv
	for rows.Next() {
		var e AttemptEnv
		var spec string
		if err := rows.Scan(&e.OrderID, &e.Attempt, &e.Hash, &spec); err != nil {
			return nil, err
		}
		e.Spec = []byte(spec)
		out = append(out, e)
	}
	return out, rows.Err()
}
