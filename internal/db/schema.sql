-- Schema of the mljob queue file, applied by migrate in db.go.
--
-- WARNING: append-only. Each "-- version: N" line starts migration step N; a
-- step that has shipped is never edited, because files already at that
-- user_version would never see the change. Add a new step instead.
--
-- Times are UTC RFC 3339 text with nine fractional digits (see timeFormat in
-- db.go); NULL means "not yet".

-- version: 1

-- jobs holds each submitted job spec verbatim, plus the fields mljob reads.
CREATE TABLE jobs (
	id         INTEGER PRIMARY KEY,
	project    TEXT NOT NULL,
	script     TEXT NOT NULL,
	data_file  TEXT NOT NULL DEFAULT '',
	priority   INTEGER NOT NULL DEFAULT 0,
	spec       TEXT NOT NULL,
	created_at TEXT NOT NULL
);

-- orders is the live state of a requested job. priority is copied from the
-- job so that a claim reads one table through orders_claim.
CREATE TABLE orders (
	id          INTEGER PRIMARY KEY,
	job_id      INTEGER NOT NULL REFERENCES jobs(id),
	state       TEXT NOT NULL CHECK (state IN ('unassigned','assigned','running','succeeded','failed','cancelled')),
	priority    INTEGER NOT NULL,
	attempt     INTEGER NOT NULL DEFAULT 0,
	host        TEXT,
	slot        TEXT,
	dispatcher  TEXT,
	run_dir     TEXT,
	pid         INTEGER,
	last_error  TEXT,
	created_at  TEXT NOT NULL,
	assigned_at TEXT,
	started_at  TEXT,
	finished_at TEXT
);

-- orders_claim is exactly the claim's subquery order, restricted to the rows
-- it can pick, so a claim stays cheap however many orders have finished.
CREATE INDEX orders_claim ON orders(priority DESC, id) WHERE state = 'unassigned';
CREATE INDEX orders_state ON orders(state);
CREATE INDEX orders_job ON orders(job_id);

-- attempts keeps one row per claim of an order, so a released or failed
-- attempt stays visible after the order moves on.
CREATE TABLE attempts (
	order_id    INTEGER NOT NULL REFERENCES orders(id),
	attempt     INTEGER NOT NULL,
	host        TEXT,
	slot        TEXT,
	dispatcher  TEXT,
	run_dir     TEXT,
	pid         INTEGER,
	state       TEXT NOT NULL CHECK (state IN ('unassigned','assigned','running','succeeded','failed','cancelled')),
	exit_code   INTEGER,
	error       TEXT,
	assigned_at TEXT,
	started_at  TEXT,
	finished_at TEXT,
	PRIMARY KEY (order_id, attempt)
);

-- outcomes holds at most one result per attempt: UNIQUE(order_id, attempt)
-- is what makes recording idempotent. The foreign key to attempts refuses an
-- outcome for an attempt that was never claimed.
CREATE TABLE outcomes (
	id               INTEGER PRIMARY KEY,
	order_id         INTEGER NOT NULL REFERENCES orders(id),
	attempt          INTEGER NOT NULL,
	job_id           INTEGER NOT NULL REFERENCES jobs(id),
	host             TEXT,
	succeeded        INTEGER NOT NULL CHECK (succeeded IN (0, 1)),
	status           INTEGER,
	loss             REAL,
	metric           REAL,
	exit_code        INTEGER,
	duration_seconds REAL,
	error            TEXT,
	outcome_json     TEXT,
	stdout_tail      TEXT,
	stderr_tail      TEXT,
	created_at       TEXT NOT NULL,
	UNIQUE (order_id, attempt),
	FOREIGN KEY (order_id, attempt) REFERENCES attempts(order_id, attempt)
);
CREATE INDEX outcomes_job ON outcomes(job_id);

-- version: 2

-- dispatchers has one row per `mljob dispatch` process. Its heartbeat tells
-- a live dispatcher from one that died (kill -9, a laptop that slept), whose
-- assigned and running orders another dispatcher may then adopt.
CREATE TABLE dispatchers (
	id           TEXT PRIMARY KEY,
	hostname     TEXT NOT NULL,
	pid          INTEGER NOT NULL,
	started_at   TEXT NOT NULL,
	heartbeat_at TEXT NOT NULL,
	stopped_at   TEXT
);

