"""Tests for mljob_job, the script side of the mljob run contract."""

import io
import json

import numpy as np
import pytest

import mljob_job
from mljob_job import JobError


@pytest.mark.parametrize("value, want", [
    (float("nan"), "NaN"),
    (float("inf"), "Infinity"),
    (float("-inf"), "-Infinity"),
    (np.float32("nan"), "NaN"),
    (np.float64(1.5), 1.5),
    (np.int64(7), 7),
    (True, True),
    (None, None),
    ("text", "text"),
    ({"a": [1.0, float("nan")]}, {"a": [1.0, "NaN"]}),
    (np.array([1.0, np.inf]), [1.0, "Infinity"]),
    ((1, 2), [1, 2]),
], ids=["nan", "inf", "-inf", "np-nan", "np-float", "np-int", "bool", "none", "str",
        "nested", "array", "tuple"])
def test_strict(value, want):
    assert mljob_job.strict(value) == want
    # The line must parse as strict JSON (no bare NaN).
    json.loads(mljob_job.dumps(value), parse_constant=lambda c: pytest.fail(f"bare {c}"))


def test_load_job_text_and_path(tmp_path, monkeypatch):
    job = {"jobId": "j", "epochs": 2}
    assert mljob_job.load_job(["s.py", json.dumps(job)]) == job
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.json").write_text(json.dumps(job))
    assert mljob_job.load_job(["s.py", "job.json"]) == job


