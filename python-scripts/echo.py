"""A trivial mljob script for tests and benchmarks.

It reports loss = x*x and metric = x for the job's "x" field, and echoes
what it received so tests can check that the Job JSON arrived byte for byte:
the SHA-256 and length of argv[1], the job's "payload" field, and
CUDA_VISIBLE_DEVICES. A job field "sleepSeconds" makes it sleep first;
"exitCode" makes it exit with that code after printing its outcome.
"""
import hashlib
import json
import os
import sys
import time


def main(argv):
    arg = argv[1]
    raw = os.fsencode(arg)
    if arg.lstrip().startswith("{"):
        job = json.loads(arg)
    else:  # the run contract passes a path when the JSON is too big for argv
        with open(arg, "rb") as f:
            raw = f.read()
        job = json.loads(raw)
    time.sleep(float(job.get("sleepSeconds", 0)))
    x = float(job.get("x", 0))
    outcome = {
        "status": 200,
        "jobId": job.get("jobId"),
        "loss": x * x,
        "metric": x,
        "argSha256": hashlib.sha256(raw).hexdigest(),
        "argBytes": len(raw),
        "payload": job.get("payload"),
        "cudaVisibleDevices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "pid": os.getpid(),
    }
    print("starting", file=sys.stderr)
    print(json.dumps(outcome), flush=True)
    return int(job.get("exitCode", 0))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
