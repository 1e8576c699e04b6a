"""Tests that each <script>.fields.yaml says what its script's parse_job reads and enforces.

mljob submit checks jobs against these files, so a file that drifts from
its script would refuse good jobs or pass bad ones. Two checks keep them
together: parse_job runs on a job that records every field it reads, with
the default it reads it with; and every declared type, bound, choice and
default is probed against parse_job itself.
"""

import copy
import math
import pathlib

import pytest
import torch
import yaml

import baseline
import nn
from mljob_job import JobError

SCRIPTS = pathlib.Path(nn.__file__).resolve().parent

# SPECS are the scripts with a fields file: module, a minimal valid job.
SPECS = {
    "nn": (nn, {"dataFileName": "wine_data.csv", "dependentVariable": "proline"}),
    "baseline": (baseline, {"dataFileName": "wine_data.csv", "dependentVariable": "proline"}),
}

TYPES = {"number", "integer", "string", "boolean", "list", "object"}
KEYS = {"type", "min", "max", "exclusiveMin", "exclusiveMax", "choices", "default", "help", "free"}

# NO_DEFAULT marks a read without a default: a required field or a list item.
NO_DEFAULT = object()


def load_fields(name):
    path = SCRIPTS / f"{name}.fields.yaml"
    text = path.read_text()
    assert text.startswith(f"# Fields of {name}.py: mljob submit checks jobs against them.\n")
    doc = yaml.safe_load(text)
    # fields, and the other top-level keys mljob reads: objective (the
    # script's default objective), artifacts (its globs), seeds (replicates).
    assert "fields" in doc and set(doc) <= {"fields", "objective", "artifacts", "seeds"}
    return doc["fields"]


# ------------------------------------------------------- recording the reads


class RecordingJob(dict):
    """RecordingJob is a job dict that records each key read, by dotted path, with its default."""

    def __init__(self, data, reads, prefix=""):
        super().__init__(data)
        self._reads = reads
        self._prefix = prefix

    def _wrap(self, path, value):
        if isinstance(value, dict):
            return RecordingJob(value, self._reads, path + ".")
        if isinstance(value, list):
            return RecordingList(value, self._reads, path)
        return value

    def _read(self, key, default):
        path = self._prefix + key
        self._reads.setdefault(path, []).append(default)
        return path

    def get(self, key, default=None):
        path = self._read(key, NO_DEFAULT if default is None else default)
        return self._wrap(path, dict.get(self, key, default))

    def __getitem__(self, key):
        return self._wrap(self._read(key, NO_DEFAULT), dict.__getitem__(self, key))

    def __contains__(self, key):
        self._read(key, NO_DEFAULT)
        return dict.__contains__(self, key)

    def _unrecordable(self, *args):
        raise AssertionError("parse_job walked the job's keys: read fields by name so "
                             "this test can see which")

    __iter__ = keys = items = values = _unrecordable


class RecordingList(list):
    """RecordingList records reading its items as the path "<list>.*"."""

    def __init__(self, items, reads, path):
        super().__init__(items)
        self._reads = reads
        self._path = path + ".*"

    def _item(self, value):
        self._reads.setdefault(self._path, []).append(NO_DEFAULT)
        return RecordingJob({}, self._reads)._wrap(self._path, value)

    def __iter__(self):
        return (self._item(v) for v in list.__iter__(self))

    def __getitem__(self, i):
        return self._item(list.__getitem__(self, i))


def reach_every_field(base, fields):
    """reach_every_field returns base with one item in each declared list.

    So parse_job reads the items' fields too.
    """
    job = copy.deepcopy(base)
    samples = {"object": {}, "string": "class", "number": 1.0, "integer": 1}
    for path, spec in fields.items():
        if path.endswith(".*") and path.count("*") == 1:
            job[path[:-2]] = [samples[spec["type"]]]
    return job


def same(a, b):
    # 0 == False in Python; a declared default must not pass as the other type.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("name", sorted(SPECS))
def test_fields_file_declares_what_parse_job_reads(name):
    module, base = SPECS[name]
    fields = load_fields(name)
    reads = {}
    module.parse_job(RecordingJob(reach_every_field(base, fields), reads))
    assert sorted(reads) == sorted(fields), "declared vs read"
    for path, defaults in reads.items():
        first = defaults[0]
        assert all(same(d, first) for d in defaults), (path, "read with several defaults")
        if first is NO_DEFAULT:
            assert "default" not in fields[path], (path, "declares a default nn.py lacks")
        else:
            assert "default" in fields[path], (path, f"default {first!r} not declared")
            assert same(fields[path]["default"], first), (path, fields[path]["default"], first)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_fields_file_format(name):
    fields = load_fields(name)
    for path, spec in fields.items():
        assert isinstance(spec, dict) and set(spec) <= KEYS, path
        assert spec["type"] in TYPES, path
        parts = path.split(".")
        assert all(parts) and all(p == "*" or "*" not in p for p in parts), path
        if len(parts) > 1:  # each container above a dotted path is declared with its type
            parent = fields[".".join(parts[:-1])]
            assert parent["type"] == ("list" if parts[-1] == "*" else "object"), path
        if {"min", "max"} & set(spec):
            assert spec["type"] in ("number", "integer"), path
        for bound in ("min", "max"):
            if f"exclusive{bound.title()}" in spec:
                assert bound in spec and isinstance(spec[f"exclusive{bound.title()}"], bool), path
        if "choices" in spec:
            assert spec["type"] == "string" and spec["choices"], path
            assert all(isinstance(c, str) for c in spec["choices"]), path
        if "help" in spec:
            assert isinstance(spec["help"], str), path
        if "free" in spec:
            assert spec["type"] == "object" and isinstance(spec["free"], bool), path


