"""Atomic file writes: a reader (or a killed run) never sees a half-written file.

An OSError while writing (a read-only folder, a full disk) becomes a FileError naming the
path, and the temporary file is removed, so the file being replaced is left as it was.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from blgnn_es.errors import FileError, os_error_text


def atomic_write(
    path: str | os.PathLike, write: Callable[[IO[Any]], Any], binary: bool = False
) -> None:
    """Call ``write(fh)`` on a temporary file beside ``path``, fsync it, then rename it over."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise FileError(f"cannot write {path}: {os_error_text(err, path.parent)}") from None
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise FileError(f"cannot write {path}: {os_error_text(err, path)}") from None
        raise


def sha256_file(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_text(path: str | os.PathLike, what: str = "file") -> str:
    """A UTF-8 text file's content; FileError names the path when it cannot be read."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise FileError(f"{path}: the {what} is not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise FileError(f"cannot read the {what} {os_error_text(err, path)}") from None


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text))
