"""The learning-curve search of bench/searchtpe_test.go through Optuna
itself: TPESampler(seed) with its defaults over the ranges the 81 curves
were drawn from, SuccessiveHalvingPruner(min_resource, reduction_factor),
n_jobs threads, each step sleeping as curve.py does. Reads {"ranges": {"a":
[lo, hi], "b": ..., "r": ...}, "steps", "sleepSeconds", "trials", "seed",
"minStep", "reduction", "jobs"} on stdin; prints {"wall", "trials": [{"number",
"steps", "state", "value"}...]}, where value is the final valLoss of a
trial that ran to its end (null otherwise).
"""
import json
import math
import sys
import threading
import time

import optuna


def main():
    spec = json.load(sys.stdin)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize",
        pruner=optuna.pruners.SuccessiveHalvingPruner(
            min_resource=spec["minStep"], reduction_factor=spec["reduction"]),
        sampler=optuna.samplers.TPESampler(seed=spec["seed"]))
    steps_of = {}
    lock = threading.Lock()

    def objective(trial):
        p = {k: trial.suggest_float(k, lo, hi) for k, (lo, hi) in sorted(spec["ranges"].items())}
        v = None
        for step in range(1, spec["steps"] + 1):
            time.sleep(spec["sleepSeconds"])
            v = p["a"] + p["b"] * math.exp(-p["r"] * step)
            with lock:
                steps_of[trial.number] = step
            trial.report(v, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return v

    start = time.time()
    study.optimize(objective, n_trials=spec["trials"], n_jobs=spec["jobs"])
    wall = time.time() - start
    out = []
    for t in study.trials:
        out.append({"number": t.number, "steps": steps_of.get(t.number, 0), "state": t.state.name,
                    "value": t.value if t.state == optuna.trial.TrialState.COMPLETE else None})
    print(json.dumps({"wall": wall, "trials": out}))


if __name__ == "__main__":
    main()
