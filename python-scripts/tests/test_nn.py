"""Tests for nn.py: each Job field changes what it should, on the real wine data."""

import json
import math
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.model_selection import KFold, train_test_split
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

import nn
from mljob_job import JobError

SCRIPTS = pathlib.Path(nn.__file__).resolve().parent
WINE = pd.read_csv(SCRIPTS / "data" / "wine_data.csv")


def progress_curves(lines):
    """progress_curves checks stdout lines against the progress contract; returns {series: steps}.

    Every line is strict JSON; all but the last carry an integer step and
    only finite numbers besides step and series; steps increase within a
    series; the last line, the Outcome, has no step.
    """
    rows = [json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c}"))
            for line in lines]
    *progress, outcome = rows
    assert "step" not in outcome
    curves = {}
    for row in progress:
        step = row["step"]
        assert isinstance(step, int) and not isinstance(step, bool), row
        for key, value in row.items():
            if key == "series":
                assert isinstance(value, str), row
            elif key != "step":
                assert isinstance(value, (int, float)) and not isinstance(value, bool), row
                assert math.isfinite(value), row
        curves.setdefault(row.get("series"), []).append(step)
    for series, steps in curves.items():
        assert steps == sorted(set(steps)), series
    return curves


def fit(job, tmp_path):
    """fit parses job, loads its data and runs train_test or cross_validate in tmp_path."""
    cfg = nn.parse_job(job)
    X, y, names = nn.load_data(cfg)
    if cfg.cross_validate_only:
        return nn.cross_validate(cfg, X, y, names, workdir=tmp_path)
    return nn.train_test(cfg, X, y, names, workdir=tmp_path)


# ------------------------------------------------------------------ the model


@pytest.mark.parametrize("layers, n_features, widths", [
    ([], 13, []),
    ([{"activation": "relu", "widthModifier": 4, "dropout": 0.2}], 13, [52]),
    ([{"activation": "elu", "widthModifier": 2.3, "dropout": 0.1},
      {"activation": "selu", "widthModifier": 1.3, "dropout": 0.2},
      {"activation": "gelu", "widthModifier": 0.01, "dropout": 0.3}], 13, [30, 17, 1]),
    ([{"activation": "tanh", "widthModifier": 0.5, "dropout": 0.5},
      {"activation": "sigmoid", "widthModifier": 1, "dropout": 0.0},
      {"activation": "leaky_relu", "widthModifier": 2, "dropout": 0.0},
      {"activation": "linear", "widthModifier": 1.5, "dropout": 0.9}], 4, [2, 4, 8, 6]),
], ids=["no-hidden", "seed-first", "three", "all-activations"])
def test_build_model_layers(layers, n_features, widths, job):
    job["hiddenLayers"] = layers
    cfg = nn.parse_job(job)
    model = nn.build_model(cfg, n_features)
    linears = nn.hidden_linears(model)
    assert [m.out_features for m in linears] == widths
    assert nn.hidden_widths(cfg, n_features) == widths
    in_features = ([n_features] + widths)[:len(widths)]
    assert [m.in_features for m in linears] == in_features
    # Every hidden layer is Linear -> its activation -> Dropout(p): the seed's
    # script skipped dropout on the first layer.
    blocks = list(model)[:-1]
    assert len(blocks) == 3 * len(layers)
    for i, layer in enumerate(layers):
        linear, act, drop = blocks[3 * i:3 * i + 3]
        assert isinstance(linear, torch.nn.Linear)
        assert isinstance(act, nn.ACTIVATIONS[layer["activation"]]), i
        assert isinstance(drop, torch.nn.Dropout) and drop.p == layer["dropout"], i
    out = list(model)[-1]
    assert isinstance(out, nn.OutputLayer)
    assert out.linear.in_features == (widths[-1] if widths else n_features)
    assert model(torch.zeros(5, n_features)).shape == (5, 1)


