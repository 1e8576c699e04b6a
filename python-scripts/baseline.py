"""baseline.py fits a scikit-learn baseline to the data of an nn.py Job and scores it the same way.

Run by mljob (cwd = run dir, argv[1] = the Job JSON or "job.json"), or by
hand from a checkout:

    /usr/bin/python3 python-scripts/baseline.py examples/wine_data/job-baseline.json

model "ridge" is RidgeCV on standardised features, "forest" a random
forest. The features (dropColumns), the row filters, the test split and
the CV folds (splitSeed) and the held-out keys (testMse, or cvMse, cvMseStd
and foldMse) come from mljob_data, as nn.py's do, so a baseline and an
nn.py run with the same data fields are scored on the same rows and compare
by those keys. It needs scikit-learn, not PyTorch.

The last stdout line is the Outcome JSON (see mljob_job.py); there are no
progress lines.
"""

import dataclasses
import pathlib
import sys
import time

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import RidgeCV
from sklearn.metrics import get_scorer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import mljob_data
import mljob_job
from mljob_data import MAX_SEED
from mljob_job import JobError, choice, number

SCRIPT_DIR = pathlib.Path(__file__).resolve().parent

MODELS = ("ridge", "forest")

# RIDGE_ALPHAS is the penalty grid RidgeCV picks from (by leave-one-out on
# the training rows): wide enough that the pick is rarely at an end, which
# the outcome's alpha shows.
RIDGE_ALPHAS = tuple(10.0 ** k for k in range(-3, 5))


@dataclasses.dataclass(frozen=True)
class Config:
    """Config is a validated baseline Job: every field baseline.py reads, with its default."""

    data_file_name: str
    dependent_variable: str
    drop_columns: tuple = ()
    min_dependent_var_value: float = None
    max_dependent_var_value: float = None
    cross_validate_only: bool = False
    cv_folds: int = 5
    cv_scoring: str = "neg_mean_squared_error"
    test_size: float = 0.2
    split_seed: int = mljob_data.DEFAULT_SPLIT_SEED
    model: str = "ridge"
    n_estimators: int = 300
    max_depth: int = None
    min_samples_leaf: int = 1
    seed: int = 42


def parse_job(job):
    """parse_job validates the Job dict and returns its Config.

    Every field is checked whichever model is chosen, so a sweep over model
    cannot hide a bad forest field behind ridge runs. Raises JobError
    naming the first bad field.
    """
    if not isinstance(job, dict):
        raise JobError("job", "want a JSON object")
    return Config(
        **mljob_data.data_fields(job),
        model=choice(job, "model", "ridge", MODELS),
        n_estimators=number(job, "nEstimators", 300, lo=1, integer=True),
        max_depth=number(job, "maxDepth", None, lo=1, integer=True, allow_none=True),
        min_samples_leaf=number(job, "minSamplesLeaf", 1, lo=1, integer=True),
        seed=number(job, "seed", 42, lo=0, hi=MAX_SEED, integer=True),
    )


def build_model(cfg, threads=None):
    """build_model returns the unfitted regressor the Job asks for.

    ridge scales its features first (fitted on the training rows only), so
    the penalty weighs every feature alike; the forest needs no scaling.
    """
    if cfg.model == "ridge":
        return Pipeline([("scale", StandardScaler()), ("ridge", RidgeCV(alphas=RIDGE_ALPHAS))])
    return RandomForestRegressor(n_estimators=cfg.n_estimators, max_depth=cfg.max_depth,
                                 min_samples_leaf=cfg.min_samples_leaf,
                                 random_state=cfg.seed, n_jobs=threads)


def _alpha(model):
    return float(model.named_steps["ridge"].alpha_) if isinstance(model, Pipeline) else None


def train_test(cfg, X, y, threads=None):
    """train_test fits on the train split and scores the test split; returns (outcome, model).

    loss = metric = testMse, the test split's mean squared error.
    """
    train, test = mljob_data.holdout(cfg, len(y))
    model = build_model(cfg, threads).fit(X[train], y[train])
    scores = mljob_data.split_scores(model.predict(X[test]), y[test])
    outcome = {"loss": scores["testMse"], "metric": scores["testMse"], **scores,
               "nTrain": len(train), "nTest": len(test)}
    if cfg.model == "ridge":
        outcome["alpha"] = _alpha(model)
    return outcome, model


def cross_validate(cfg, X, y, threads=None):
    """cross_validate fits and scores each CV fold; returns (outcome, fitted fold models).

    loss = cvMse, the mean of the folds' mean squared errors; metric = the
    mean crossValidationCrossingType score, as nn.py's (with the default
    scorer, -cvMse).
    """
    scorer = get_scorer(cfg.cv_scoring)
    fold_mse, scores, models = [], [], []
    for k, (train, test) in enumerate(mljob_data.folds(cfg, len(y)), start=1):
        mljob_job.log(f"baseline.py: fold {k}/{cfg.cv_folds}")
        model = build_model(cfg, threads).fit(X[train], y[train])
        fold_mse.append(mljob_data.mse(model.predict(X[test]), y[test]))
        scores.append(float(scorer(model, X[test], y[test])))
        models.append(model)
    held_out = mljob_data.cv_scores(fold_mse)
    outcome = {"loss": held_out["cvMse"], "metric": float(np.mean(scores)), **held_out,
               "cvScores": scores, "scoring": cfg.cv_scoring}
    if cfg.model == "ridge":
        outcome["cvAlphas"] = [_alpha(m) for m in models]
    return outcome, models


def run(job, script_dir=SCRIPT_DIR):
    """run fits the Job's baseline and returns the outcome fields; JobError for a bad Job."""
    cfg = parse_job(job)
    X, y, _ = mljob_data.load(cfg, script_dir, "baseline.py")
    threads = mljob_job.env_threads()
    mljob_job.log(f"baseline.py: {len(y)} rows, {X.shape[1]} features, model {cfg.model}")
    if cfg.cross_validate_only:
        outcome, _ = cross_validate(cfg, X, y, threads)
    else:
        outcome, _ = train_test(cfg, X, y, threads)
    outcome.update({
        "model": cfg.model,
        "nRows": len(y),
        "nFeaturesIn": X.shape[1],
        "threads": threads or 1,
        "seed": cfg.seed,
        "splitSeed": cfg.split_seed,
    })
    return outcome


def main(argv=None, stdout=None):
    """main runs baseline.py under the mljob contract and returns the exit code."""
    start = time.monotonic()

    def train(job):
        outcome = run(job)
        outcome["durationSeconds"] = round(time.monotonic() - start, 3)
        return outcome

    return mljob_job.run_script(train, argv, stdout)


if __name__ == "__main__":
    sys.exit(main())