-- hosts keeps what the last dispatcher knew of each host: its resolved
-- entry (JSON, so commands without a hosts file can reach it) and state.
CREATE TABLE hosts (
	name       TEXT PRIMARY KEY,
	config     TEXT NOT NULL,
	status     TEXT NOT NULL DEFAULT 'unknown',
	load       REAL,
	last_error TEXT,
	seen_at    TEXT,
	updated_at TEXT NOT NULL
);

-- infra_failures counts the attempts of an order lost to infrastructure
-- (host lost, SSH error, upload failure) since it was last queued by hand;
-- dispatch --retries bounds it.
ALTER TABLE orders ADD COLUMN infra_failures INTEGER NOT NULL DEFAULT 0;

-- version: 3

-- abandoned marks an attempt given up while its run may still be going (its
-- host stayed unreachable past --lost-after): when the host answers again,
-- a dispatcher looks at the run dir, and a run that finished after all
-- keeps its outcome (see RecordLateOutcome).
ALTER TABLE attempts ADD COLUMN abandoned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX attempts_abandoned ON attempts(host) WHERE abandoned = 1;

-- version: 4

-- meta holds facts about this queue file. queue_id names it on hosts: run
-- dirs are <queue_id>-<order>-<attempt>, so two queue files (two laptops, or
-- a fresh file after an old one) sharing a host's workdir never collide.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('queue_id', lower(hex(randomblob(4))));

-- version: 5

-- sweeps names each batch `mljob submit` made from a grid, random draws or
-- a sweep file; definition is how (JSON: grid, ranges, seed), so a sweep
-- can be told apart and redone. Names are unique and never all digits, so
-- that "ID or name" is never ambiguous.
CREATE TABLE sweeps (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	project    TEXT NOT NULL DEFAULT '',
	definition TEXT NOT NULL,
	created_at TEXT NOT NULL
);

-- A job remembers its sweep (NULL: submitted on its own). spec_hash is the
-- first 16 bytes of the SHA-256 of the spec's canonical JSON (sorted keys,
-- compact; see SpecHash), so that resubmitting an identical job into a
-- project is found by one index probe however many jobs there are (the
-- project is checked on the few rows found). Rows from before this version get their
-- hash at the next submit (jobs_unhashed finds them; Go computes it).
ALTER TABLE jobs ADD COLUMN sweep_id INTEGER REFERENCES sweeps(id);
ALTER TABLE jobs ADD COLUMN spec_hash BLOB;
CREATE INDEX jobs_sweep ON jobs(sweep_id) WHERE sweep_id IS NOT NULL;
CREATE INDEX jobs_spec_hash ON jobs(spec_hash);
CREATE INDEX jobs_unhashed ON jobs(id) WHERE spec_hash IS NULL;

-- version: 6

-- status_since is when a host's status last changed (to what status holds
-- now), so `mljob hosts list` can say "down since 14:02". SaveHost keeps it
-- while the status stays the same. Rows from before this version have NULL
-- (not known) until their status next changes.
ALTER TABLE hosts ADD COLUMN status_since TEXT;

-- version: 7

-- A run handed to Slurm (a hosts.yaml entry of kind slurm) is one task of an
-- `sbatch --array` job: slurm_job_id is the array job's id, slurm_array_index
-- the task's index in it, and slurm_state the task's state as squeue or
-- sacct last printed it (PENDING, RUNNING, COMPLETED, TIMEOUT, ...; NULL
-- before the first poll sees it). All three are NULL for runs not handed to
-- Slurm, and for rows from before this version. attempts keeps them per
-- attempt for the history; orders holds the current attempt's, as it holds
-- its host and pid, so that cancel can scancel the task, show can name it
-- and status can count Slurm's pending and running tasks per host entry
-- without a join.
ALTER TABLE orders ADD COLUMN slurm_job_id INTEGER;
ALTER TABLE orders ADD COLUMN slurm_array_index INTEGER;
ALTER TABLE orders ADD COLUMN slurm_state TEXT;
ALTER TABLE attempts ADD COLUMN slurm_job_id INTEGER;
ALTER TABLE attempts ADD COLUMN slurm_array_index INTEGER;
ALTER TABLE attempts ADD COLUMN slurm_state TEXT;