def test_dropout_is_active_in_training_only(job):
    job["hiddenLayers"] = [{"activation": "linear", "widthModifier": 8, "dropout": 0.5}]
    model = nn.build_model(nn.parse_job(job), 4)
    x = torch.ones(3, 4)
    model.train()
    a, b = model(x), model(x)
    assert not torch.equal(a, b), "dropout off while training"
    model.eval()
    assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("activator, check", [
    ("", lambda p: isinstance(p, np.ndarray)),
    ("linear", lambda p: p.max() > 1),
    ("sigmoid", lambda p: ((p >= 0) & (p <= 1)).all()),  # float32 saturates at 1
    ("relu", lambda p: (p >= 0).all()),
])
def test_last_layer_activator(activator, check, job, tmp_path):
    job["lastLayerActivator"] = activator
    want = nn.ACTIVATIONS[activator or "linear"]
    model = nn.build_model(nn.parse_job(job), 3)
    assert isinstance(model[-1].activation, want)
    _, pipe = fit(job, tmp_path)
    pred = pipe.predict(WINE.drop(columns=["proline"]).to_numpy())
    assert check(pred)


def test_output_layer_starts_at_target_mean(job):
    model = nn.build_model(nn.parse_job(job), 3, target_mean=700.0, target_scale=300.0)
    with torch.no_grad():
        model[-1].linear.weight.zero_()
    assert torch.allclose(model(torch.randn(4, 3)), torch.full((4, 1), 700.0))


# ------------------------------------------------------------------- training


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_loss_is_the_jobs_loss_on_the_test_split(loss, job, tmp_path):
    job["loss"] = loss
    outcome, pipe = fit(job, tmp_path)
    cfg = nn.parse_job(job)
    X, y, _ = nn.load_data(cfg)
    _, x_te, _, y_te = train_test_split(X, y, test_size=cfg.test_size, random_state=cfg.split_seed)
    err = pipe.predict(x_te) - y_te
    want = {
        "mse": np.mean(err ** 2),
        "mae": np.mean(np.abs(err)),
        "huber": np.mean(np.where(np.abs(err) <= 1, 0.5 * err ** 2, np.abs(err) - 0.5)),
    }[loss]
    assert outcome["metric"] == pytest.approx(want, rel=1e-5)
    assert outcome["loss"] == pytest.approx(want, rel=1e-5)  # no l1/l2


@pytest.mark.parametrize("fields", [
    {"l1": 0.5, "l2": 0.5},
    {"loss": "mae"},
    {"loss": "huber", "pcaComponents": 4},
], ids=["penalised", "mae", "huber-pca"])
def test_test_mse_is_the_plain_mse_on_the_test_split(fields, job, tmp_path):
    job.update(fields)
    outcome, pipe = fit(job, tmp_path)
    cfg = nn.parse_job(job)
    X, y, _ = nn.load_data(cfg)
    _, x_te, _, y_te = train_test_split(X, y, test_size=cfg.test_size,
                                        random_state=cfg.split_seed)
    want = float(np.mean((pipe.predict(x_te) - y_te) ** 2))
    assert outcome["testMse"] == pytest.approx(want, rel=1e-9)
    # Neither the penalty nor the Job's loss function is in it.
    assert abs(outcome["loss"] - outcome["testMse"]) > 1
    assert not {"cvMse", "cvMseStd", "foldMse"} & set(outcome)


def test_cv_mse_keys(job, tmp_path):
    job.update(crossValidateOnly=True, cvFolds=3, epochs=2, l2=1.0,
               crossValidationCrossingType="r2")
    outcome, pipes = fit(job, tmp_path)
    cfg = nn.parse_job(job)
    X, y, _ = nn.load_data(cfg)
    folds = KFold(3, shuffle=True, random_state=cfg.split_seed).split(X)
    want = [float(np.mean((pipe.predict(X[te]) - y[te]) ** 2))
            for pipe, (_, te) in zip(pipes, folds)]
    assert outcome["foldMse"] == pytest.approx(want, rel=1e-9)
    assert outcome["cvMse"] == pytest.approx(np.mean(want), rel=1e-9)
    assert outcome["cvMseStd"] == pytest.approx(np.std(want), rel=1e-9)
    assert outcome["cvMseStd"] > 0
    # The l2 penalty is in cvLosses, not in foldMse.
    assert all(loss > mse for loss, mse in zip(outcome["cvLosses"], outcome["foldMse"]))
    assert "testMse" not in outcome


