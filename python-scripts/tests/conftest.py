"""Shared fixtures for the python-scripts test suite.

Run with Debian's python (the pyenv python3 on PATH has no torch):

    /usr/bin/python3 -m pytest -q python-scripts/tests
"""

import io
import json
import pathlib
import sys

# Importing nn.py must not leave __pycache__ beside the scripts, which the
# Go side embeds.
sys.dont_write_bytecode = True

SCRIPTS = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCRIPTS))

import pytest  # noqa: E402
import torch  # noqa: E402

import nn  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """one_thread keeps torch on one thread: faster for tiny nets and deterministic."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(1)


@pytest.fixture
def job():
    """job returns a small, fast Job on the shipped wine data (a fresh dict per test)."""
    return {
        "jobId": "job-1",
        "scriptName": "nn.py",
        "projectName": "wine_data",
        "dataFileName": "wine_data.csv",
        "dependentVariable": "proline",
        "hiddenLayers": [
            {"activation": "relu", "widthModifier": 1, "dropout": 0.1},
            {"activation": "tanh", "widthModifier": 0.5, "dropout": 0.0},
        ],
        "optimizer": "adam",
        "learningRate": 0.01,
        "loss": "mse",
        "epochs": 3,
        "batchSize": 64,
        "crossValidateOnly": False,
        "scalerType": "standard",
        "seed": 42,
    }


class Run:
    """Run is the result of one in-process nn.main call."""

    def __init__(self, code, stdout, workdir):
        self.code = code
        self.stdout = stdout
        self.lines = stdout.splitlines()
        self.outcome = json.loads(self.lines[-1])
        self.workdir = workdir


@pytest.fixture
def run_nn(tmp_path, monkeypatch):
    """run_nn runs nn.main in-process with cwd = a fresh run dir and returns a Run."""
    monkeypatch.chdir(tmp_path)

    def run(job, argv=None):
        out = io.StringIO()
        code = nn.main(argv or ["nn.py", json.dumps(job)], stdout=out)
        return Run(code, out.getvalue(), tmp_path)

    return run

