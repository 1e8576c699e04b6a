"""nn.py trains the seed's neural-network regression described by an mljob Job.

Run by mljob (cwd = run dir, argv[1] = the Job JSON or "job.json"), or by
hand from a checkout:

    /usr/bin/python3 python-scripts/nn.py examples/wine_data/job.json

Every field of the seed's Job does what its name says (see README.md for
the list and for the fixes to the seed's Keras script). Preprocessing
(scaler, ExtraTrees selection, PCA) and the PyTorch network sit in one
scikit-learn Pipeline, so each cross-validation fold fits its own.

The last stdout line is the Outcome JSON (see mljob_job.py); progress
lines {"step": epoch, "series": "fold<k>" (CV only), "loss", "valLoss",
"lr"} come before it.
"""

import copy
import dataclasses
import math
import os
import pathlib
import random
import sys
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.metrics import get_scorer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler
from torch import nn

import mljob_data
import mljob_job
from mljob_data import MAX_SEED
from mljob_job import JobError, boolean, choice, number, prefixed

SCRIPT_DIR = pathlib.Path(__file__).resolve().parent

# ACTIVATIONS maps the Job's activation names to PyTorch modules.
# leaky_relu uses PyTorch's slope (0.01); Keras's LeakyReLU layer used 0.3.
ACTIVATIONS = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "linear": nn.Identity,
}

# LOSSES maps the Job's loss names (and the Keras long names) to losses.
LOSSES = {
    "mse": nn.MSELoss,
    "mean_squared_error": nn.MSELoss,
    "mae": nn.L1Loss,
    "mean_absolute_error": nn.L1Loss,
    "huber": nn.HuberLoss,
    "huber_loss": nn.HuberLoss,
}

# OPTIMIZERS maps the Job's optimizer names to constructors taking (params, lr).
# RMSprop uses Keras's rho (0.9) and epsilon: the seed's Job was tuned on Keras.
OPTIMIZERS = {
    "adam": lambda p, lr: torch.optim.Adam(p, lr=lr),
    "rmsprop": lambda p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-7),
    "sgd": lambda p, lr: torch.optim.SGD(p, lr=lr),
    "adadelta": lambda p, lr: torch.optim.Adadelta(p, lr=lr),
    "nadam": lambda p, lr: torch.optim.NAdam(p, lr=lr),
    "adamw": lambda p, lr: torch.optim.AdamW(p, lr=lr),
}

# SCALERS maps scalerType to a scikit-learn scaler factory; None = no scaling.
SCALERS = {
    "standard": StandardScaler,
    "minmax": MinMaxScaler,
    "min_max": MinMaxScaler,
    "robust": RobustScaler,
    "none": None,
}

DEVICES = ("auto", "cpu", "cuda")

# MIN_LEARNING_RATE is the reduce-on-plateau floor (the seed's min_lr).
MIN_LEARNING_RATE = 1e-4



@dataclasses.dataclass(frozen=True)
class HiddenLayer:
    """HiddenLayer is one entry of the Job's hiddenLayers."""

    activation: str
    width_modifier: float
    dropout: float


