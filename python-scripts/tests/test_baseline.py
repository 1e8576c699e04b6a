"""Tests for baseline.py: its held-out keys, and that it scores on nn.py's rows."""

import io
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import baseline
import mljob_data
import nn

SCRIPTS = pathlib.Path(baseline.__file__).resolve().parent
EXAMPLES = SCRIPTS.parent / "examples" / "wine_data"


@pytest.fixture
def bjob():
    """bjob returns a small baseline Job on the shipped wine data (a fresh dict per test)."""
    return {
        "jobId": "base-1",
        "scriptName": "baseline.py",
        "projectName": "wine_data",
        "dataFileName": "wine_data.csv",
        "dependentVariable": "proline",
        "model": "ridge",
        "nEstimators": 20,
    }


@pytest.fixture
def run_baseline(tmp_path, monkeypatch):
    """run_baseline runs baseline.main in-process in a fresh run dir.

    It returns (exit code, stdout lines, the Outcome).
    """
    monkeypatch.chdir(tmp_path)

    def run(job):
        out = io.StringIO()
        code = baseline.main(["baseline.py", json.dumps(job)], stdout=out)
        lines = out.getvalue().splitlines()
        return code, lines, json.loads(lines[-1])

    return run


def wine(job):
    return nn.load_data(nn.parse_job(dict(job, scriptName="nn.py")))[:2]


def independent_model(job):
    """independent_model builds, without baseline.py, the regressor the Job describes."""
    if job.get("model", "ridge") == "ridge":
        return make_pipeline(StandardScaler(), RidgeCV(alphas=baseline.RIDGE_ALPHAS))
    return RandomForestRegressor(n_estimators=job["nEstimators"], random_state=job.get("seed", 42),
                                 max_depth=job.get("maxDepth"),
                                 min_samples_leaf=job.get("minSamplesLeaf", 1))


@pytest.mark.parametrize("fields", [
    {"model": "ridge"},
    {"model": "forest", "minSamplesLeaf": 3, "maxDepth": 4},
    {"model": "ridge", "splitSeed": 7, "testSize": 0.3, "dropColumns": ["class"]},
], ids=["ridge", "forest", "ridge-split7-dropped"])
def test_test_mse_is_the_mse_on_the_test_split(fields, bjob, run_baseline):
    bjob.update(fields)
    code, lines, outcome = run_baseline(bjob)
    assert code == 0 and len(lines) == 1
    X, y = wine(bjob)
    x_tr, x_te, y_tr, y_te = train_test_split(X, y, test_size=bjob.get("testSize", 0.2),
                                              random_state=bjob.get("splitSeed", 42))
    want = float(np.mean((independent_model(bjob).fit(x_tr, y_tr).predict(x_te) - y_te) ** 2))
    assert outcome["testMse"] == pytest.approx(want, rel=1e-9)
    assert outcome["loss"] == outcome["metric"] == outcome["testMse"]
    assert (outcome["nTrain"], outcome["nTest"]) == (len(y_tr), len(y_te))
    assert outcome["nFeaturesIn"] == X.shape[1] == (12 if "dropColumns" in fields else 13)
    assert outcome["status"] == 200 and outcome["model"] == bjob["model"]
    assert ("alpha" in outcome) == (bjob["model"] == "ridge")
    assert "step" not in outcome and not {"cvMse", "foldMse"} & set(outcome)


@pytest.mark.parametrize("model", ["ridge", "forest"])
def test_cv_keys(model, bjob, run_baseline):
    bjob.update(model=model, crossValidateOnly=True, cvFolds=4, splitSeed=3)
    _, _, outcome = run_baseline(bjob)
    X, y = wine(bjob)
    want = [float(np.mean((independent_model(bjob).fit(X[tr], y[tr]).predict(X[te]) - y[te]) ** 2))
            for tr, te in KFold(4, shuffle=True, random_state=3).split(X)]
    assert outcome["foldMse"] == pytest.approx(want, rel=1e-9)
    assert outcome["cvMse"] == outcome["loss"] == pytest.approx(np.mean(want), rel=1e-9)
    assert outcome["cvMseStd"] == pytest.approx(np.std(want), rel=1e-9)
    # The default scorer is neg_mean_squared_error, so metric is -cvMse, as in nn.py.
    assert outcome["metric"] == pytest.approx(-outcome["cvMse"], rel=1e-9)
    assert outcome["scoring"] == "neg_mean_squared_error" and len(outcome["cvScores"]) == 4
    assert "testMse" not in outcome


def test_cv_scoring_is_the_metric(bjob, run_baseline):
    _, _, outcome = run_baseline(dict(bjob, crossValidateOnly=True, cvFolds=3,
                                      crossValidationCrossingType="r2"))
    assert outcome["scoring"] == "r2" and 0 < outcome["metric"] < 1
    assert outcome["metric"] == pytest.approx(np.mean(outcome["cvScores"]))
    assert outcome["loss"] == outcome["cvMse"] > 1000  # loss stays the MSE


