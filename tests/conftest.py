"""Fixtures shared by the test modules: the data folder, the CLI runner, run-directory reads.

Tests that need MNIST or Fashion-MNIST take the ``data_dir`` fixture; without the data they
are skipped with a reason that says how to point the suite at it. Tests marked ``slow``
(numba-heavy runs, subprocesses, kills) are left out by ``pytest -m "not slow"``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from blgnn_es.cli import cli

ROOT = Path(__file__).resolve().parents[1]
# The repo sits at X/main and the shared data at X/shared/data, here and in CI.
DATA = Path(os.environ.get("BLGNN_ES_DATA", ROOT.parent / "shared" / "data")).resolve()
NO_DATA = (f"MNIST not found in {DATA}: set BLGNN_ES_DATA to a folder holding mnist/ and "
           "fashion-mnist/ (the idx files), e.g. BLGNN_ES_DATA=../shared/data")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes seconds; left out by -m 'not slow'")


def tiny_toml(name: str, seed: int, max_generations: int | str = 3, extra: str = "") -> str:
    """A run config small enough for a test: xor, 2-6-1, 4 steps of 16, popsize 6, serial."""
    return (f'[run]\nname = "{name}"\nseed = {seed}\n[network]\nhidden = [6]\n'
            '[tasks]\ntrain = ["xor"]\n[unroll]\nsteps = 4\nbatch = 16\neval_batches = 1\n'
            f'[cmaes]\npopsize = 6\nmax_generations = {max_generations}\n'
            f'[parallel]\nbackend = "serial"\n{extra}')


def have_data() -> bool:
    """Whether the image datasets are there (for module-level skip marks)."""
    return (DATA / "mnist").is_dir()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding mnist/ and fashion-mnist/; skips the test when it is absent."""
    if not have_data():
        pytest.skip(NO_DATA)
    return DATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture()
def invoke() -> Callable[..., Result]:
    """Run the ``blgnn-es`` command line in this process: ``invoke("evaluate", path, ...)``."""
    runner = CliRunner()

    def run(*args: str | os.PathLike, **kwargs) -> Result:
        return runner.invoke(cli, [str(arg) for arg in args], catch_exceptions=False, **kwargs)

    return run


@pytest.fixture()
def read_metrics() -> Callable[[Path], list[dict]]:
    """The parsed lines of a run directory's metrics.jsonl."""

    def read(run_dir: Path) -> list[dict]:
        text = (Path(run_dir) / "metrics.jsonl").read_text()
        return [json.loads(line) for line in text.splitlines()]

    return read