@dataclasses.dataclass(frozen=True)
class Config:
    """Config is a validated Job: every field nn.py reads, with its default."""

    data_file_name: str
    dependent_variable: str
    drop_columns: tuple = ()
    hidden_layers: tuple = ()
    last_layer_activator: str = "linear"
    loss: str = "mse"
    optimizer: str = "adam"
    learning_rate: float = 0.001
    l1: float = 0.0
    l2: float = 0.0
    epochs: int = 100
    batch_size: int = 32
    patience_rate: float = 0.0
    slow_learning_rate: float = 0.1
    early_stopping: bool = False
    validation_split: float = 0.1
    min_dependent_var_value: float = None
    max_dependent_var_value: float = None
    scaler_type: str = "standard"
    pca_components: float = -1
    extra_trees_keep_threshold: float = 0.0
    cross_validate_only: bool = False
    cv_folds: int = 5
    cv_scoring: str = "neg_mean_squared_error"
    test_size: float = 0.2
    save_weights_only_at_end: bool = False
    seed: int = 42
    split_seed: int = mljob_data.DEFAULT_SPLIT_SEED
    device: str = "auto"

    @property
    def plateau_patience(self):
        """plateau_patience is patienceRate × epochs (at least 1), or 0 when off."""
        if self.patience_rate <= 0:
            return 0
        return max(1, round(self.patience_rate * self.epochs))

    @property
    def early_stopping_patience(self):
        """early_stopping_patience is twice the plateau patience (10% of epochs without one).

        Twice, so the learning rate gets reduced at least once before
        training gives up.
        """
        if self.plateau_patience:
            return 2 * self.plateau_patience
        return max(1, round(0.1 * self.epochs))


# ---------------------------------------------------------------- job parsing


def _hidden_layers(job):
    layers = job.get("hiddenLayers", [])
    if layers is None:
        return ()
    if not isinstance(layers, list):
        raise JobError("hiddenLayers", "want a list of {activation, widthModifier, dropout}")
    out = []
    for i, layer in enumerate(layers):
        name = f"hiddenLayers[{i}]"
        if not isinstance(layer, dict):
            raise JobError(name, f"{layer!r} is not an object")
        out.append(HiddenLayer(
            activation=prefixed(name, choice, layer, "activation", "relu", ACTIVATIONS),
            width_modifier=prefixed(name, number, layer, "widthModifier", 1.0,
                                     lo=0, lo_open=True),
            dropout=prefixed(name, number, layer, "dropout", 0.0, lo=0, hi=1, hi_open=True),
        ))
    return tuple(out)


def parse_job(job):
    """parse_job validates the Job dict and returns its Config.

    Raises JobError naming the first bad field (nested ones as
    "hiddenLayers[1].dropout") and saying why.
    """
    if not isinstance(job, dict):
        raise JobError("job", "want a JSON object")
    hidden = _hidden_layers(job)

    pca = number(job, "pcaComponents", -1)
    if pca != -1 and not (0 < pca < 1) and not (pca >= 1 and pca == int(pca)):
        raise JobError("pcaComponents",
                       f"{pca!r}: want -1 (off), a variance fraction in (0, 1), or a count >= 1")
    if pca >= 1:
        pca = int(pca)

    cfg = Config(
        **mljob_data.data_fields(job),
        hidden_layers=hidden,
        last_layer_activator=choice(job, "lastLayerActivator", "linear", ACTIVATIONS,
                                     blank="linear"),
        loss=choice(job, "loss", "mse", LOSSES),
        optimizer=choice(job, "optimizer", "adam", OPTIMIZERS),
        learning_rate=number(job, "learningRate", 0.001, lo=0, lo_open=True),
        l1=number(job, "l1", 0.0, lo=0),
        l2=number(job, "l2", 0.0, lo=0),
        epochs=number(job, "epochs", 100, lo=1, integer=True),
        batch_size=number(job, "batchSize", 32, lo=1, integer=True),
        patience_rate=number(job, "patienceRate", 0.0, lo=0, hi=1),
        slow_learning_rate=number(job, "slowLearningRate", 0.1, lo=0, hi=1,
                                   lo_open=True, hi_open=True),
        early_stopping=boolean(job, "earlyStopping", False),
        validation_split=number(job, "validationSplit", 0.1, lo=0, hi=0.5),
        scaler_type=choice(job, "scalerType", "standard", SCALERS, blank="none"),
        pca_components=pca,
        extra_trees_keep_threshold=number(job, "extraTreesKeepThreshd", 0.0, lo=0, hi=1),
        save_weights_only_at_end=boolean(job, "saveWeightsOnlyAtEnd", False),
        seed=number(job, "seed", 42, lo=0, hi=MAX_SEED, integer=True),
        device=choice(job, "device", "auto", DEVICES),
    )
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise JobError("device", "cuda requested but torch sees no CUDA device")
    return cfg