@pytest.mark.parametrize("name, cls", [
    ("adam", torch.optim.Adam), ("rmsprop", torch.optim.RMSprop), ("sgd", torch.optim.SGD),
    ("adadelta", torch.optim.Adadelta), ("nadam", torch.optim.NAdam),
    ("adamw", torch.optim.AdamW), ("Adam", torch.optim.Adam),
])
def test_optimizer_and_learning_rate(name, cls, job, tmp_path):
    job["optimizer"] = name
    job["learningRate"] = 0.0005
    outcome, pipe = fit(job, tmp_path)
    reg = pipe.named_steps["nn"]
    assert type(reg.optimizer_) is cls
    assert reg.optimizer_.defaults["lr"] == 0.0005
    assert outcome["finalLearningRate"] == 0.0005  # no plateau reduction asked for


def test_l1_l2_penalise_hidden_weights(job, tmp_path):
    results = {}
    for name, l1, l2 in [("none", 0, 0), ("l1", 1.0, 0), ("l2", 0, 1.0), ("both", 0.1, 0.1)]:
        job.update(l1=l1, l2=l2)
        outcome, pipe = fit(job, tmp_path)
        model = pipe.named_steps["nn"].model_
        want = sum(l1 * m.weight.abs().sum().item() + l2 * m.weight.pow(2).sum().item()
                   for m in nn.hidden_linears(model))
        assert outcome["loss"] - outcome["metric"] == pytest.approx(want, rel=1e-4, abs=1e-6)
        results[name] = outcome
    assert results["none"]["loss"] == results["none"]["metric"]
    assert results["l1"]["loss"] > results["none"]["loss"]
    assert results["l2"]["loss"] > results["none"]["loss"]


def test_penalty_skips_output_layer(job):
    model = nn.build_model(nn.parse_job(job), 4)
    with torch.no_grad():
        for m in nn.hidden_linears(model):
            m.weight.zero_()
        model[-1].linear.weight.fill_(5.0)
    assert nn.penalty(model, 1.0, 1.0).item() == 0.0


@pytest.mark.parametrize("batch, epochs", [(16, 2), (100000, 4)])
def test_epochs_and_batch_size(batch, epochs, job, tmp_path):
    job.update(batchSize=batch, epochs=epochs)
    outcome, pipe = fit(job, tmp_path)
    reg = pipe.named_steps["nn"]
    n_fit = outcome["nTrain"] - len(reg.val_index_)
    assert outcome["epochsRun"] == epochs
    assert len(reg.history_) == epochs
    assert outcome["batchSize"] == min(batch, n_fit)


def test_reduce_on_plateau(job, tmp_path):
    # Patience 1 epoch and a large rate: the validation loss stalls and the
    # rate drops by slowLearningRate each time, never below 1e-4.
    job.update(epochs=40, learningRate=0.5, patienceRate=0.025, slowLearningRate=0.1,
               batchSize=8)
    outcome, pipe = fit(job, tmp_path)
    lrs = [row["lr"] for row in pipe.named_steps["nn"].history_]
    assert lrs[0] == 0.5
    assert outcome["finalLearningRate"] < 0.5
    assert min(lrs) >= nn.MIN_LEARNING_RATE
    for a, b in zip(lrs, lrs[1:]):
        assert b == a or b == pytest.approx(max(a * 0.1, nn.MIN_LEARNING_RATE))
    assert outcome["finalLearningRate"] == pytest.approx(nn.MIN_LEARNING_RATE)


def test_early_stopping_restores_best_weights(job, tmp_path):
    job.update(epochs=300, learningRate=0.3, patienceRate=0.01, batchSize=8)
    off, _ = fit(dict(job, earlyStopping=False), tmp_path)
    assert off["epochsRun"] == 300
    outcome, pipe = fit(dict(job, earlyStopping=True), tmp_path)
    reg = pipe.named_steps["nn"]
    assert outcome["epochsRun"] < 300
    assert outcome["epochsRun"] - reg.best_epoch_ == nn.parse_job(job).early_stopping_patience
    # The weights kept are the best epoch's: their validation loss is the best one.
    cfg = nn.parse_job(job)
    X, y, _ = nn.load_data(cfg)
    x_tr, _, y_tr, _ = train_test_split(X, y, test_size=cfg.test_size, random_state=cfg.split_seed)
    xs = nn.network_inputs(pipe, x_tr)[reg.val_index_]
    val = reg.data_loss(xs, y_tr[reg.val_index_]) + reg.penalty_value()
    assert val == pytest.approx(reg.best_val_loss_, rel=1e-5)
    assert reg.best_val_loss_ == min(row["valLoss"] for row in reg.history_)


