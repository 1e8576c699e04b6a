"""Reference values from Optuna's own TPE internals, for parity_test.go.

Reads JSON on stdin:
  {"estimators": [{"dim": {...}, "obs": [...], "points": [...]}, ...],
   "splits": [{"maximize": bool, "liar": bool, "trials": [...]}, ...]}
and writes, per estimator, the kernel weights, means and bandwidths (or the
categorical kernel probabilities) and the log density at each point; per
split, the trial numbers Optuna puts in the "below" (good) group.
"""
import json
import math
import sys
import warnings

import numpy as np
import optuna
from optuna import distributions
from optuna.samplers._tpe import sampler as tpe_sampler
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimatorParameters

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)


def distribution(d):
    if d["kind"] == "categorical":
        return distributions.CategoricalDistribution(list(range(d["choices"])))
    if d["kind"] == "int":
        return distributions.IntDistribution(int(d["low"]), int(d["high"]), log=d["log"])
    return distributions.FloatDistribution(d["low"], d["high"], log=d["log"])


def estimator(case):
    dist = distribution(case["dim"])
    params = _ParzenEstimatorParameters(
        True, 1.0, case.get("magicClip", True), case.get("endpoints", False),
        tpe_sampler.default_weights, False)
    obs = np.asarray([dist.to_internal_repr(v) for v in case["obs"] or []], dtype=float)
    pe = _ParzenEstimator({"x": obs}, {"x": dist}, params)
    points = np.asarray([dist.to_internal_repr(v) for v in case["points"] or []], dtype=float)
    if isinstance(dist, distributions.CategoricalDistribution):
        points = points.astype(int)
    out = {"weights": pe._weights.tolist(), "logPdf": pe.log_pdf({"x": points}).tolist()}
    if isinstance(dist, distributions.CategoricalDistribution):
        out["probs"] = pe._categorical_weights["x"].tolist()
    else:
        out["mus"] = pe._mus["x"].tolist()
        out["sigmas"] = pe._sigmas["x"].tolist()
    return out


STATES = {
    "complete": optuna.trial.TrialState.COMPLETE,
    "pruned": optuna.trial.TrialState.PRUNED,
    "running": optuna.trial.TrialState.RUNNING,
    "failed": optuna.trial.TrialState.FAIL,
}


def split(case):
    study = optuna.create_study(direction="maximize" if case["maximize"] else "minimize")
    dist = distributions.FloatDistribution(0.0, 1.0)
    for t in case["trials"]:
        state = STATES[t["state"]]
        value = math.nan if t["value"] is None else t["value"]
        kw = {"state": state, "params": {"x": t["x"]}, "distributions": {"x": dist}}
        if state == optuna.trial.TrialState.COMPLETE:
            kw["value"] = value
        if state == optuna.trial.TrialState.PRUNED and t["step"] >= 0:
            kw["intermediate_values"] = {t["step"]: value}
        study.add_trial(optuna.trial.create_trial(**kw))
    values, scores, _ = tpe_sampler._get_observation_pairs(study, ["x"], case["liar"])
    n = sum(s < float("inf") for s, v in scores)
    numbers = [t.number for t in study.get_trials(deepcopy=False, states=(
        (STATES["complete"], STATES["pruned"], STATES["running"]) if case["liar"]
        else (STATES["complete"], STATES["pruned"])))]
    below, _ = tpe_sampler._split_observation_pairs(scores, tpe_sampler.default_gamma(n), None)
    return {"n": n, "below": sorted(numbers[i] for i in below)}


def main():
    req = json.load(sys.stdin)
    json.dump({
        "version": optuna.__version__,
        "estimators": [estimator(c) for c in req["estimators"]],
        "splits": [split(c) for c in req["splits"]],
    }, sys.stdout)


if __name__ == "__main__":
    main()