-- version: 8

-- hosts.config kept each entry's env values (often API keys) in plain
-- text. They are no longer stored: runs take them from the hosts file, and
-- cancel and logs need none. Blank the values already stored, keeping the
-- keys.
UPDATE hosts SET config = json_set(config, '$.Env', json((
	SELECT json_group_array(json_object('Key', json_extract(e.value, '$.Key'), 'Value', ''))
	FROM json_each(hosts.config, '$.Env') AS e)))
WHERE json_type(config, '$.Env') = 'array';

-- version: 9

-- superseded says why an outcome is kept but does not count for its order:
-- another attempt of the same order also finished (a run given up when its
-- host stopped answering, found finished later), and that attempt's outcome
-- is the order's. NULL: the outcome counts, or is an earlier attempt's
-- history (a failed attempt retried with --retry-failed).
ALTER TABLE outcomes ADD COLUMN superseded TEXT;

-- version: 10

-- warning says what of a script's Outcome line mljob could not read, on an
-- outcome that may well have succeeded: a "loss" or "metric" that is not a
-- number (recorded as NULL), no "status" (the exit code decided). NULL when
-- nothing, and for rows from before this version.
ALTER TABLE outcomes ADD COLUMN warning TEXT;

-- version: 11

-- A run handed to a batch scheduler is named by its engine's own task id,
-- which mljob stores as it is given (Slurm's "JOB_INDEX": the array job and
-- the task's index); sched_state is the task's state in the scheduler's
-- words as last seen (NULL before the first look). Both are NULL for runs
-- not handed to a scheduler. They replace version 7's Slurm columns, whose
-- values move over.
ALTER TABLE orders ADD COLUMN sched_task TEXT;
ALTER TABLE orders ADD COLUMN sched_state TEXT;
ALTER TABLE attempts ADD COLUMN sched_task TEXT;
ALTER TABLE attempts ADD COLUMN sched_state TEXT;
UPDATE orders SET sched_task = slurm_job_id || '_' || slurm_array_index, sched_state = slurm_state
	WHERE slurm_job_id IS NOT NULL;
UPDATE attempts SET sched_task = slurm_job_id || '_' || slurm_array_index, sched_state = slurm_state
	WHERE slurm_job_id IS NOT NULL;
ALTER TABLE orders DROP COLUMN slurm_job_id;
ALTER TABLE orders DROP COLUMN slurm_array_index;
ALTER TABLE orders DROP COLUMN slurm_state;
ALTER TABLE attempts DROP COLUMN slurm_job_id;
ALTER TABLE attempts DROP COLUMN slurm_array_index;
ALTER TABLE attempts DROP COLUMN slurm_state;

-- version: 12

-- Progress lines: a stdout line that is a JSON object with a numeric "step"
-- is a point on a learning curve (see pyexec.ParseProgress). progress keeps,
-- per attempt, how far its stdout has been read for them (stdout_offset, in
-- bytes, always at a line's start: a dispatcher that adopts the run goes on
-- from there) and how many were taken; it is written in the transaction that
-- writes their points, so nothing is stored twice or lost across a restart.
CREATE TABLE progress (
	order_id      INTEGER NOT NULL,
	attempt       INTEGER NOT NULL,
	stdout_offset INTEGER NOT NULL DEFAULT 0,
	lines         INTEGER NOT NULL DEFAULT 0,
	updated_at    TEXT NOT NULL,
	PRIMARY KEY (order_id, attempt),
	FOREIGN KEY (order_id, attempt) REFERENCES attempts(order_id, attempt)
);

-- progress_skipped counts, per attempt and reason, the progress lines not
-- taken (a step that is not a number or goes backwards, a line too long, too
-- many metrics, a bad series) and the values dropped from lines taken (not
-- finite, a name too long, too many curves).
CREATE TABLE progress_skipped (
	order_id INTEGER NOT NULL,
	attempt  INTEGER NOT NULL,
	reason   TEXT NOT NULL,
	count    INTEGER NOT NULL,
	PRIMARY KEY (order_id, attempt, reason),
	FOREIGN KEY (order_id, attempt) REFERENCES attempts(order_id, attempt)
);

-- metrics holds the points of each curve: (order, attempt, series, name) is
-- a curve ("" is the run's unnamed series), idx the point's number in it
-- from 0, step and value as the script printed them, at when the dispatcher
-- read the line. A long curve is thinned (see internal/progress): all of its
-- first points, then a grid of the rest, and always its first, last, lowest
-- and highest point.
CREATE TABLE metrics (
	order_id INTEGER NOT NULL,
	attempt  INTEGER NOT NULL,
	series   TEXT NOT NULL,
	name     TEXT NOT NULL,
	idx      INTEGER NOT NULL,
	step     REAL NOT NULL,
	value    REAL NOT NULL,
	at       TEXT NOT NULL,
	PRIMARY KEY (order_id, attempt, series, name, idx),
	FOREIGN KEY (order_id, attempt) REFERENCES attempts(order_id, attempt)
) WITHOUT ROWID;

-- version: 13

-- The objective: what a job's runs are ranked by (see internal/objective).
-- objective names a key of the Outcome line or a dotted path into it, goal
-- says which way is better. A job submitted before is the seed's loss,
-- lower is better. objective_value is the outcome's value of its job's
-- objective, read when the outcome is recorded (NULL when the line lacks
-- it or it is not a number), so that ranking is one ORDER BY.
ALTER TABLE jobs ADD COLUMN objective TEXT NOT NULL DEFAULT 'loss';
ALTER TABLE jobs ADD COLUMN goal TEXT NOT NULL DEFAULT 'minimize' CHECK (goal IN ('minimize', 'maximize'));
ALTER TABLE outcomes ADD COLUMN objective_value REAL;
UPDATE outcomes SET objective_value = loss;

-- version: 14

-- Pruning (see internal/prune): a job may name a pruner, a rule that stops
-- its runs early when their progress lines say they are losing. pruner is
-- the rule as JSON (prune.Rule), NULL for none.
ALTER TABLE jobs ADD COLUMN pruner TEXT;

-- A run stopped by its pruner ends in a state of its own, 'pruned', neither
-- failed nor cancelled. SQLite cannot change a CHECK constraint in place,
-- so orders and attempts are rebuilt with every column and index they have
-- at version 13 (migrate runs a step with foreign keys off and checks them
-- before it commits).
CREATE TABLE orders_v14 (
	id             INTEGER PRIMARY KEY,
	job_id         INTEGER NOT NULL REFERENCES jobs(id),
	state          TEXT NOT NULL CHECK (state IN ('unassigned','assigned','running','succeeded','failed','cancelled','pruned')),
	priority       INTEGER NOT NULL,
	attempt        INTEGER NOT NULL DEFAULT 0,
	host           TEXT,
	slot           TEXT,
	dispatcher     TEXT,
	run_dir        TEXT,
	pid            INTEGER,
	last_error     TEXT,
	created_at     TEXT NOT NULL,
	assigned_at    TEXT,
	started_at     TEXT,
	finished_at    TEXT,
	infra_failures INTEGER NOT NULL DEFAULT 0,
	sched_task     TEXT,
	sched_state    TEXT
);
INSERT INTO orders_v14 (id, job_id, state, priority, attempt, host, slot, dispatcher, run_dir, pid, last_error,
	created_at, assigned_at, started_at, finished_at, infra_failures, sched_task, sched_state)
SELECT id, job_id, state, priority, attempt, host, slot, dispatcher, run_dir, pid, last_error,
	created_at, assigned_at, started_at, finished_at, infra_failures, sched_task, sched_state FROM orders;
DROP TABLE orders;
ALTER TABLE orders_v14 RENAME TO orders;
CREATE INDEX orders_claim ON orders(priority DESC, id) WHERE state = 'unassigned';
CREATE INDEX orders_state ON orders(state);
CREATE INDEX orders_job ON orders(job_id);

CREATE TABLE attempts_v14 (
	order_id    INTEGER NOT NULL REFERENCES orders(id),
	attempt     INTEGER NOT NULL,
	host        TEXT,
	slot        TEXT,
	dispatcher  TEXT,
	run_dir     TEXT,
	pid         INTEGER,
	state       TEXT NOT NULL CHECK (state IN ('unassigned','assigned','running','succeeded','failed','cancelled','pruned')),
	exit_code   INTEGER,
	error       TEXT,
	assigned_at TEXT,
	started_at  TEXT,
	finished_at TEXT,
	abandoned   INTEGER NOT NULL DEFAULT 0,
	sched_task  TEXT,
	sched_state TEXT,
	PRIMARY KEY (order_id, attempt)
);
INSERT INTO attempts_v14 (order_id, attempt, host, slot, dispatcher, run_dir, pid, state, exit_code, error,
	assigned_at, started_at, finished_at, abandoned, sched_task, sched_state)
SELECT order_id, attempt, host, slot, dispatcher, run_dir, pid, state, exit_code, error,
	assigned_at, started_at, finished_at, abandoned, sched_task, sched_state FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_v14 RENAME TO attempts;
CREATE INDEX attempts_abandoned ON attempts(host) WHERE abandoned = 1;

-- prune_rungs holds what successive halving (rule asha) judges by: the
-- value an attempt had, on the series it is judged on, when it reached a
-- rung (the value of the first point at or past the rung's step, as Optuna
-- records it). A run is compared with the values the other runs of its
-- study (the same project, sweep and objective) recorded at that rung,
-- whatever became of them, so the rows stay when a run is pruned, fails
-- or is retried. A restarted dispatcher goes on from them.
CREATE TABLE prune_rungs (
	order_id INTEGER NOT NULL,
	attempt  INTEGER NOT NULL,
	rung     INTEGER NOT NULL,
	series   TEXT NOT NULL,
	step     REAL NOT NULL,
	value    REAL NOT NULL,
	at       TEXT NOT NULL,
	PRIMARY KEY (order_id, attempt, rung),
	FOREIGN KEY (order_id, attempt) REFERENCES attempts(order_id, attempt)
);
CREATE INDEX prune_rungs_rung ON prune_rungs(rung, series);

-- prunes records why an attempt was pruned, once: its rule (JSON), the
-- series and the point judged (step, value; value NULL when it was not a
-- number), the rung it failed (NULL for the median rule), the value it
-- had to reach (cutoff, NULL when none), its rank among the values
-- compared (1 is the best) and how many there were (among).
CREATE TABLE prunes (
	order_id INTEGER NOT NULL,
	attempt  INTEGER NOT NULL,
	rule     TEXT NOT NULL,
	series   TEXT NOT NULL,
	rung     INTEGER,
	step     REAL NOT NULL,
	value    REAL,
	cutoff   REAL,
	rank     INTEGER,
	among    INTEGER,
	at       TEXT NOT NULL,
	PRIMARY KEY (order_id, attempt),
	FOREIGN KEY (order_id, attempt) REFERENCES attempts(order_id, attempt)
);

-- version: 15

-- code_diffs holds the uncommitted changes of a scripts repository (the
-- text of `git diff HEAD`), once per content: hash is the SHA-256 of data,
-- size the whole diff's bytes (more than data's length when it was cut).
CREATE TABLE code_diffs (
	hash       TEXT PRIMARY KEY,
	data       BLOB NOT NULL,
	size       INTEGER NOT NULL,
	created_at TEXT NOT NULL
);

-- job_code says which code a job was submitted with: repo is 'git' (with
-- its commit, whether it was dirty and the diff, if any), 'none' (the
-- scripts dir is not in a git repository), 'no git' (git was not found)
-- or 'error' (git failed: note says how); note also says when the diff was
-- cut, or what it leaves out. script_hash and data_hash are the SHA-256 of
-- the script and data file as they were at submit ('' for no data file).
CREATE TABLE job_code (
	job_id      INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
	repo        TEXT NOT NULL CHECK (repo IN ('git','none','no git','error')),
	git_commit  TEXT NOT NULL DEFAULT '',
	dirty       INTEGER NOT NULL DEFAULT 0,
	diff_hash   TEXT REFERENCES code_diffs(hash),
	note        TEXT NOT NULL DEFAULT '',
	script_hash TEXT NOT NULL DEFAULT '',
	data_hash   TEXT NOT NULL DEFAULT ''
);

-- environments holds each distinct environment runs ran in (Python, module
-- versions, host, CPU, GPUs), as JSON, once per content: hash is the
-- SHA-256 of spec. attempt_envs links each attempt to the one it ran in.
CREATE TABLE environments (
	hash       TEXT PRIMARY KEY,
	spec       TEXT NOT NULL,
	created_at TEXT NOT NULL
);
CREATE TABLE attempt_envs (
	order_id INTEGER NOT NULL,
	attempt  INTEGER NOT NULL,
	env_hash TEXT NOT NULL REFERENCES environments(hash),
	PRIMARY KEY (order_id, attempt),
	FOREIGN KEY (order_id, attempt) REFERENCES attempts(order_id, attempt) ON DELETE CASCADE
);

-- version: 16

-- Artifacts (see internal/artifacts): the files a run leaves for home.
-- jobs.artifacts is the job's globs as a JSON array (from the job, else
-- its sweep file, else its script's field declaration; NULL: none, only
-- the run's artifacts/ dir), jobs.artifacts_cap its cap in bytes (NULL:
-- the dispatch's).
ALTER TABLE jobs ADD COLUMN artifacts TEXT;
ALTER TABLE jobs ADD COLUMN artifacts_cap INTEGER;

-- artifact_fetches holds, per attempt whose run ended with an outcome, how
-- far bringing its artifacts home got: written pending in the outcome's
-- transaction, so that a dispatcher that dies before the copy leaves the
-- next one the work; listed once the host's listing is stored in
-- artifacts; done when every file is home; over_cap when the listing
-- passed the cap (nothing copied, error says so); failed when it never
-- can be (the run dir is gone).
CREATE TABLE artifact_fetches (
	order_id   INTEGER NOT NULL,
	attempt    INTEGER NOT NULL,
	host       TEXT NOT NULL,
	state      TEXT NOT NULL CHECK (state IN ('pending','listed','done','over_cap','failed')),
	total      INTEGER,
	cap        INTEGER,
	error      TEXT,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (order_id, attempt),
	FOREIGN KEY (order_id, attempt) REFERENCES attempts(order_id, attempt)
);
CREATE INDEX artifact_fetches_open ON artifact_fetches(host) WHERE state IN ('pending','listed');

-- artifacts: one row per file of an attempt's listing, with the size and
-- SHA-256 the host computed; state done once the file is home, whole
-- (its bytes hashed again here and found equal).
CREATE TABLE artifacts (
	order_id   INTEGER NOT NULL,
	attempt    INTEGER NOT NULL,
	path       TEXT NOT NULL,
	size       INTEGER NOT NULL,
	sha256     TEXT NOT NULL,
	state      TEXT NOT NULL CHECK (state IN ('pending','done')),
	fetched_at TEXT,
	PRIMARY KEY (order_id, attempt, path),
	FOREIGN KEY (order_id, attempt) REFERENCES artifact_fetches(order_id, attempt)
);

-- version: 17

-- A study is a sweep whose points the dispatcher proposes one at a time by
-- a model (method 'tpe', see internal/tpe), from the outcomes so far,
-- rather than a plan queued at submit. It keeps what the dispatcher needs
-- to make each trial's job: the budget (how many trials in all), how many
-- may be in flight at once (parallel, NULL for every free slot), the seed,
-- the space (JSON: [{"path":P,"range":"log:1e-4:1"}], sweep.ParseSpace)
-- and the base job with the fields Submit stores for every job.
CREATE TABLE studies (
	sweep_id   INTEGER PRIMARY KEY REFERENCES sweeps(id),
	method     TEXT NOT NULL CHECK (method IN ('tpe')),
	budget     INTEGER NOT NULL CHECK (budget > 0),
	parallel   INTEGER CHECK (parallel > 0),
	seed       INTEGER NOT NULL,
	space      TEXT NOT NULL,
	project    TEXT NOT NULL,
	script     TEXT NOT NULL,
	data_file  TEXT NOT NULL,
	priority   INTEGER NOT NULL,
	spec       TEXT NOT NULL,
	allow_new  INTEGER NOT NULL DEFAULT 0,
	objective  TEXT NOT NULL,
	goal       TEXT NOT NULL CHECK (goal IN ('minimize', 'maximize')),
	pruner     TEXT
);

-- A study's job is a trial: trial is its number in the study from 0 (the
-- sampler's random stream is seeded by it), params the point proposed, as
-- JSON numbers in the order of the space (a choice by its index). The
-- unique index is what stops two dispatchers from taking one number.
ALTER TABLE jobs ADD COLUMN trial INTEGER;
ALTER TABLE jobs ADD COLUMN params TEXT;
CREATE UNIQUE INDEX jobs_trial ON jobs(sweep_id, trial) WHERE trial IS NOT NULL;

-- version: 18

-- costs holds what each attempt cost, as its run's wrapper measured it on
-- the host: wall seconds, CPU seconds of the run's process tree in user
-- and system mode, the peak resident set of its largest process (bytes),
-- and the GPUs it held. A pruned, cancelled or failed attempt has one too.
CREATE TABLE costs (
	order_id      INTEGER NOT NULL,
	attempt       INTEGER NOT NULL,
	wall_seconds  REAL NOT NULL,
	user_seconds  REAL NOT NULL,
	sys_seconds   REAL NOT NULL,
	max_rss_bytes INTEGER NOT NULL,
	gpus          INTEGER NOT NULL,
	PRIMARY KEY (order_id, attempt),
	FOREIGN KEY (order_id, attempt) REFERENCES attempts(order_id, attempt)
);

-- replicate_groups is one `mljob replicate`: the sweep (or named jobs) it
-- drew the configurations from, their objective, and the new seeds per
-- configuration; replicates names each job it queued, the job whose
-- configuration it repeats (source_job_id) and that job's rank when the
-- group was made (1 is the best).
CREATE TABLE replicate_groups (
	id         INTEGER PRIMARY KEY,
	project    TEXT NOT NULL,
	sweep_id   INTEGER REFERENCES sweeps(id),
	objective  TEXT NOT NULL,
	goal       TEXT NOT NULL,
	seeds      INTEGER NOT NULL,
	created_at TEXT NOT NULL
);
CREATE TABLE replicates (
	job_id        INTEGER PRIMARY KEY REFERENCES jobs(id),
	group_id      INTEGER NOT NULL REFERENCES replicate_groups(id),
	source_job_id INTEGER NOT NULL REFERENCES jobs(id),
	source_rank   INTEGER NOT NULL
);
CREATE INDEX replicates_group ON replicates(group_id, source_rank);

-- version: 19

-- A study's rev counts the changes to its trials; a trial's trial_rev is
-- the rev of its last change. The dispatcher keeps a study's trials in
-- memory between proposals and reads only those with a trial_rev above
-- what it saw, so a proposal does not read the whole study. The triggers
-- mark a trial on whatever its state as the sampler sees it is made of:
-- its job made, its order's state and attempt, its outcomes (and whether
-- they count), its prune verdict.
ALTER TABLE studies ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN trial_rev INTEGER;
CREATE INDEX jobs_trial_rev ON jobs(sweep_id, trial_rev) WHERE trial IS NOT NULL;
CREATE TRIGGER trial_made AFTER INSERT ON jobs WHEN NEW.trial IS NOT NULL
BEGIN
	UPDATE studies SET rev = rev + 1 WHERE sweep_id = NEW.sweep_id;
	UPDATE jobs SET trial_rev = (SELECT rev FROM studies WHERE sweep_id = NEW.sweep_id) WHERE id = NEW.id;
