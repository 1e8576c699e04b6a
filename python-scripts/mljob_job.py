"""mljob_job is the script side of the mljob run contract.

A script in python-scripts/ is started by mljob with cwd = its run dir and
the Job JSON as argv[1] (or the path "job.json" when the JSON is too large
for one argv word). mljob reads the script's stdout and takes the LAST line
that is a JSON object as the Outcome; a non-zero exit is a failed run.

This module does the parts every script needs, so a script is a few lines::

    import mljob_job

    def train(job):
        ...
        return {"loss": 1.5, "metric": 0.9}

    if __name__ == "__main__":
        raise SystemExit(mljob_job.run_script(train))

run_script reads the job, calls train(job), and writes the Outcome as the
last stdout line: status 200 on success, 400 with exit code 2 when the job is
bad (raise JobError naming the field), 500 with exit code 1 on any other
exception. Outcome lines are always strict JSON: NaN and infinities are
written as the strings "NaN", "Infinity", "-Infinity".
"""

import contextlib
import json
import math
import numbers
import os
import pathlib
import sys
import time
import traceback

# Exit codes of the contract; mljob treats any non-zero exit as a failed run.
EXIT_OK = 0
EXIT_CRASH = 1
EXIT_BAD_JOB = 2
EXIT_INTERRUPTED = 130

# Outcome statuses, in the seed's HTTP-like spirit.
STATUS_OK = 200
STATUS_BAD_JOB = 400
STATUS_CRASH = 500


class JobError(ValueError):
    """JobError reports a job field that is missing or invalid.

    run_script turns it into a status 400 outcome whose "error" names the
    field and says why, and exits 2.
    """

    def __init__(self, field, reason):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# ------------------------------------------------------------ field readers
#
# The scripts read their Job fields through these, so every script refuses a
# bad value the same way (a JobError naming the field) and each script's
# *.fields.yaml can say what they enforce.


def number(job, field, default, lo=None, hi=None, lo_open=False, hi_open=False,
           integer=False, allow_none=False):
    """number returns job[field] (default when absent) as a finite number in [lo, hi].

    lo_open/hi_open make a bound exclusive; integer wants a whole number
    (2.0 is accepted, as 2); allow_none lets null or an absent field with a
    None default through as None. Booleans are not numbers.
    """
    value = job.get(field, default)
    if value is None:
        if allow_none:
            return None
        raise JobError(field, "missing: want a number")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise JobError(field, f"{value!r} is not a number")
    if not math.isfinite(value):
        raise JobError(field, f"{value!r} is not finite")
    if integer:
        if value != int(value):
            raise JobError(field, f"{value!r} is not a whole number")
        value = int(value)
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise JobError(field, f"{value!r} is too small: want {'>' if lo_open else '>='} {lo}")
    if hi is not None and (value > hi or (hi_open and value == hi)):
        raise JobError(field, f"{value!r} is too large: want {'<' if hi_open else '<='} {hi}")
    return value


def choice(job, field, default, choices, blank=None):
    """choice returns job[field] lowercased, refusing a value not in choices.

    null means default; with blank set, "" means blank (e.g. "" = "linear").
    """
    value = job.get(field, default)
    if value is None or (blank is not None and value == ""):
        value = blank if blank is not None else default
    if not isinstance(value, str):
        raise JobError(field, f"{value!r} is not a string")
    if value.lower() not in choices:
        raise JobError(field, f"unknown {value!r}: want one of {', '.join(sorted(set(choices)))}")
    return value.lower()


