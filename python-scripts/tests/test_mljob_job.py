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
        mljob_job.emit({"epoch": 1, "loss": 2.0})
        print("a stray print")  # must not become the last stdout line
        return {"loss": 1.5, "metric": float("nan"), "extra": np.int64(3)}

    def bad(job):
        raise JobError("epochs", "too small")

    def crash(job):
        raise RuntimeError("boom")

    def not_a_dict(job):
        return [1]

    cases = [
        ("ok", ok, 0, {"status": 200, "loss": 1.5, "metric": "NaN", "extra": 3}),
        ("bad job", bad, 2, {"status": 400, "field": "epochs", "error": "epochs: too small"}),
        ("crash", crash, 1, {"status": 500, "error": "RuntimeError: boom"}),
        ("not a dict", not_a_dict, 1, {"status": 500}),
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
            assert lines[0] == '{"epoch":1,"loss":2.0}'
            assert len(lines) == 2
            assert "a stray print" in err
        if name == "crash":
            assert "Traceback" in err


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