# ------------------------------------------------ probing what is enforced

# NOT_EVERY_NUMBER lists number fields whose script refuses some values
# inside the declared range, which the format cannot say (their help does):
# pcaComponents takes -1, a fraction in (0, 1) or a whole number >= 1.
NOT_EVERY_NUMBER = {"pcaComponents"}

ABSENT = object()


def with_field(base, path, value):
    """with_field returns a copy of base with path set to value.

    ABSENT builds the containers above path (an empty list, or a list of
    one empty object) and leaves the field itself out.
    """
    job = copy.deepcopy(base)
    if path == "depedentVariable":
        del job["dependentVariable"]  # set alone: both set and unequal is its own error
    parts = path.split(".")
    if len(parts) == 1:
        if value is not ABSENT:
            job[path] = value
    elif parts[1:] == ["*"]:
        job[parts[0]] = [] if value is ABSENT else [value]
    else:
        assert len(parts) == 3 and parts[1] == "*", path
        job[parts[0]] = [{} if value is ABSENT else {parts[2]: value}]
    return job


def error_name(path):
    """error_name returns the field name a JobError gives for path: hiddenLayers[0].dropout."""
    return path.replace(".*", "[0]")


def refusal(module, job):
    try:
        module.parse_job(job)
    except JobError as err:
        return err
    return None


def probes(path, spec):
    """probes yields (value, accepted) pairs that test each declared property of a field."""
    kind = spec["type"]
    if kind in ("number", "integer"):
        yield "1", False
        yield True, False
        lo, hi = spec.get("min"), spec.get("max")
        if lo is None:
            yield -1e6, True
        else:
            yield lo, not spec.get("exclusiveMin", False)
            yield lo - 1, False
        if hi is None:
            yield 10**6, True
        else:
            yield hi, not spec.get("exclusiveMax", False)
            yield hi + 1, False
        inside = (lo + hi) / 2 if lo is not None and hi is not None else (
            lo + 0.5 if lo is not None else 0.5)
        if kind == "integer":
            yield math.floor(inside) + 0.5, False
        elif path not in NOT_EVERY_NUMBER:
            yield inside, True
    elif kind == "string":
        yield 5, False
        if "choices" in spec:
            for value in spec["choices"]:
                yield value, True
            yield "no-such-choice", False
        else:
            yield "x", True
    elif kind == "boolean":
        yield True, True
        yield False, True
        yield "yes", False
        yield 1, False
    elif kind == "list":
        yield [], True
        yield "x", False
    elif kind == "object":
        yield {}, True
        yield 7, False
    if "default" in spec:
        yield spec["default"], True


@pytest.mark.parametrize("name", sorted(SPECS))
def test_fields_file_says_what_parse_job_enforces(name):
    module, base = SPECS[name]
    fields = load_fields(name)
    checked = 0
    for path, spec in fields.items():
        for value, accepted in probes(path, spec):
            err = refusal(module, with_field(base, path, value))
            if value == "cuda" and not torch.cuda.is_available():
                assert err is not None and "no CUDA device" in err.reason
                continue
            if accepted:
                assert err is None, (path, value, str(err))
            else:
                assert err is not None, (path, value, "accepted")
                assert err.field == error_name(path), (path, value, str(err))
            checked += 1
        if "choices" in spec:
            # The script's own list, from its refusal: no choice missing from the file.
            err = refusal(module, with_field(base, path, "no-such-choice"))
            listed = err.reason.split("want one of ", 1)[1].split(", ")
            assert set(listed) == set(spec["choices"]) - {""}, path
    assert checked > 5 * len(fields)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_declared_defaults_are_the_defaults(name):
    module, base = SPECS[name]
    for path, spec in load_fields(name).items():
        if "default" in spec:
            absent = module.parse_job(with_field(base, path, ABSENT))
            given = module.parse_job(with_field(base, path, spec["default"]))
            assert given == absent, path


def test_readme_excerpt_is_the_file():
    readme = (SCRIPTS / "README.md").read_text()
    block = readme.split("```yaml\n# Fields of nn.py", 1)[1].split("```", 1)[0]
    lines = set((SCRIPTS / "nn.fields.yaml").read_text().splitlines())
    for line in block.splitlines()[1:]:
        assert line in lines, line