def boolean(job, field, default):
    """boolean returns job[field] as true or false; null means default."""
    value = job.get(field, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise JobError(field, f"{value!r} is not true or false")
    return value


def string(job, field):
    """string returns job[field], a required non-empty string."""
    value = job.get(field)
    if value is None or value == "":
        raise JobError(field, "missing")
    if not isinstance(value, str):
        raise JobError(field, f"{value!r} is not a string")
    return value


def prefixed(prefix, fn, *args, **kwargs):
    """prefixed calls fn and re-raises its JobError under prefix, e.g. hiddenLayers[1].dropout."""
    try:
        return fn(*args, **kwargs)
    except JobError as err:
        raise JobError(f"{prefix}.{err.field}", err.reason) from None


def load_job(argv):
    """load_job returns the Job dict from argv[1].

    argv[1] is the Job JSON text or, when it does not start with "{", the
    path of a JSON file (mljob passes "job.json" for large jobs). Raises
    JobError (field "job") when it is missing, unreadable, not JSON or not
    an object.
    """
    if len(argv) < 2 or not argv[1].strip():
        raise JobError("job", "missing: pass the Job JSON or a JSON file path as argv[1]")
    arg = argv[1]
    if arg.lstrip().startswith("{"):
        text, where = arg, "argv[1]"
    else:
        try:
            text = pathlib.Path(arg).read_text(encoding="utf-8")
        except OSError as err:
            raise JobError("job", f"read {arg}: {err.strerror or err}") from err
        where = arg
    try:
        job = json.loads(text)
    except json.JSONDecodeError as err:
        raise JobError("job", f"{where} is not valid JSON: {err}") from err
    if not isinstance(job, dict):
        raise JobError("job", f"{where} is a JSON {type(job).__name__}, want an object")
    return job


def find_data_file(name, script_dir=None):
    """find_data_file returns the path of the data file called name.

    It looks in the cwd first (mljob links data files into the run dir),
    then in data/ beside the script, so a script also runs by hand from a
    checkout. Raises JobError (field "dataFileName") when neither exists.
    """
    if not isinstance(name, str) or not name:
        raise JobError("dataFileName", "missing: name the data file (e.g. wine_data.csv)")
    if script_dir is None:
        script_dir = pathlib.Path(sys.argv[0] or ".").resolve().parent
    candidates = [pathlib.Path(name), pathlib.Path(script_dir) / "data" / name]
    for path in candidates:
        if path.is_file():
            return path
    where = ", ".join(str(p) for p in candidates)
    raise JobError("dataFileName", f"{name!r} not found (looked in {where})")


def strict(value):
    """strict returns value with every float made JSON-safe.

    Non-finite floats become "NaN", "Infinity" or "-Infinity" (json.dumps
    would write bare NaN, which is not JSON and which mljob could not
    parse); numpy scalars and arrays become plain numbers and lists.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        f = float(value)
        if math.isnan(f):
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return f
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return strict(tolist())
    return str(value)


def dumps(obj):
    """dumps returns obj as one line of strict JSON (see strict)."""
    return json.dumps(strict(obj), allow_nan=False, separators=(",", ":"))


def emit(obj, stream=None):
    """emit writes obj as one strict JSON line to stream (the real stdout).

    Use it for progress lines such as {"step": 3, "loss": 0.5, "valLoss":
    0.6}: a JSON object with a numeric "step" is a progress report, every
    other numeric field of it a metric at that step, and "series" (a
    string, optional) names the curve when a run has several (e.g.
    "fold2"); steps increase within a series. Leave out a metric that is
    NaN or infinite. run_script writes the Outcome after them, so the
    Outcome is always the last line.
    """
    stream = stream if stream is not None else _outcome_stream()
    stream.write(dumps(obj) + "\n")
    stream.flush()


def log(*args):
    """log writes a progress message to stderr."""
    print(*args, file=sys.stderr, flush=True)


# _real_stdout is the stream outcome and progress lines go to while
# run_script has redirected sys.stdout to stderr; None outside run_script.
_real_stdout = None


def _outcome_stream():
    return _real_stdout if _real_stdout is not None else sys.stdout


def run_script(train, argv=None, stdout=None):
    """run_script runs train(job) under the mljob contract and returns the exit code.

    train gets the Job dict and returns a dict with at least "loss" and
    "metric" (numbers, or numeric strings) and no "step"; its extras are
    kept. The Outcome
    written last to stdout is {"status", "jobId", ...train's dict,
    "durationSeconds"}, plus "assignmentId" when mljob set one. While train
    runs, print() goes to stderr, so a stray print cannot become the last
    stdout line; use emit for JSON progress on stdout.

    Exit codes: 0 ok, 2 bad job (JobError, status 400), 1 crash (status
    500), 130 interrupted (status 500).
    """
    global _real_stdout
    argv = sys.argv if argv is None else argv
    out = stdout if stdout is not None else sys.stdout
    start = time.monotonic()
    job = {}
    outcome = {}
    code = EXIT_OK
    previous = _real_stdout
    _real_stdout = out
    try:
        with contextlib.redirect_stdout(sys.stderr):
            job = load_job(argv)
            result = train(job)
            if not isinstance(result, dict):
                raise TypeError(f"train returned {type(result).__name__}, want a dict")
            if "step" in result:
                # mljob would read it as one more progress line, not the Outcome.
                raise TypeError("train returned a \"step\" field: that marks a progress "
                                "line, so the Outcome must not have one")
            outcome = {"status": STATUS_OK, "jobId": _job_id(job)}
            outcome.update(result)
            outcome["status"] = STATUS_OK
    except JobError as err:
        log(f"bad job: {err}")
        outcome = {"status": STATUS_BAD_JOB, "jobId": _job_id(job),
                   "error": str(err), "field": err.field}
        code = EXIT_BAD_JOB
    except KeyboardInterrupt:
        outcome = {"status": STATUS_CRASH, "jobId": _job_id(job), "error": "interrupted"}
        code = EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - the contract turns any crash into an outcome
        traceback.print_exc(file=sys.stderr)
        outcome = {"status": STATUS_CRASH, "jobId": _job_id(job),
                   "error": f"{type(err).__name__}: {err}"}
        code = EXIT_CRASH
    finally:
        _real_stdout = previous
    if "assignmentId" in job:
        outcome.setdefault("assignmentId", job["assignmentId"])
    outcome.setdefault("durationSeconds", round(time.monotonic() - start, 3))
    try:
        line = dumps(outcome)
    except (TypeError, ValueError) as err:
        # strict() makes almost anything serialisable; this is the last
        # guard so the contract's "never a non-JSON last line" holds.
        line = dumps({"status": STATUS_CRASH, "jobId": _job_id(job),
                      "error": f"outcome not serialisable: {err}"})
        code = EXIT_CRASH
    out.write(line + "\n")
    out.flush()
    return code


def _job_id(job):
    # mljob sets "jobId"; a seed (MongoDB) job carried "_id" instead.
    value = job.get("jobId", job.get("_id")) if isinstance(job, dict) else None
    return value


def env_threads():
    """env_threads returns OMP_NUM_THREADS as a positive int, or None when unset or invalid."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    try:
        n = int(value)
    except ValueError:
        return None
    return n if n > 0 else None