def test_checkpoints(job, tmp_path, monkeypatch):
    saves = []
    real = nn.save_checkpoint

    def counting(path, model, cfg, epoch, val_loss, n_features):
        saves.append(epoch)
        real(path, model, cfg, epoch, val_loss, n_features)

    monkeypatch.setattr(nn, "save_checkpoint", counting)
    job.update(epochs=8)
    outcome, pipe = fit(dict(job, saveWeightsOnlyAtEnd=False), tmp_path)
    reg = pipe.named_steps["nn"]
    improvements = []
    best = math.inf
    for row in reg.history_:
        if row["valLoss"] < best:
            best = row["valLoss"]
            improvements.append(row["epoch"])
    assert saves == improvements and len(saves) >= 2
    saved = torch.load(tmp_path / "model.pt")
    assert saved["epoch"] == improvements[-1]
    assert saved["nFeatures"] == 13

    saves.clear()
    fit(dict(job, saveWeightsOnlyAtEnd=True), tmp_path)
    assert saves == [8]
    saved = torch.load(tmp_path / "model.pt")
    assert saved["epoch"] == 8
    model = nn.build_model(nn.parse_job(job), 13)
    model.load_state_dict(saved["stateDict"])  # loads back into the same architecture
    assert not list(tmp_path.glob("*.tmp"))


# --------------------------------------------------------------------- data


@pytest.mark.parametrize("fields, want_rows", [
    ({}, len(WINE)),
    ({"minDependentVarValue": 0, "maxDependentVarValue": 1500},
     int(((WINE.proline >= 0) & (WINE.proline <= 1500)).sum())),
    ({"minDependentVarValue": 500}, int((WINE.proline >= 500).sum())),
    ({"maxDependentVarValue": 1065}, int((WINE.proline <= 1065).sum())),  # inclusive
    ({"minDependentVarValue": 1065, "maxDependentVarValue": 1065},
     int((WINE.proline == 1065).sum())),
], ids=["none", "seed", "min", "max-inclusive", "equal"])
def test_filters_drop_rows(fields, want_rows, job):
    job.update(fields)
    if want_rows < 5:
        with pytest.raises(JobError, match="rows left"):
            nn.load_data(nn.parse_job(job))
        return
    X, y, names = nn.load_data(nn.parse_job(job))
    assert len(y) == len(X) == want_rows
    assert want_rows < len(WINE) or not fields
    assert "proline" not in names and len(names) == 13  # 12 measurements + class


def test_class_label_is_a_feature_unless_dropped(job):
    X, _, names = nn.load_data(nn.parse_job(job))
    assert "class" in names  # the cultivar: what the README warns about
    job["dropColumns"] = ["class", "hue", "class"]
    X2, y2, names2 = nn.load_data(nn.parse_job(job))
    assert names2 == [n for n in names if n not in ("class", "hue")]
    np.testing.assert_array_equal(X2, WINE.drop(columns=["proline", "class", "hue"]).to_numpy())
    assert len(y2) == len(WINE)


def test_drop_columns_in_outcome_and_rows(job, run_nn, tmp_path):
    frame = WINE.head(60).copy()
    frame.loc[3, "hue"] = np.nan  # a gap in a dropped column costs no row
    frame["label"] = "x"
    frame.to_csv(tmp_path / "wine_data.csv", index=False)
    run = run_nn(dict(job, dropColumns=["hue", "label"]))
    assert run.code == 0, run.outcome
    assert run.outcome["nFeaturesIn"] == 12 and run.outcome["nRows"] == 60


@pytest.mark.parametrize("drop, field, reason", [
    (["colour"], "dropColumns", "no column 'colour' in wine_data.csv"),
    (["class", "Hue"], "dropColumns", "no column 'Hue'"),
    (["proline"], "dropColumns", "is the dependentVariable"),
    ("class", "dropColumns", "not a list"),
    (["class", 3], "dropColumns[1]", "not a column name"),
    ([c for c in WINE.columns if c != "proline"], "dropColumns", "no numeric feature columns"),
], ids=["unknown", "case", "target", "not-a-list", "not-a-name", "all"])
def test_drop_columns_errors(drop, field, reason, job, run_nn):
    run = run_nn(dict(job, dropColumns=drop))
    assert run.code == 2 and run.outcome["field"] == field
    assert reason in run.outcome["error"]