END;
CREATE TRIGGER trial_order AFTER UPDATE OF state, attempt ON orders
WHEN (SELECT trial FROM jobs WHERE id = NEW.job_id) IS NOT NULL
BEGIN
	UPDATE studies SET rev = rev + 1 WHERE sweep_id = (SELECT sweep_id FROM jobs WHERE id = NEW.job_id);
	UPDATE jobs SET trial_rev = (SELECT rev FROM studies WHERE sweep_id = jobs.sweep_id) WHERE id = NEW.job_id;
END;
CREATE TRIGGER trial_outcome AFTER INSERT ON outcomes
WHEN (SELECT trial FROM jobs WHERE id = NEW.job_id) IS NOT NULL
BEGIN
	UPDATE studies SET rev = rev + 1 WHERE sweep_id = (SELECT sweep_id FROM jobs WHERE id = NEW.job_id);
	UPDATE jobs SET trial_rev = (SELECT rev FROM studies WHERE sweep_id = jobs.sweep_id) WHERE id = NEW.job_id;
END;
CREATE TRIGGER trial_outcome_counts AFTER UPDATE OF succeeded, superseded, objective_value ON outcomes
WHEN (SELECT trial FROM jobs WHERE id = NEW.job_id) IS NOT NULL
BEGIN
	UPDATE studies SET rev = rev + 1 WHERE sweep_id = (SELECT sweep_id FROM jobs WHERE id = NEW.job_id);
	UPDATE jobs SET trial_rev = (SELECT rev FROM studies WHERE sweep_id = jobs.sweep_id) WHERE id = NEW.job_id;