# ----------------------------------------------------------------------- data


def load_data(cfg, script_dir=SCRIPT_DIR):
    """load_data returns the Job's (X, y, feature_names); see mljob_data.load."""
    return mljob_data.load(cfg, script_dir, "nn.py")


# ---------------------------------------------------------------------- model


def hidden_widths(cfg, n_features):
    """hidden_widths returns each hidden layer's width: max(1, round(widthModifier × n_features))."""
    return [max(1, round(layer.width_modifier * n_features)) for layer in cfg.hidden_layers]


class OutputLayer(nn.Module):
    """OutputLayer is the network's last Dense layer: activation(scale·(Wh + b) + mean).

    mean and scale are the training target's mean and standard deviation,
    fixed buffers: an exact reparametrisation of Keras's Dense(1) that
    starts predictions at the target's mean with unit-scale weights
    instead of at 0, so a target like proline (278-1680) trains in a few
    hundred epochs. Losses stay in the dependent variable's own units, so
    l1/l2 keep the weight they had in the seed.
    """

    def __init__(self, n_in, activation="linear", mean=0.0, scale=1.0):
        super().__init__()
        self.linear = nn.Linear(n_in, 1)
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("scale", torch.tensor(float(scale)))
        self.activation = ACTIVATIONS[activation]()

    def forward(self, x):
        return self.activation(self.linear(x) * self.scale + self.mean)


def build_model(cfg, n_features, target_mean=0.0, target_scale=1.0):
    """build_model returns the network for n_features inputs as an nn.Sequential.

    Each hidden layer is Linear → activation → Dropout (dropout on every
    hidden layer; the seed's script skipped the first), then OutputLayer.
    Weights start Glorot-uniform with zero biases, as in Keras.
    """
    modules = []
    n_in = n_features
    for layer, width in zip(cfg.hidden_layers, hidden_widths(cfg, n_features)):
        linear = nn.Linear(n_in, width)
        nn.init.xavier_uniform_(linear.weight)
        nn.init.zeros_(linear.bias)
        modules += [linear, ACTIVATIONS[layer.activation](), nn.Dropout(layer.dropout)]
        n_in = width
    out = OutputLayer(n_in, cfg.last_layer_activator, target_mean, target_scale)
    nn.init.xavier_uniform_(out.linear.weight)
    nn.init.zeros_(out.linear.bias)
    modules.append(out)
    return nn.Sequential(*modules)


def hidden_linears(model):
    """hidden_linears returns the model's hidden Linear layers (not the output layer)."""
    return [m for m in model if isinstance(m, nn.Linear)]


def penalty(model, l1, l2):
    """penalty returns l1·Σ|w| + l2·Σw² over the hidden layers' weights (Keras kernel_regularizer)."""
    total = torch.zeros((), device=next(model.parameters()).device)
    for linear in hidden_linears(model):
        if l1:
            total = total + l1 * linear.weight.abs().sum()
        if l2:
            total = total + l2 * linear.weight.pow(2).sum()
    return total


def resolve_device(name):
    """resolve_device returns the torch device for "auto", "cpu" or "cuda"."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def seed_everything(seed):
    """seed_everything seeds Python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def save_checkpoint(path, model, cfg, epoch, val_loss, n_features):
    """save_checkpoint writes the model's weights and metadata to path atomically.

    Written to a temporary file and renamed, so a run killed mid-save
    leaves the previous checkpoint intact.
    """
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({
        "stateDict": model.state_dict(),
        "epoch": epoch,
        "valLoss": val_loss,
        "nFeatures": n_features,
        "hiddenWidths": hidden_widths(cfg, n_features),
        "config": dataclasses.asdict(cfg),
    }, tmp)
    os.replace(tmp, path)


