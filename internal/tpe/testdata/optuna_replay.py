"""Optuna's proposals for given histories, for replay_test.go.

Reads JSON on stdin: {"space": [dim, ...], "cases": [{"trials": [[params,
value], ...]}, ...], "seeds": [s, ...]} and writes, per case, the point
Optuna's TPESampler(seed=s) (its defaults) proposes next for each seed, so
the Go side can compare the distribution of its own proposals for the same
history with Optuna's.
"""
import json
import sys
import warnings

import optuna
from optuna import distributions

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)


def distribution(d):
    if d["kind"] == "categorical":
        return distributions.CategoricalDistribution(list(range(d["choices"])))
    if d["kind"] == "int":
        return distributions.IntDistribution(int(d["low"]), int(d["high"]), log=d["log"])
    return distributions.FloatDistribution(d["low"], d["high"], log=d["log"])


def suggest(trial, name, d):
    if d["kind"] == "categorical":
        return trial.suggest_categorical(name, list(range(d["choices"])))
    if d["kind"] == "int":
        return trial.suggest_int(name, int(d["low"]), int(d["high"]), log=d["log"])
    return trial.suggest_float(name, d["low"], d["high"], log=d["log"])


def main():
    req = json.load(sys.stdin)
    space = req["space"]
    names = [f"p{i}" for i in range(len(space))]
    dists = {n: distribution(d) for n, d in zip(names, space)}
    out = {"version": optuna.__version__, "cases": []}
    for case in req["cases"]:
        study = optuna.create_study()
        for params, value in case["trials"]:
            p = {}
            for n, d, v in zip(names, space, params):
                p[n] = int(round(v)) if d["kind"] != "float" else v
            study.add_trial(optuna.trial.create_trial(params=p, distributions=dists, value=value))
        points = []
        for seed in req["seeds"]:
            study.sampler = optuna.samplers.TPESampler(seed=seed)
            trial = study.ask()
            points.append([float(suggest(trial, n, d)) for n, d in zip(names, space)])
            # failed trials are not observations: the history stays as given
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        out["cases"].append(points)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