def test_dependent_variable_spellings(job, run_nn):
    right = run_nn(job).outcome
    del job["dependentVariable"]
    job["depedentVariable"] = "proline"  # the seed's spelling
    wrong = run_nn(job).outcome
    for key in ("loss", "metric", "nRows"):
        assert right[key] == wrong[key]
    job["dependentVariable"] = "alcohol"
    run = run_nn(job)
    assert run.code == 2 and run.outcome["field"] == "dependentVariable"
    job["dependentVariable"] = "proline"
    job["depedentVariable"] = "hue"
    assert run_nn(job).outcome["status"] == 400
    job["depedentVariable"] = "proline"
    job["dependentVariable"] = "alcohol"
    del job["depedentVariable"]
    assert run_nn(job).outcome["metric"] != right["metric"]  # another target


def test_data_file_in_cwd_wins(job, run_nn, tmp_path):
    WINE.head(60).assign(label="x").to_csv(tmp_path / "wine_data.csv", index=False)
    run = run_nn(job)
    assert run.code == 0
    assert run.outcome["nRows"] == 60  # the run dir's copy, not data/
    assert run.outcome["nFeaturesIn"] == 13  # the text column is ignored


@pytest.mark.parametrize("scaler, cls", [
    ("standard", StandardScaler), ("minmax", MinMaxScaler), ("min_max", MinMaxScaler),
    ("robust", RobustScaler), ("none", None), ("", None),
])
def test_scaler_type(scaler, cls, job, tmp_path):
    job["scalerType"] = scaler
    _, pipe = fit(job, tmp_path)
    if cls is None:
        assert "scale" not in pipe.named_steps
    else:
        assert type(pipe.named_steps["scale"]) is cls


def test_scaler_fitted_per_fold(job, tmp_path):
    job.update(crossValidateOnly=True, cvFolds=3, epochs=1)
    cfg = nn.parse_job(job)
    X, y, names = nn.load_data(cfg)
    _, pipes = nn.cross_validate(cfg, X, y, names, workdir=tmp_path)
    folds = KFold(3, shuffle=True, random_state=cfg.split_seed).split(X)
    means = []
    for pipe, (train, _) in zip(pipes, folds):
        mean = pipe.named_steps["scale"].mean_
        np.testing.assert_allclose(mean, X[train].mean(axis=0))
        assert not np.allclose(mean, X.mean(axis=0))
        means.append(mean)
    assert not np.allclose(means[0], means[1])
    assert sorted(p.name for p in tmp_path.glob("model-fold*.pt")) == [
        "model-fold1.pt", "model-fold2.pt", "model-fold3.pt"]


@pytest.mark.parametrize("pca, want", [(-1, 13), (4, 4), (1, 1), (50, 13), (0.9, None)])
def test_pca_components(pca, want, job, tmp_path):
    job["pcaComponents"] = pca
    outcome, pipe = fit(job, tmp_path)
    if want is None:  # a variance fraction
        step = pipe.named_steps["pca"].pca_
        assert 1 <= outcome["nFeatures"] < 13
        assert step.explained_variance_ratio_.sum() >= 0.9
    else:
        assert outcome["nFeatures"] == want
    # The hidden widths follow the features after PCA.
    model = pipe.named_steps["nn"].model_
    assert nn.hidden_linears(model)[0].in_features == outcome["nFeatures"]
    assert nn.hidden_linears(model)[0].out_features == outcome["nFeatures"]


@pytest.mark.parametrize("threshold", [0, 0.3, 1.0])
def test_extra_trees_keeps_important_features(threshold, job, tmp_path):
    job["extraTreesKeepThreshd"] = threshold
    outcome, pipe = fit(job, tmp_path)
    if threshold == 0:
        assert "select" not in pipe.named_steps and outcome["nFeatures"] == 13
        return
    select = pipe.named_steps["select"]
    assert select.importances_.max() == 1.0
    kept = int((select.importances_ >= threshold).sum())
    assert outcome["nFeatures"] == kept == len(outcome["selectedFeatures"]) < 13
    if threshold == 1.0:
        assert kept == 1


