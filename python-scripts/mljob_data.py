"""mljob_data is the data side the training scripts share: one table, one held-out design.

nn.py and baseline.py read the same Job fields for their data
(dataFileName, dependentVariable, dropColumns, min/maxDependentVarValue) and for how they
are scored (crossValidateOnly, cvFolds, crossValidationCrossingType,
testSize, splitSeed), and build their features, test split and folds here,
so two jobs with the same values of these fields are scored on the same rows
and their held-out keys compare: testMse (train/test split) or cvMse,
cvMseStd and foldMse (CV), the mean squared error of the predictions on rows
the model never saw, with no penalty term, lower is better, whatever loss
the script trained with.

splitSeed alone draws the test split and the folds; a script's own seed
(weight init, shuffling, its trees) never moves them, so runs that differ
only in seed measure the seed's noise on fixed rows.
"""

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, train_test_split

import mljob_job
from mljob_job import JobError, boolean, choice, number, string

# CV_SCORERS lists the scikit-learn regression scorers crossValidationCrossingType
# may name; classification scorers make no sense for a regression target.
CV_SCORERS = (
    "explained_variance", "r2", "max_error", "neg_median_absolute_error",
    "neg_mean_absolute_error", "neg_mean_absolute_percentage_error",
    "neg_mean_squared_error", "neg_mean_squared_log_error",
    "neg_root_mean_squared_error", "neg_mean_poisson_deviance",
    "neg_mean_gamma_deviance",
)

# MAX_SEED keeps seeds valid for numpy's RandomState as well as torch.
MAX_SEED = 2**32 - 1

# DEFAULT_SPLIT_SEED is splitSeed when a Job sets none: the default seed (42)
# the scripts split with before splitSeed existed, so a Job with neither
# field keeps its test split and folds. A constant, not the Job's seed, so
# that jobs differing only in seed are scored on the same rows.
DEFAULT_SPLIT_SEED = 42


def dependent_variable(job):
    """dependent_variable returns the column to predict.

    The seed's Job spells it "depedentVariable"; both spellings are
    accepted, and a conflict between them is refused.
    """
    right, wrong = job.get("dependentVariable"), job.get("depedentVariable")
    if right is not None and wrong is not None and right != wrong:
        raise JobError("dependentVariable",
                       f"{right!r} conflicts with depedentVariable {wrong!r}: set one")
    if right is not None:
        return string(job, "dependentVariable")
    if wrong is not None:
        return string(job, "depedentVariable")
    raise JobError("dependentVariable", "missing: name the column to predict")


def drop_columns(job):
    """drop_columns returns dropColumns, the column names to leave out of the features.

    Whether each names a column is checked by load, which has the file.
    """
    value = job.get("dropColumns", [])
    if value is None:
        return ()
    if not isinstance(value, list):
        raise JobError("dropColumns", f"{value!r} is not a list of column names")
    names = []
    for i, name in enumerate(value):
        if not isinstance(name, str) or not name:
            raise JobError(f"dropColumns[{i}]", f"{name!r} is not a column name")
        if name not in names:
            names.append(name)
    return tuple(names)


def data_fields(job):
    """data_fields validates the Job's data and held-out fields.

    It returns them as keyword arguments for a script's Config, which must
    have these attributes: data_file_name, dependent_variable,
    drop_columns, min_dependent_var_value, max_dependent_var_value, cross_validate_only,
    cv_folds, cv_scoring, test_size, split_seed. Raises JobError naming
    the first bad field.
    """
    fields = dict(
        data_file_name=string(job, "dataFileName"),
        dependent_variable=dependent_variable(job),
        drop_columns=drop_columns(job),
        min_dependent_var_value=number(job, "minDependentVarValue", None, allow_none=True),
        max_dependent_var_value=number(job, "maxDependentVarValue", None, allow_none=True),
        cross_validate_only=boolean(job, "crossValidateOnly", False),
        cv_folds=number(job, "cvFolds", 5, lo=2, integer=True),
        cv_scoring=choice(job, "crossValidationCrossingType", "neg_mean_squared_error",
                          CV_SCORERS),
        test_size=number(job, "testSize", 0.2, lo=0, hi=1, lo_open=True, hi_open=True),
        split_seed=number(job, "splitSeed", DEFAULT_SPLIT_SEED, lo=0, hi=MAX_SEED,
                          integer=True),
    )
    lo, hi = fields["min_dependent_var_value"], fields["max_dependent_var_value"]
    if lo is not None and hi is not None and lo > hi:
        raise JobError("minDependentVarValue", f"{lo!r} is above maxDependentVarValue {hi!r}")
    return fields


