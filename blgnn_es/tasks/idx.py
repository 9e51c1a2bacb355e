"""Reading IDX files (the MNIST format): a big-endian header, then raw uint8 values.

Header: magic (2051 for images, 2049 for labels), then one uint32 per dimension. Files may
be gzipped (the canonical `.gz` distribution) or plain.
"""

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["IMAGE_MAGIC", "LABEL_MAGIC", "read_idx"]

IMAGE_MAGIC = 2051  # uint8 data, 3 dimensions
LABEL_MAGIC = 2049  # uint8 data, 1 dimension


def read_idx(path: Path, magic: int) -> np.ndarray:
    """The uint8 array stored in an IDX file; DataError names the file when the header,
    the size or the compression is wrong."""
    try:
        raw = _read_bytes(path)
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise DataError(f"{path}: cannot read ({err}); the file may be truncated") from None
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        what = "images" if magic == IMAGE_MAGIC else "labels"
        raise DataError(f"{path}: IDX magic {found}, expected {magic} ({what} file)")
    n_dims = magic & 0xFF
    header_size = 4 + 4 * n_dims
    if len(raw) < header_size:
        raise DataError(f"{path}: only {len(raw)} bytes, too short for an IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(n_dims))
    expected = int(np.prod(shape)) + header_size
    if len(raw) != expected:
        raise DataError(
            f"{path}: {len(raw)} bytes, but the header {shape} says {expected}; "
            "the file is truncated or not an IDX file"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as handle:
        start = handle.read(2)
    opener = gzip.open if start == b"\x1f\x8b" else open
    with opener(path, "rb") as handle:
        return handle.read()