def test_extra_trees_then_pca(job, tmp_path):
    job.update(extraTreesKeepThreshd=0.1, pcaComponents=2)
    outcome, pipe = fit(job, tmp_path)
    assert list(pipe.named_steps) == ["scale", "select", "pca", "nn"]
    assert outcome["nFeatures"] == 2


@pytest.mark.parametrize("folds, scoring", [(3, "neg_mean_squared_error"), (4, "r2"),
                                            (2, "neg_mean_absolute_error")])
def test_cross_validate(folds, scoring, job, tmp_path):
    job.update(crossValidateOnly=True, cvFolds=folds, crossValidationCrossingType=scoring,
               epochs=2)
    outcome, pipes = fit(job, tmp_path)
    assert len(outcome["cvScores"]) == len(pipes) == folds
    assert outcome["metric"] == pytest.approx(np.mean(outcome["cvScores"]))
    assert len(set(outcome["cvScores"])) == folds
    if scoring.startswith("neg_"):
        assert all(s < 0 for s in outcome["cvScores"])


def fitted_rows(pipes):
    """fitted_rows returns each pipeline's scaler mean: a fingerprint of the rows it trained on."""
    return [pipe.named_steps["scale"].mean_ for pipe in pipes]


def test_split_seed_not_seed_draws_the_folds(job, tmp_path):
    job.update(crossValidateOnly=True, cvFolds=3, epochs=1)
    X, _, _ = nn.load_data(nn.parse_job(job))

    def kfold_rows(split_seed):
        return [X[train].mean(axis=0)
                for train, _ in KFold(3, shuffle=True, random_state=split_seed).split(X)]

    def run(**fields):
        outcome, pipes = fit(dict(job, **fields), tmp_path)
        return outcome, fitted_rows(pipes)

    # No splitSeed: the folds random_state 42 drew before splitSeed existed.
    base, rows = run()
    np.testing.assert_allclose(rows, kfold_rows(42))
    # Another seed: other weights, the same folds.
    other, rows = run(seed=7)
    assert other["loss"] != base["loss"]
    np.testing.assert_allclose(rows, kfold_rows(42))
    # Another splitSeed: other folds, each fold's rows as KFold draws them.
    _, rows = run(splitSeed=7)
    np.testing.assert_allclose(rows, kfold_rows(7))
    assert not any(np.allclose(a, b) for a, b in zip(rows, kfold_rows(42)))


def test_split_seed_draws_the_test_split(job, tmp_path):
    cfg = nn.parse_job(job)
    X, y, _ = nn.load_data(cfg)

    def split_rows(split_seed):
        x_tr, _, _, _ = train_test_split(X, y, test_size=0.2, random_state=split_seed)
        return x_tr.mean(axis=0)

    for fields, split_seed in [({}, 42), ({"seed": 7}, 42), ({"splitSeed": 7}, 7),
                               ({"seed": 7, "splitSeed": 42}, 42)]:
        _, pipe = fit(dict(job, **fields), tmp_path)
        np.testing.assert_allclose(fitted_rows([pipe])[0], split_rows(split_seed),
                                   err_msg=str(fields))
    assert not np.allclose(split_rows(7), split_rows(42))


def test_test_size(job, tmp_path):
    for size in (0.2, 0.5):
        outcome, _ = fit(dict(job, testSize=size), tmp_path)
        assert outcome["nTest"] == math.ceil(size * len(WINE))
        assert outcome["nTrain"] + outcome["nTest"] == len(WINE)


# ---------------------------------------------------------- runs and outcome


def test_seed_makes_runs_reproducible(job, run_nn, tmp_path):
    job.update(epochs=4, saveWeightsOnlyAtEnd=True)
    a = run_nn(job)
    weights_a = torch.load(tmp_path / "model.pt")["stateDict"]
    b = run_nn(job)
    weights_b = torch.load(tmp_path / "model.pt")["stateDict"]
    strip = lambda lines: [l for l in lines if "durationSeconds" not in l]  # noqa: E731
    assert strip(a.lines) == strip(b.lines)  # every epoch line, bit for bit
    assert a.outcome["loss"] == b.outcome["loss"] and a.outcome["seed"] == 42
    for key in weights_a:
        assert torch.equal(weights_a[key], weights_b[key]), key
    c = run_nn(dict(job, seed=7))
    assert c.outcome["seed"] == 7 and c.outcome["loss"] != a.outcome["loss"]


