"""Replays a pruner parity test's events through real Optuna.

Reads JSON on stdin: {"scenarios": [{"rule": {...prune.Rule...},
"goal": "minimize"|"maximize", "events": [{"kind": "report"|"complete"|
"fail", "run": N, "step": S, "value": "V"}]}]} (values as text, so that
NaN and infinities travel). Writes JSON on stdout: per scenario, per
event, {"skipped": bool, "prune": bool, "rungs": {"K": "V"}}: whether the
event was skipped (its run was pruned before), should_prune's answer to a
report, and the run's completed_rung_K system attrs after the event.

Each run is one study.ask() trial, asked at its first event; a report is
trial.report + trial.should_prune; a pruned trial is told PRUNED; complete
tells a value, fail tells FAIL.
"""
import json
import sys
import warnings

import optuna
from optuna.trial import TrialState


def pruner(rule):
    if rule["rule"] == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=int(rule.get("minStep", 1)),
            reduction_factor=rule.get("reduction", 3),
            min_early_stopping_rate=rule.get("minEarlyStoppingRate", 0),
        )
    return optuna.pruners.MedianPruner(
        n_startup_trials=rule.get("startupRuns", 0),
        n_warmup_steps=int(rule.get("warmupSteps", 0)),
    )


def rungs(study, trial):
    attrs = study._storage.get_trial(trial._trial_id).system_attrs
    out = {}
    for k, v in attrs.items():
        if k.startswith("completed_rung_"):
            out[k[len("completed_rung_"):]] = repr(float(v))
    return out


def replay(scenario):
    study = optuna.create_study(direction=scenario["goal"], pruner=pruner(scenario["rule"]))
    trials, pruned, results = {}, set(), []
    for ev in scenario["events"]:
        run = ev["run"]
        if run in pruned:
            results.append({"skipped": True, "prune": False, "rungs": {}})
            continue
        if run not in trials:
            trials[run] = study.ask()
        trial = trials[run]
        res = {"skipped": False, "prune": False}
        if ev["kind"] == "report":
            trial.report(float(ev["value"]), ev["step"])
            res["prune"] = bool(trial.should_prune())  # numpy.bool_ from the median pruner
        res["rungs"] = rungs(study, trial)
        if res["prune"]:
            study.tell(trial, state=TrialState.PRUNED)
            pruned.add(run)
        elif ev["kind"] == "complete":
            study.tell(trial, 0.0)
        elif ev["kind"] == "fail":
            study.tell(trial, state=TrialState.FAIL)
        results.append(res)
    return results


def main():
    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    data = json.load(sys.stdin)
    json.dump({"version": optuna.__version__,
               "scenarios": [replay(s) for s in data["scenarios"]]}, sys.stdout)


if __name__ == "__main__":
    main()
