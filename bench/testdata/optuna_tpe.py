"""Optuna's TPESampler (defaults) on the standard functions of bench/tpe_test.go.

Reads JSON on stdin: {"seeds": [...], "trials": N, "functions": [...],
"latency": [n, ...], "latencyAsks": k} and writes, per function and seed, the
objective of every trial in order, the value of each function at one fixed
point, and the median seconds of one
ask + three suggests on a study holding n finished trials. The functions are
the same formulas as tpe_test.go's.
"""
import json
import math
import sys
import time
import warnings

import numpy as np
import optuna

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)


def branin(x1, x2):
    a, b, c = 1.0, 5.1 / (4 * math.pi ** 2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x2 - b * x1 ** 2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s


HART_ALPHA = [1.0, 1.2, 3.0, 3.2]
HART_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
HART_P = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
]


def hartmann6(x):
    total = 0.0
    for i in range(4):
        inner = sum(HART_A[i][j] * (x[j] - HART_P[i][j]) ** 2 for j in range(6))
        total -= HART_ALPHA[i] * math.exp(-inner)
    return total


MIXED_OPT = [0.0, 0.6, 1.2]


def mixed(lr, width, layers, dropout, opt):
    return ((math.log10(lr) + 2.5) ** 2 + (math.log2(width) - 7) ** 2 / 4
            + (layers - 3) ** 2 / 2 + 10 * (dropout - 0.2) ** 2 + MIXED_OPT[opt])


def objective(name):
    if name == "branin":
        return lambda t: branin(t.suggest_float("x1", -5, 10), t.suggest_float("x2", 0, 15))
    if name == "hartmann6":
        return lambda t: hartmann6([t.suggest_float(f"x{i}", 0, 1) for i in range(6)])
    if name == "mixed":
        return lambda t: mixed(
            t.suggest_float("lr", 1e-5, 1e-1, log=True),
            t.suggest_int("width", 8, 512, log=True),
            t.suggest_int("layers", 1, 6),
            t.suggest_float("dropout", 0, 0.5),
            t.suggest_categorical("opt", [0, 1, 2]),
        )
    raise ValueError(name)


def run(name, seed, trials):
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective(name), n_trials=trials)
    return [t.value for t in study.trials]


def latency(n, asks):
    """Median seconds of ask + 3 suggests with n finished trials (a float,
    a log float and a categorical, as the Go side's latency space)."""
    dists = {
        "x": optuna.distributions.FloatDistribution(-5, 5),
        "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
        "opt": optuna.distributions.CategoricalDistribution([0, 1, 2]),
    }
    rng = np.random.RandomState(0)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    for _ in range(n):
        p = {"x": rng.uniform(-5, 5), "lr": math.exp(rng.uniform(math.log(1e-5), math.log(1e-1))),
             "opt": int(rng.randint(3))}
        study.add_trial(optuna.trial.create_trial(
            params=p, distributions=dists, value=p["x"] ** 2 + math.log(p["lr"]) + p["opt"]))
    times = []
    for _ in range(asks):
        start = time.perf_counter()
        t = study.ask()
        t.suggest_float("x", -5, 5)
        t.suggest_float("lr", 1e-5, 1e-1, log=True)
        t.suggest_categorical("opt", [0, 1, 2])
        times.append(time.perf_counter() - start)
        study.tell(t, state=optuna.trial.TrialState.FAIL)  # not a finished trial: n stays n
    return float(np.median(times))


def main():
    req = json.load(sys.stdin)
    out = {"version": optuna.__version__, "runs": {}, "latency": {}, "check": {
        # one fixed point of each function, so the Go side can check that
        # both sides optimise the same formulas
        "branin": branin(1.0, 2.0),
        "hartmann6": hartmann6([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
        "mixed": mixed(1e-3, 64, 2, 0.3, 1),
    }}
    for name in req["functions"]:
        out["runs"][name] = [run(name, seed, req["trials"]) for seed in req["seeds"]]
    for n in req["latency"]:
        out["latency"][str(n)] = latency(n, req["latencyAsks"])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
