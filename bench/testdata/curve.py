"""A learning curve with a known final value, for bench/search_test.go.

Job fields: a, b, r (the curve valLoss(step) = a + b·exp(-r·step)), steps
(how many steps), sleepSeconds (the pause after each step: the "training").
It prints {"step": s, "valLoss": ...} after each step, and the outcome
{"valLoss": <the value at the last step>, "steps": <steps run>}.
"""
import json
import math
import sys
import time


def value(job, step):
    return job["a"] + job["b"] * math.exp(-job["r"] * step)


def main(argv):
    job = json.loads(argv[1])
    for step in range(1, job["steps"] + 1):
        time.sleep(job["sleepSeconds"])
        print(json.dumps({"step": step, "valLoss": value(job, step)}), flush=True)
    print(json.dumps({"valLoss": value(job, job["steps"]), "steps": job["steps"]}), flush=True)


if __name__ == "__main__":
    main(sys.argv)
