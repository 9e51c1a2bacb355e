"""Where a run's numbers came from: the package, its git commit when run from a checkout,
the numerical libraries, Python, the CPU and the command line (run.json's sessions).

Versions are read from the installed distributions' metadata, so recording them imports
neither numba nor pycma.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from blgnn_es import __version__
from blgnn_es.es.records import Environment, Session

_CHECKOUT = Path(__file__).resolve().parents[2]


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def git_commit(root: Path = _CHECKOUT) -> str | None:
    """The checkout's HEAD (``-dirty`` with uncommitted changes), None outside a checkout."""
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], text=True,
                              capture_output=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "diff", "--quiet", "HEAD", "--"],
                               capture_output=True, timeout=10).returncode == 1
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty else "")


def cpu_name() -> str:
    """The CPU model (Linux: /proc/cpuinfo), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def environment() -> Environment:
    """The software and machine of this process."""
    return Environment(package=__version__, git_commit=git_commit(),
                       python=platform.python_version(), numpy=_version("numpy"),
                       numba=_version("numba"), cma=_version("cma"),
                       platform=platform.platform(), cpu=cpu_name(), cpu_count=os.cpu_count())


def session(action: str, command: Sequence[str] | None = None) -> Session:
    """A run.json session entry for this process (``command``: default sys.argv)."""
    return Session(started=time.strftime("%Y-%m-%dT%H:%M:%S%z"), action=action,
                   command=list(sys.argv if command is None else command),
                   cwd=os.getcwd(), environment=environment())
