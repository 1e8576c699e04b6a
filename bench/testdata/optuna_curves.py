"""Runs the same learning curves through Optuna itself, for
bench/search_test.go: one trial per configuration (in the order given,
enqueued), SuccessiveHalvingPruner(min_resource, reduction_factor), n_jobs
threads, each step sleeping as curve.py does. Reads {"configs": [...],
"minStep", "reduction", "jobs"} on stdin; prints {"wall", "steps", "best",
"pruned"}.
"""
import json
import math
import sys
import time

import optuna


def main():
    spec = json.load(sys.stdin)
    configs = spec["configs"]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize",
        pruner=optuna.pruners.SuccessiveHalvingPruner(
            min_resource=spec["minStep"], reduction_factor=spec["reduction"]),
        sampler=optuna.samplers.RandomSampler(seed=0))
    for i in range(len(configs)):
        study.enqueue_trial({"i": i})
    steps_run = [0]

    def objective(trial):
        c = configs[trial.suggest_int("i", 0, len(configs) - 1)]
        v = None
        for step in range(1, c["steps"] + 1):
            time.sleep(c["sleepSeconds"])
            v = c["a"] + c["b"] * math.exp(-c["r"] * step)
            steps_run[0] += 1
            trial.report(v, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return v

    start = time.time()
    study.optimize(objective, n_trials=len(configs), n_jobs=spec["jobs"])
    wall = time.time() - start
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    print(json.dumps({"wall": wall, "steps": steps_run[0], "best": min(t.value for t in done),
                      "pruned": len(pruned)}))


if __name__ == "__main__":
    main()