def test_outcome_fields_and_progress_lines(job, run_nn):
    job["assignmentId"] = "order-9"
    run = run_nn(job)
    assert run.code == 0
    out = run.outcome
    assert out["status"] == 200 and out["jobId"] == "job-1" and out["assignmentId"] == "order-9"
    for key in ("loss", "metric", "valLoss", "epochsRun", "durationSeconds", "device",
                "seed", "splitSeed", "nFeatures", "threads"):
        assert key in out, key
    assert out["device"] == "cpu" or out["device"].startswith("cuda")
    assert progress_curves(run.lines) == {None: [1, 2, 3]}  # split mode: one unnamed curve
    progress = [json.loads(line) for line in run.lines[:-1]]
    assert all(set(p) == {"step", "loss", "valLoss", "lr"} for p in progress)
    assert progress[0]["lr"] == job["learningRate"]


@pytest.mark.parametrize("fields, want", [
    ({"crossValidateOnly": True, "cvFolds": 2, "epochs": 2},
     {"fold1": [1, 2], "fold2": [1, 2]}),
    ({"epochs": 120}, {None: list(range(2, 121, 2))}),  # every epochs // 50
    ({"epochs": 7}, {None: list(range(1, 8))}),
], ids=["cv-series", "every-2nd", "every"])
def test_progress_steps_and_series(fields, want, job, run_nn):
    run = run_nn(dict(job, **fields))
    assert run.code == 0
    assert progress_curves(run.lines) == want


def test_progress_ends_where_early_stopping_stopped(job, run_nn):
    job.update(epochs=300, learningRate=0.3, patienceRate=0.01, batchSize=8,
               earlyStopping=True)
    run = run_nn(job)
    steps = progress_curves(run.lines)[None]
    assert run.outcome["epochsRun"] < 300
    assert steps[-1] == run.outcome["epochsRun"]
    assert steps[:-1] == list(range(6, steps[-1], 6))