class TorchRegressor(BaseEstimator, RegressorMixin):
    """TorchRegressor is the Job's network as a scikit-learn regressor.

    fit builds the network for the number of features it is given (after
    the Pipeline's selection/PCA), holds out validationSplit of its rows to
    monitor, and trains with reduce-on-plateau, optional early stopping and
    checkpointing to checkpoint_path (None = no file). on_epoch, when set,
    is called with a history row {"epoch", "loss", "valLoss", "lr"} every
    report_every epochs and at the epoch training stopped.
    """

    def __init__(self, config=None, checkpoint_path=None, on_epoch=None, report_every=1):
        self.config = config
        self.checkpoint_path = checkpoint_path
        self.on_epoch = on_epoch
        self.report_every = report_every

    def fit(self, X, y):
        cfg = self.config
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float32).reshape(-1)
        seed_everything(cfg.seed)
        device = resolve_device(cfg.device)
        self.device_ = device

        # The validation rows come from the training data only: the test
        # split (or CV fold) stays unseen until scoring.
        n = len(y)
        n_val = int(math.floor(cfg.validation_split * n))
        order = np.random.RandomState(cfg.seed).permutation(n)
        if n_val >= 1 and n - n_val >= 1:
            val_idx, train_idx = order[:n_val], order[n_val:]
        else:
            val_idx, train_idx = order[:0], order
        x_train = torch.from_numpy(X[train_idx]).to(device)
        y_train = torch.from_numpy(y[train_idx]).to(device)
        x_val = torch.from_numpy(X[val_idx]).to(device)
        y_val = torch.from_numpy(y[val_idx]).to(device)

        mean = float(y[train_idx].mean())
        scale = float(y[train_idx].std()) or 1.0
        self.n_features_in_ = X.shape[1]
        self.model_ = build_model(cfg, X.shape[1], mean, scale).to(device)
        model = self.model_
        loss_fn = LOSSES[cfg.loss]()
        optimizer = OPTIMIZERS[cfg.optimizer](model.parameters(), cfg.learning_rate)
        scheduler = None
        if cfg.plateau_patience:
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min", factor=cfg.slow_learning_rate,
                # PyTorch reduces after patience+1 bad epochs, Keras after patience.
                patience=cfg.plateau_patience - 1, min_lr=MIN_LEARNING_RATE)
        n_train = len(train_idx)
        batch = min(cfg.batch_size, n_train)
        self.batch_size_ = batch
        self.optimizer_ = optimizer
        self.val_index_ = val_idx
        gen = torch.Generator().manual_seed(cfg.seed)

        best = math.inf
        best_epoch = 0
        best_state = None
        self.history_ = []
        epoch = 0
        reported = 0
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            perm = torch.randperm(n_train, generator=gen).to(device)
            total = 0.0
            for start in range(0, n_train, batch):
                idx = perm[start:start + batch]
                optimizer.zero_grad()
                out = model(x_train[idx]).squeeze(-1)
                loss = loss_fn(out, y_train[idx]) + penalty(model, cfg.l1, cfg.l2)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(idx)
            train_loss = total / n_train
            if len(val_idx):
                val_loss = self._loss(x_val, y_val, loss_fn, with_penalty=True)
            else:
                val_loss = train_loss
            lr = optimizer.param_groups[0]["lr"]
            self.history_.append({"epoch": epoch, "loss": train_loss, "valLoss": val_loss,
                                  "lr": lr})
            if self.on_epoch is not None and (epoch % self.report_every == 0
                                              or epoch == cfg.epochs):
                self.on_epoch(dict(self.history_[-1]))
                reported = epoch
            if not math.isfinite(val_loss):
                mljob_job.log(f"nn.py: loss is {val_loss} at epoch {epoch}: stopping")
                break
            if val_loss < best:
                best, best_epoch = val_loss, epoch
                if cfg.early_stopping:
                    best_state = copy.deepcopy(model.state_dict())
                if self.checkpoint_path and not cfg.save_weights_only_at_end:
                    save_checkpoint(self.checkpoint_path, model, cfg, epoch, val_loss,
                                    X.shape[1])
            if scheduler is not None:
                scheduler.step(val_loss)
            if cfg.early_stopping and epoch - best_epoch >= cfg.early_stopping_patience:
                mljob_job.log(f"nn.py: early stopping at epoch {epoch} "
                              f"(best {best:.6g} at epoch {best_epoch})")
                break
        if self.on_epoch is not None and epoch and reported != epoch:
            # A curve cut short (early stopping, divergence) still ends where
            # training did.
            self.on_epoch(dict(self.history_[-1]))
        if cfg.early_stopping and best_state is not None:
            model.load_state_dict(best_state)
        if self.checkpoint_path and cfg.save_weights_only_at_end:
            save_checkpoint(self.checkpoint_path, model, cfg, epoch, best, X.shape[1])
        self.epochs_run_ = epoch
        self.best_val_loss_ = best
        self.best_epoch_ = best_epoch
        self.final_learning_rate_ = optimizer.param_groups[0]["lr"]
        return self

    def _loss(self, x, y, loss_fn, with_penalty):
        self.model_.eval()
        with torch.no_grad():
            value = loss_fn(self.model_(x).squeeze(-1), y)
            if with_penalty:
                value = value + penalty(self.model_, self.config.l1, self.config.l2)
        return float(value.item())

    def predict(self, X):
        """predict returns the network's predictions for X (dropout off)."""
        x = torch.from_numpy(np.asarray(X, dtype=np.float32)).to(self.device_)
        self.model_.eval()
        with torch.no_grad():
            return self.model_(x).squeeze(-1).double().cpu().numpy()

    def penalty_value(self):
        """penalty_value returns the trained network's l1/l2 penalty."""
        with torch.no_grad():
            return float(penalty(self.model_, self.config.l1, self.config.l2).item())

    def data_loss(self, X, y):
        """data_loss returns the Job's loss function on (X, y), without penalties."""
        pred = torch.from_numpy(self.predict(X))
        return float(LOSSES[self.config.loss]()(pred, torch.from_numpy(
            np.asarray(y, dtype=np.float64))).item())


