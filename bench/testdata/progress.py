"""A trivial mljob script that prints progress lines, for bench/progress_test.go.

Job fields:
  lines          how many lines to print before the outcome (default 0)
  intervalSeconds  the pause between two lines; 0 prints them as fast as it
                 can, in chunks of 1000 lines a write
  plain          true: the lines are plain text, not progress lines (the same
                 work for the host, nothing for mljob's progress path)
  clock          true: each line carries sentAt, the wall-clock time (Unix
                 seconds) it was printed at, for the latency measurement
  payload, x     echoed in the outcome, as echo.py does

A progress line is {"step": i, "loss": <a noisy falling value>} (plus
"sentAt" with clock); the outcome is {"status": 200, "loss": x*x, ...}.
"""
import json
import sys
import time


def line(i, plain, clock):
    loss = 1.0 / (1 + i) + ((i * 7919) % 101) / 10000.0
    if plain:
        return "step %d loss %.6f\n" % (i, loss)
    if clock:
        return '{"step": %d, "loss": %.6f, "sentAt": %.6f}\n' % (i, loss, time.time())
    return '{"step": %d, "loss": %.6f}\n' % (i, loss)


def main(argv):
    arg = argv[1]
    if arg.lstrip().startswith("{"):
        job = json.loads(arg)
    else:  # the run contract passes a path when the JSON is too big for argv
        with open(arg) as f:
            job = json.load(f)
    n = int(job.get("lines", 0))
    interval = float(job.get("intervalSeconds", 0))
    plain, clock = bool(job.get("plain")), bool(job.get("clock"))
    out = sys.stdout
    if interval > 0:
        start = time.time()
        for i in range(n):
            # A steady rate: each line at start + i*interval, whatever the
            # writes before it cost.
            time.sleep(max(0.0, start + i * interval - time.time()))
            out.write(line(i, plain, clock))
            out.flush()
    else:
        for lo in range(0, n, 1000):
            out.write("".join(line(i, plain, clock) for i in range(lo, min(n, lo + 1000))))
        out.flush()
    x = float(job.get("x", 0))
    print(json.dumps({"status": 200, "loss": x * x, "metric": x, "payload": job.get("payload"),
                      "lines": n}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