END;
CREATE TRIGGER trial_pruned AFTER INSERT ON prunes
WHEN (SELECT j.trial FROM orders o JOIN jobs j ON j.id = o.job_id WHERE o.id = NEW.order_id) IS NOT NULL
BEGIN
	UPDATE studies SET rev = rev + 1
		WHERE sweep_id = (SELECT j.sweep_id FROM orders o JOIN jobs j ON j.id = o.job_id WHERE o.id = NEW.order_id);
	UPDATE jobs SET trial_rev = (SELECT rev FROM studies WHERE sweep_id = jobs.sweep_id)
		WHERE id = (SELECT job_id FROM orders WHERE id = NEW.order_id);
END;

-- A study keeps what submit gives every job, for the trials it makes: the
-- artifacts' globs and cap, and in study_code the code it was submitted
-- with (as job_code, which each trial's job gets a copy of).
ALTER TABLE studies ADD COLUMN artifacts TEXT;
ALTER TABLE studies ADD COLUMN artifacts_cap INTEGER;
CREATE TABLE study_code (
	sweep_id    INTEGER PRIMARY KEY REFERENCES studies(sweep_id) ON DELETE CASCADE,
	repo        TEXT NOT NULL CHECK (repo IN ('git','none','no git','error')),
	git_commit  TEXT NOT NULL DEFAULT '',
	dirty       INTEGER NOT NULL DEFAULT 0,
	diff_hash   TEXT REFERENCES code_diffs(hash),
	note        TEXT NOT NULL DEFAULT '',
	script_hash TEXT NOT NULL DEFAULT '',
	data_hash   TEXT NOT NULL DEFAULT ''
);

-- version: 20

-- run_dir_removals records each run dir `mljob gc` removed from its host
-- (or found already gone), so that the next gc does not visit it again.
CREATE TABLE run_dir_removals (
	order_id   INTEGER NOT NULL,
	attempt    INTEGER NOT NULL,
	host       TEXT NOT NULL,
	run_dir    TEXT NOT NULL,
	removed_at TEXT NOT NULL,
	PRIMARY KEY (order_id, attempt),
	FOREIGN KEY (order_id, attempt) REFERENCES attempts(order_id, attempt)
);

-- version: 21

-- constant_liar is whether a study's sampler counts its trials in flight as
-- the worst value (1) or leaves them out (0, Optuna 3.1's default), as its
-- sweep file's constantLiar: asked. An older mljob always used the liar and
-- wrote no column, so its studies default to 1 and keep proposing as they
-- did; a new study always writes the column (0 unless the file said true).
ALTER TABLE studies ADD COLUMN constant_liar INTEGER NOT NULL DEFAULT 1 CHECK (constant_liar IN (0, 1));