# -------------------------------------------------------------- preprocessing


class ExtraTreesSelector(BaseEstimator, TransformerMixin):
    """ExtraTreesSelector keeps features whose ExtraTrees importance is at least threshold.

    Importances are scaled to 0-1 by dividing by the largest, so the most
    important feature always survives (threshold <= 1).
    """

    def __init__(self, threshold=0.0, seed=42):
        self.threshold = threshold
        self.seed = seed

    def fit(self, X, y):
        trees = ExtraTreesRegressor(n_estimators=100, random_state=self.seed, n_jobs=1)
        trees.fit(X, y)
        imp = trees.feature_importances_
        top = imp.max()
        self.importances_ = imp / top if top > 0 else np.ones_like(imp)
        self.support_ = self.importances_ >= self.threshold
        return self

    def transform(self, X):
        return np.asarray(X)[:, self.support_]


class PCAStep(BaseEstimator, TransformerMixin):
    """PCAStep is PCA with n_components a variance fraction or a count.

    A count larger than the features (or rows) left after selection is
    capped, with a note on stderr, since the count is not known until
    selection has run on the fold.
    """

    def __init__(self, n_components=-1, seed=42):
        self.n_components = n_components
        self.seed = seed

    def fit(self, X, y=None):
        n = self.n_components
        if n >= 1:
            cap = min(np.shape(X))
            if n > cap:
                mljob_job.log(f"nn.py: pcaComponents {n} capped at {cap}")
                n = cap
        self.pca_ = PCA(n_components=n, svd_solver="full", random_state=self.seed).fit(X)
        return self

    def transform(self, X):
        return self.pca_.transform(X)