def test_threads_from_env(job, run_nn, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert run_nn(job).outcome["threads"] == 2


def test_device_field(job, run_nn):
    assert run_nn(dict(job, device="cpu")).outcome["device"] == "cpu"
    if not torch.cuda.is_available():
        run = run_nn(dict(job, device="cuda"))
        assert run.code == 2 and run.outcome["field"] == "device"


def test_diverged_run_still_ends_with_strict_json(job, run_nn):
    job.update(optimizer="sgd", learningRate=1e6, epochs=5, batchSize=8)
    run = run_nn(job)
    assert run.code == 0
    curves = progress_curves(run.lines)
    assert "loss" not in json.loads(run.lines[-2])  # NaN: left out, not written as a string
    assert curves[None][-1] == run.outcome["epochsRun"]
    assert run.outcome["metric"] in ("NaN", "Infinity")  # diverged, reported as strings
    assert run.outcome["testMse"] in ("NaN", "Infinity")


def test_diverged_cross_validation_ends_with_a_nan_objective(job, run_nn):
    # scikit-learn's scorers raise on non-finite predictions; a diverged
    # fold scores NaN instead, so the run ends (status 200) with cvMse NaN.
    job.update(optimizer="sgd", learningRate=1e6, epochs=5, batchSize=8,
               crossValidateOnly=True, cvFolds=3)
    run = run_nn(job)
    assert run.code == 0, run.outcome
    assert run.outcome["cvMse"] in ("NaN", "Infinity")
    assert all(s in ("NaN", "Infinity") for s in run.outcome["cvScores"])


@pytest.mark.parametrize("change, field", [
    ({"hiddenLayers": "wide"}, "hiddenLayers"),
    ({"hiddenLayers": [7]}, "hiddenLayers[0]"),
    ({"hiddenLayers": [{"activation": "relu"}, {"activation": "swish"}]},
     "hiddenLayers[1].activation"),
    ({"hiddenLayers": [{"widthModifier": 0}]}, "hiddenLayers[0].widthModifier"),
    ({"hiddenLayers": [{"dropout": 1}]}, "hiddenLayers[0].dropout"),
    ({"hiddenLayers": [{"dropout": "0.2"}]}, "hiddenLayers[0].dropout"),
    ({"lastLayerActivator": "softmax"}, "lastLayerActivator"),
    ({"loss": "crossentropy"}, "loss"),
    ({"optimizer": "lbfgs"}, "optimizer"),
    ({"learningRate": 0}, "learningRate"),
    ({"l1": -0.1}, "l1"),
    ({"l2": "lots"}, "l2"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": 2.5}, "epochs"),
    ({"batchSize": True}, "batchSize"),
    ({"patienceRate": 2}, "patienceRate"),
    ({"slowLearningRate": 1}, "slowLearningRate"),
    ({"earlyStopping": "yes"}, "earlyStopping"),
    ({"dependentVariable": None}, "dependentVariable"),
    ({"dependentVariable": "nope"}, "dependentVariable"),
    ({"minDependentVarValue": 900, "maxDependentVarValue": 100}, "minDependentVarValue"),
    ({"minDependentVarValue": 5000}, "minDependentVarValue/maxDependentVarValue"),
    ({"dataFileName": "missing.csv"}, "dataFileName"),
    ({"dataFileName": None}, "dataFileName"),
    ({"scalerType": "quantile"}, "scalerType"),
    ({"pcaComponents": 0}, "pcaComponents"),
    ({"pcaComponents": 2.5}, "pcaComponents"),
    ({"pcaComponents": -0.5}, "pcaComponents"),
    ({"extraTreesKeepThreshd": 1.5}, "extraTreesKeepThreshd"),
    ({"crossValidateOnly": 1}, "crossValidateOnly"),
    ({"cvFolds": 1}, "cvFolds"),
    ({"crossValidationCrossingType": "accuracy"}, "crossValidationCrossingType"),
    ({"testSize": 1}, "testSize"),
    ({"saveWeightsOnlyAtEnd": "false"}, "saveWeightsOnlyAtEnd"),
    ({"seed": -1}, "seed"),
    ({"splitSeed": -1}, "splitSeed"),
    ({"splitSeed": 1.5}, "splitSeed"),
    ({"device": "tpu"}, "device"),
    ({"validationSplit": 0.9}, "validationSplit"),
])
def test_bad_fields_give_400(change, field, job, run_nn):
    job.update(change)
    run = run_nn(job)
    assert run.code == 2
    assert run.outcome["status"] == 400
    assert run.outcome["field"] == field
    assert run.outcome["error"].startswith(field + ":")
    assert run.outcome["jobId"] == "job-1"
    assert len(run.lines) == 1


# ------------------------------------------------- the real process contract


def run_dir_like_mljob(tmp_path, job):
    """run_dir_like_mljob lays out a run dir as mljob does: job.json, script, modules, data."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "job.json").write_text(json.dumps(job))
    # Copies, not links: Python puts a linked script's real directory on
    # sys.path, which would hide a module mljob failed to ship.
    for name in ("nn.py", "mljob_job.py", "mljob_data.py"):
        shutil.copy(SCRIPTS / name, run / name)
    (run / "wine_data.csv").symlink_to(SCRIPTS / "data" / "wine_data.csv")
    return run


def start(run, arg):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "nn.py", arg], cwd=run, env=env,
                          capture_output=True, text=True, timeout=120)


def test_process_contract_ok(job, tmp_path):
    job.update(crossValidateOnly=True, cvFolds=2, epochs=2)
    run = run_dir_like_mljob(tmp_path, job)
    for arg in (json.dumps(job), "job.json"):
        proc = start(run, arg)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert progress_curves(lines) == {"fold1": [1, 2], "fold2": [1, 2]}
        outcome = json.loads(lines[-1])
        assert outcome["status"] == 200 and outcome["jobId"] == "job-1"
        assert len(outcome["cvScores"]) == 2
        assert "fold 2/2" in proc.stderr
    assert (run / "model-fold1.pt").is_file()


def test_process_contract_bad_job(job, tmp_path):
    job["optimizer"] = "lbfgs"
    run = run_dir_like_mljob(tmp_path, job)
    proc = start(run, json.dumps(job))
    assert proc.returncode == 2
    outcome = json.loads(proc.stdout.splitlines()[-1])
    assert outcome == {**outcome, "status": 400, "field": "optimizer"}
    assert "bad job: optimizer" in proc.stderr