@pytest.mark.parametrize("argv, reason", [
    (["s.py"], "missing"),
    (["s.py", "  "], "missing"),
    (["s.py", "{not json"], "not valid JSON"),
    (["s.py", "no-such-file.json"], "read no-such-file.json"),
    (["s.py", "[1, 2]"], "read"),  # not "{": taken as a path
])
def test_load_job_errors(argv, reason, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(JobError) as info:
        mljob_job.load_job(argv)
    assert info.value.field == "job"
    assert reason in str(info.value)


def test_load_job_not_an_object(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.json").write_text("[1, 2]")
    with pytest.raises(JobError, match="want an object"):
        mljob_job.load_job(["s.py", "job.json"])


def test_find_data_file_prefers_cwd(tmp_path, monkeypatch):
    script_dir = tmp_path / "scripts"
    (script_dir / "data").mkdir(parents=True)
    (script_dir / "data" / "d.csv").write_text("beside")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    monkeypatch.chdir(run_dir)
    assert mljob_job.find_data_file("d.csv", script_dir).read_text() == "beside"
    (run_dir / "d.csv").write_text("cwd")
    assert mljob_job.find_data_file("d.csv", script_dir).read_text() == "cwd"
    with pytest.raises(JobError) as info:
        mljob_job.find_data_file("missing.csv", script_dir)
    assert info.value.field == "dataFileName"


def run_script(train, job, capsys):
    out = io.StringIO()
    code = mljob_job.run_script(train, ["s.py", json.dumps(job)], stdout=out)
    lines = out.getvalue().splitlines()
    for line in lines:  # every stdout line is strict JSON
        json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c} in {line}"))
    return code, lines, json.loads(lines[-1]), capsys.readouterr().err


def test_run_script_outcomes(capsys):
    def ok(job):
        mljob_job.emit({"step": 1, "loss": 2.0})
        print("a stray print")  # must not become the last stdout line
        return {"loss": 1.5, "metric": float("nan"), "extra": np.int64(3)}

    def bad(job):
        raise JobError("epochs", "too small")

    def crash(job):
        raise RuntimeError("boom")

    def not_a_dict(job):
        return [1]

    def with_step(job):
        return {"loss": 1.0, "metric": 1.0, "step": 9}

    cases = [
        ("ok", ok, 0, {"status": 200, "loss": 1.5, "metric": "NaN", "extra": 3}),
        ("bad job", bad, 2, {"status": 400, "field": "epochs", "error": "epochs: too small"}),
        ("crash", crash, 1, {"status": 500, "error": "RuntimeError: boom"}),
        ("not a dict", not_a_dict, 1, {"status": 500}),
        ("step", with_step, 1, {"status": 500}),
    ]
    for name, train, want_code, want in cases:
        code, lines, outcome, err = run_script(
            train, {"jobId": "j7", "assignmentId": "o3"}, capsys)
        assert code == want_code, name
        assert outcome["jobId"] == "j7", name
        assert outcome["assignmentId"] == "o3", name
        assert isinstance(outcome["durationSeconds"], float), name
        for key, value in want.items():
            assert outcome[key] == value, (name, key)
        if name == "ok":
            assert lines[0] == '{"step":1,"loss":2.0}'
            assert len(lines) == 2
            assert "a stray print" in err
        if name == "crash":
            assert "Traceback" in err
        assert "step" not in outcome, name


def test_run_script_bad_argv_and_seed_id(capsys):
    out = io.StringIO()
    code = mljob_job.run_script(lambda job: {}, ["s.py", "{oops"], stdout=out)
    outcome = json.loads(out.getvalue().splitlines()[-1])
    assert code == 2 and outcome["status"] == 400 and outcome["field"] == "job"
    assert outcome["jobId"] is None

    code, _, outcome, _ = run_script(lambda job: {"loss": 1, "metric": 2},
                                     {"_id": "5bcc93d6"}, capsys)
    assert code == 0 and outcome["jobId"] == "5bcc93d6"


@pytest.mark.parametrize("value, want", [
    ("4", 4), ("", None), ("zero", None), ("0", None), ("-2", None),
])
def test_env_threads(value, want, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert mljob_job.env_threads() == want



@pytest.mark.parametrize("fn, job, kwargs, want", [
    (mljob_job.number, {"x": 2.0}, dict(default=1, integer=True), 2),
    (mljob_job.number, {}, dict(default=0.5, lo=0, hi=1), 0.5),
    (mljob_job.number, {"x": 0}, dict(default=1, lo=0), 0),
    (mljob_job.number, {"x": None}, dict(default=None, allow_none=True), None),
    (mljob_job.choice, {"x": "Adam"}, dict(default="sgd", choices=("adam", "sgd")), "adam"),
    (mljob_job.choice, {"x": None}, dict(default="sgd", choices=("adam", "sgd")), "sgd"),
    (mljob_job.choice, {"x": ""}, dict(default="a", choices=("a", "b"), blank="b"), "b"),
    (mljob_job.boolean, {"x": None}, dict(default=True), True),
    (mljob_job.boolean, {"x": False}, dict(default=True), False),
], ids=["whole-float", "default", "closed-lo", "none-allowed", "lowercased", "null-default",
        "blank", "bool-null", "bool"])
def test_field_readers_accept(fn, job, kwargs, want):
    got = fn(job, "x", **kwargs)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize("fn, job, kwargs, reason", [
    (mljob_job.number, {"x": True}, dict(default=1), "not a number"),
    (mljob_job.number, {"x": "1"}, dict(default=1), "not a number"),
    (mljob_job.number, {"x": float("nan")}, dict(default=1), "not finite"),
    (mljob_job.number, {"x": 1.5}, dict(default=1, integer=True), "whole number"),
    (mljob_job.number, {"x": 0}, dict(default=1, lo=0, lo_open=True), "want > 0"),
    (mljob_job.number, {"x": 1}, dict(default=0, hi=1, hi_open=True), "want < 1"),
    (mljob_job.number, {"x": None}, dict(default=1), "missing"),
    (mljob_job.choice, {"x": "swish"}, dict(default="a", choices=("a",)), "want one of a"),
    (mljob_job.choice, {"x": 3}, dict(default="a", choices=("a",)), "not a string"),
    (mljob_job.boolean, {"x": "yes"}, dict(default=False), "not true or false"),
    (mljob_job.string, {"x": ""}, {}, "missing"),
    (mljob_job.string, {"x": 3}, {}, "not a string"),
], ids=["bool", "numeric-string", "nan", "fraction", "open-lo", "open-hi", "null",
        "unknown-choice", "choice-type", "bool-string", "empty-string", "string-type"])
def test_field_readers_refuse(fn, job, kwargs, reason):
    with pytest.raises(JobError, match=reason) as info:
        fn(job, "x", **kwargs)
    assert info.value.field == "x"


def test_prefixed_names_the_nested_field():
    with pytest.raises(JobError) as info:
        mljob_job.prefixed("hiddenLayers[1]", mljob_job.number, {"dropout": 2}, "dropout", 0,
                           hi=1)
    assert info.value.field == "hiddenLayers[1].dropout"