def build_pipeline(cfg, checkpoint_path=None, on_epoch=None):
    """build_pipeline returns the Pipeline: [scale] → [select] → [pca] → nn.

    Only the steps the Job turns on are present; all are fitted on the
    training rows only, so each CV fold fits its own.
    """
    steps = []
    scaler = SCALERS[cfg.scaler_type]
    if scaler is not None:
        steps.append(("scale", scaler()))
    if cfg.extra_trees_keep_threshold > 0:
        steps.append(("select", ExtraTreesSelector(cfg.extra_trees_keep_threshold, cfg.seed)))
    if cfg.pca_components != -1:
        steps.append(("pca", PCAStep(cfg.pca_components, cfg.seed)))
    report_every = max(1, cfg.epochs // 50)
    steps.append(("nn", TorchRegressor(cfg, checkpoint_path, on_epoch, report_every)))
    return Pipeline(steps)


def network_inputs(pipe, X):
    """network_inputs returns X after the pipeline's preprocessing steps (the network's input)."""
    return pipe[:-1].transform(X) if len(pipe) > 1 else X


def _selected(pipe, names):
    if "select" not in pipe.named_steps:
        return None
    support = pipe.named_steps["select"].support_
    return [name for name, keep in zip(names, support) if keep]


# ------------------------------------------------------------------- training


def progress_line(row, series=None):
    """progress_line returns the stdout progress report of a history row.

    {"step": epoch, "series": series, "loss", "valLoss", "lr"}: the step
    makes it a progress report, not an Outcome; every other numeric field
    is a metric at that step, so the epoch is not repeated and a metric
    that is NaN or infinite (a diverged run) is left out rather than
    written as a string. series is None in split mode: one curve, no name.
    """
    line = {"step": row["epoch"]}
    if series is not None:
        line["series"] = series
    for key in ("loss", "valLoss", "lr"):
        value = row.get(key)
        if value is not None and math.isfinite(value):
            line[key] = float(value)
    return line


def train_test(cfg, X, y, names=None, emit=None, workdir="."):
    """train_test fits on a train split and scores the test split; returns (outcome, pipeline).

    loss = test loss including the l1/l2 penalties, metric = the same loss
    without them (as the seed reported), testMse = the test split's mean
    squared error, whatever the Job's loss (the objective to compare runs
    by). Checkpoints go to workdir/model.pt.
    """
    train, test = mljob_data.holdout(cfg, len(y))
    x_tr, x_te, y_tr, y_te = X[train], X[test], y[train], y[test]
    on_epoch = None
    if emit is not None:
        def on_epoch(row):
            emit(progress_line(row))
    pipe = build_pipeline(cfg, pathlib.Path(workdir) / "model.pt", on_epoch)
    pipe.fit(x_tr, y_tr)
    reg = pipe.named_steps["nn"]
    metric = reg.data_loss(network_inputs(pipe, x_te), y_te)
    outcome = {
        "loss": metric + reg.penalty_value(),
        "metric": metric,
        **mljob_data.split_scores(pipe.predict(x_te), y_te),
        "valLoss": reg.best_val_loss_,
        "epochsRun": reg.epochs_run_,
        "nFeatures": reg.n_features_in_,
        "nTrain": len(y_tr),
        "nTest": len(y_te),
        "batchSize": reg.batch_size_,
        "finalLearningRate": reg.final_learning_rate_,
    }
    selected = _selected(pipe, names or [])
    if selected is not None:
        outcome["selectedFeatures"] = selected
    return outcome, pipe


def fold_score(scorer, pipe, X, y):
    """fold_score returns scorer's score of pipe on (X, y), NaN for a diverged network.

    scikit-learn's scorers refuse NaN or infinite predictions with a
    ValueError; a diverged run should end with a NaN objective, which mljob
    ranks last, not fail.
    """
    if not np.all(np.isfinite(pipe.predict(X))):
        return math.nan
    return float(scorer(pipe, X, y))


def cross_validate(cfg, X, y, names=None, emit=None, workdir="."):
    """cross_validate runs k-fold CV (cvFolds) and returns (outcome, fitted fold pipelines).

    metric = mean of the crossValidationCrossingType scores, cvScores =
    each fold's; loss = mean held-out loss including penalties; cvMse,
    cvMseStd, foldMse = the folds' mean squared errors (the objective to
    compare runs by). Each fold checkpoints to workdir/model-fold<k>.pt.
    """
    scorer = get_scorer(cfg.cv_scoring)
    scores, losses, fold_mse, val_losses, epochs, n_features, pipes = [], [], [], [], [], [], []
    for k, (tr, te) in enumerate(mljob_data.folds(cfg, len(y)), start=1):
        on_epoch = None
        if emit is not None:
            def on_epoch(row, k=k):
                emit(progress_line(row, f"fold{k}"))
        mljob_job.log(f"nn.py: fold {k}/{cfg.cv_folds}")
        pipe = build_pipeline(cfg, pathlib.Path(workdir) / f"model-fold{k}.pt", on_epoch)
        pipe.fit(X[tr], y[tr])
        reg = pipe.named_steps["nn"]
        scores.append(fold_score(scorer, pipe, X[te], y[te]))
        losses.append(reg.data_loss(network_inputs(pipe, X[te]), y[te]) + reg.penalty_value())
        fold_mse.append(mljob_data.mse(pipe.predict(X[te]), y[te]))
        val_losses.append(reg.best_val_loss_)
        epochs.append(reg.epochs_run_)
        n_features.append(reg.n_features_in_)
        pipes.append(pipe)
    outcome = {
        "loss": float(np.mean(losses)),
        "metric": float(np.mean(scores)),
        "cvScores": scores,
        "cvLosses": losses,
        **mljob_data.cv_scores(fold_mse),
        "scoring": cfg.cv_scoring,
        "valLoss": float(np.mean(val_losses)),
        "epochsRun": max(epochs),
        "nFeatures": n_features[-1],
        "cvNFeatures": n_features,
        "batchSize": pipes[-1].named_steps["nn"].batch_size_,
        "finalLearningRate": pipes[-1].named_steps["nn"].final_learning_rate_,
    }
    return outcome, pipes


def configure_torch():
    """configure_torch sets deterministic kernels and CPU threads from OMP_NUM_THREADS."""
    # cuBLAS needs this workspace setting before CUDA starts to be deterministic.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    threads = mljob_job.env_threads()
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def run(job, script_dir=SCRIPT_DIR, emit=None, workdir="."):
    """run trains the Job in job (a dict) and returns the outcome fields.

    emit, when set, gets the progress lines (see progress_line). Raises JobError for a bad
    Job.
    """
    cfg = parse_job(job)
    threads = configure_torch()
    X, y, names = load_data(cfg, script_dir)
    device = resolve_device(cfg.device)
    mljob_job.log(f"nn.py: {len(y)} rows, {X.shape[1]} features, device {device}, "
                  f"{threads} threads")
    if cfg.cross_validate_only:
        outcome, _ = cross_validate(cfg, X, y, names, emit, workdir)
    else:
        outcome, _ = train_test(cfg, X, y, names, emit, workdir)
    outcome.update({
        "nRows": len(y),
        "nFeaturesIn": X.shape[1],
        "device": str(device),
        "threads": threads,
        "seed": cfg.seed,
        "splitSeed": cfg.split_seed,
    })
    return outcome


def main(argv=None, stdout=None):
    """main runs nn.py under the mljob contract and returns the exit code."""
    start = time.monotonic()

    def train(job):
        outcome = run(job, emit=mljob_job.emit)
        outcome["durationSeconds"] = round(time.monotonic() - start, 3)
        return outcome

    return mljob_job.run_script(train, argv, stdout)


if __name__ == "__main__":
    sys.exit(main())