def load(cfg, script_dir, who):
    """load reads the Job's data file and returns (X, y, feature_names).

    cfg carries data_fields' attributes. X holds every numeric column except
    the dependent variable and dropColumns (other columns are dropped with
    a note on stderr, prefixed with who); rows with missing values are dropped, then
    rows whose dependent variable lies outside [minDependentVarValue,
    maxDependentVarValue] (inclusive). X and y are float64 numpy arrays.
    """
    path = mljob_job.find_data_file(cfg.data_file_name, script_dir)
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise JobError("dataFileName", f"read {path}: {err}") from err
    dep = cfg.dependent_variable
    field = "dependentVariable"
    if dep not in frame.columns:
        raise JobError(field, f"column {dep!r} not in {cfg.data_file_name} "
                              f"(columns: {', '.join(map(str, frame.columns))})")
    target = pd.to_numeric(frame[dep], errors="coerce")
    if target.isna().all():
        raise JobError(field, f"column {dep!r} has no numeric values")
    for name in cfg.drop_columns:
        if name == dep:
            raise JobError("dropColumns", f"{name!r} is the dependentVariable, never a feature")
        if name not in frame.columns:
            raise JobError("dropColumns", f"no column {name!r} in {cfg.data_file_name} "
                                          f"(columns: {', '.join(map(str, frame.columns))})")
    # Dropped before the missing-value check: a left-out column's gaps cost no rows.
    features = frame.drop(columns=[dep, *cfg.drop_columns])
    numeric = features.select_dtypes(include="number")
    dropped = [c for c in features.columns if c not in numeric.columns]
    if dropped:
        mljob_job.log(f"{who}: ignoring non-numeric columns: {', '.join(map(str, dropped))}")
    if numeric.shape[1] == 0:
        raise JobError("dropColumns" if cfg.drop_columns else "dataFileName",
                       f"{cfg.data_file_name} has no numeric feature columns left")
    keep = target.notna() & numeric.notna().all(axis=1)
    if (~keep).any():
        mljob_job.log(f"{who}: dropping {(~keep).sum()} rows with missing values")
    if cfg.min_dependent_var_value is not None:
        keep &= target >= cfg.min_dependent_var_value
    if cfg.max_dependent_var_value is not None:
        keep &= target <= cfg.max_dependent_var_value
    X = numeric[keep].to_numpy(dtype=np.float64)
    y = target[keep].to_numpy(dtype=np.float64)
    need = 2 * cfg.cv_folds if cfg.cross_validate_only else 5
    if len(y) < need:
        raise JobError("minDependentVarValue/maxDependentVarValue",
                       f"{len(y)} of {len(frame)} rows left after filtering, need at least {need}")
    return X, y, [str(c) for c in numeric.columns]


def holdout(cfg, n):
    """holdout returns (train, test) row indices of the train/test split of n rows.

    The split is scikit-learn's train_test_split with testSize and
    random_state splitSeed, so X[train] is what train_test_split(X, ...)
    would return.
    """
    train, test = train_test_split(np.arange(n), test_size=cfg.test_size,
                                   random_state=cfg.split_seed)
    if len(train) < 2 or len(test) < 1:
        raise JobError("testSize", f"{cfg.test_size} leaves {len(train)} train and "
                                   f"{len(test)} test rows")
    return train, test


def folds(cfg, n):
    """folds returns the cvFolds (train, test) row-index pairs of k-fold CV over n rows.

    scikit-learn's KFold, shuffled with random_state splitSeed.
    """
    return list(KFold(n_splits=cfg.cv_folds, shuffle=True, random_state=cfg.split_seed)
                .split(np.arange(n)))


def mse(pred, y):
    """mse returns the mean squared error of pred against y (NaN or inf when pred is)."""
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged model reports inf/NaN
        err = np.asarray(pred, dtype=np.float64) - np.asarray(y, dtype=np.float64)
        return float(np.mean(err * err))


def split_scores(pred, y):
    """split_scores returns the held-out keys of a train/test split: {"testMse"}."""
    return {"testMse": mse(pred, y)}


def cv_scores(fold_mse):
    """cv_scores returns the held-out keys of CV from each fold's test MSE.

    cvMse is their mean, cvMseStd their standard deviation (numpy's
    default, ddof=0: the spread of these k folds), foldMse the list.
    """
    values = np.asarray(fold_mse, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return {"cvMse": float(values.mean()), "cvMseStd": float(values.std()),
                "foldMse": [float(v) for v in values]}
