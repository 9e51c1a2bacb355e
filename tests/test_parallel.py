"""Backends: loky gives the serial results, and a broken worker pool is rebuilt."""

from __future__ import annotations

import os
from pathlib import Path

from blgnn_es.parallel.backends import LokyBackend, SerialBackend


def _square(value: int) -> int:
    return value * value


def _die_once(marker: str, value: int) -> int:
    """Kill the worker process the first time any job runs (a BrokenProcessPool)."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died")
        os._exit(1)
    return value * value


def test_loky_matches_serial():
    jobs = [(value,) for value in range(7)]
    assert LokyBackend(2).map(_square, jobs) == SerialBackend().map(_square, jobs)


def test_broken_pool_is_rebuilt_and_logged(tmp_path):
    lines: list[str] = []
    backend = LokyBackend(2, log=lines.append)
    marker = str(tmp_path / "marker")
    assert backend.map(_die_once, [(marker, value) for value in range(4)]) == [0, 1, 4, 9]
    assert lines and "rebuilding" in lines[0]