@pytest.mark.parametrize("cv", [True, False], ids=["cv", "split"])
def test_baseline_trains_on_nn_rows(cv, job, bjob, tmp_path):
    # The same data fields in both Jobs: the same rows in each fold (or split).
    shared = {"crossValidateOnly": cv, "cvFolds": 3, "splitSeed": 11, "testSize": 0.25,
              "dropColumns": ["hue"], "maxDependentVarValue": 1400}
    job.update(shared, epochs=1)
    bjob.update(shared, seed=5)
    ncfg, bcfg = nn.parse_job(job), baseline.parse_job(bjob)
    X, y, _ = nn.load_data(ncfg)
    if cv:
        _, nn_pipes = nn.cross_validate(ncfg, X, y, workdir=tmp_path)
        _, models = baseline.cross_validate(bcfg, X, y)
    else:
        _, pipe = nn.train_test(ncfg, X, y, workdir=tmp_path)
        _, model = baseline.train_test(bcfg, X, y)
        nn_pipes, models = [pipe], [model]
    assert len(nn_pipes) == len(models) == (3 if cv else 1)
    for a, b in zip(nn_pipes, models):
        np.testing.assert_array_equal(a.named_steps["scale"].mean_, b.named_steps["scale"].mean_)
        assert a.named_steps["scale"].n_samples_seen_ == b.named_steps["scale"].n_samples_seen_
    for (_, a), (_, b) in zip(mljob_data.folds(bcfg, len(y)), mljob_data.folds(ncfg, len(y))):
        np.testing.assert_array_equal(a, b)


def test_seed_moves_the_forest_not_the_rows(bjob, run_baseline):
    bjob.update(crossValidateOnly=True, cvFolds=3)
    ridge = [run_baseline(dict(bjob, seed=s))[2]["foldMse"] for s in (1, 2)]
    assert ridge[0] == ridge[1]  # ridge draws nothing: same folds, same numbers
    assert run_baseline(dict(bjob, splitSeed=2))[2]["foldMse"] != ridge[0]
    forest = [run_baseline(dict(bjob, model="forest", seed=s))[2] for s in (1, 2)]
    assert forest[0]["foldMse"] != forest[1]["foldMse"]
    assert forest[0]["seed"] == 1 and forest[0]["splitSeed"] == 42


@pytest.mark.parametrize("change, field", [
    ({"model": "svm"}, "model"),
    ({"nEstimators": 0}, "nEstimators"),
    ({"maxDepth": 0}, "maxDepth"),
    ({"minSamplesLeaf": 1.5}, "minSamplesLeaf"),
    ({"seed": -1}, "seed"),
    ({"splitSeed": "7"}, "splitSeed"),
    ({"dropColumns": ["colour"]}, "dropColumns"),
    ({"cvFolds": 1}, "cvFolds"),
    ({"dependentVariable": "nope"}, "dependentVariable"),
])
def test_bad_fields_give_400(change, field, bjob, run_baseline):
    code, lines, outcome = run_baseline(dict(bjob, **change))
    assert code == 2 and len(lines) == 1
    assert outcome["status"] == 400 and outcome["field"] == field
    assert outcome["jobId"] == "base-1"


def test_example_job_pairs_with_nn_example(run_baseline):
    example = json.loads((EXAMPLES / "job-baseline.json").read_text())
    nn_example = json.loads((EXAMPLES / "job.json").read_text())
    assert example["scriptName"] == "baseline.py"
    assert example["projectName"] == nn_example["projectName"]
    # Same data and held-out fields: the same rows, so cvMse compares with nn.py's.
    assert mljob_data.data_fields(example) == mljob_data.data_fields(nn_example)
    code, _, outcome = run_baseline(example)
    assert code == 0 and outcome["cvMse"] > 0 and len(outcome["foldMse"]) == 5


def test_process_contract_without_torch(bjob, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    bjob["crossValidateOnly"] = True
    (run / "job.json").write_text(json.dumps(bjob))
    # Copies, as in test_nn: a linked script would find its modules beside the original.
    for name in ("baseline.py", "mljob_job.py", "mljob_data.py"):
        shutil.copy(SCRIPTS / name, run / name)
    shutil.copy(SCRIPTS / "data" / "wine_data.csv", run / "wine_data.csv")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "baseline.py", "job.json"], cwd=run, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    outcome = json.loads(lines[0])
    assert outcome["status"] == 200 and outcome["jobId"] == "base-1"
    assert "fold 5/5" in proc.stderr
    # A host without PyTorch can run the baseline.
    proc = subprocess.run([sys.executable, "-c",
                           "import sys, baseline; sys.exit('torch' in sys.modules)"],
                          cwd=run, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
