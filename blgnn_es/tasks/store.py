"""Where the idx image sets live on disk, and the decoded cache that makes loading fast.

Search order for a dataset folder (`mnist/`, `fashion-mnist/`, canonical file names):
an explicit data_dir (--data-dir or a config key), $BLGNN_ES_DATA, the user cache
(~/.cache/blgnn-es/, or $BLGNN_ES_CACHE), /usr/share/datasets/. Nothing is downloaded here.

Decoding the gzipped idx files takes a second or two, so the float32 arrays are written once
to <cache>/decoded/ as .npy (keyed by the source file's path, size and mtime, written via a
temp file and os.replace so concurrent workers never read half a file), then memory-mapped:
every worker process on a machine shares one copy in the page cache.
"""

import functools
import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .arrays import LabelledArrays
from .idx import IMAGE_MAGIC, LABEL_MAGIC, read_idx

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "IDX_DATASETS",
    "DatasetFiles",
    "cache_root",
    "clear_memo",
    "decoded_arrays",
    "has_dataset",
    "load_idx_dataset",
    "locate",
    "search_places",
]

DATA_ENV = "BLGNN_ES_DATA"
CACHE_ENV = "BLGNN_ES_CACHE"
SYSTEM_DATA_DIR = Path("/usr/share/datasets")
IDX_DATASETS = ("mnist", "fashion-mnist")
SPLIT_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IMAGE_SIDE = 28
N_CLASSES = 10
WHERE_TO_GET = {
    "mnist": "the MNIST site (yann.lecun.com/exdb/mnist) or a mirror such as "
    "ossci-datasets.s3.amazonaws.com/mnist",
    "fashion-mnist": "github.com/zalandoresearch/fashion-mnist, or on Debian "
    "`apt-get install dataset-fashion-mnist` (installs into /usr/share/datasets/fashion-mnist/)",
}


def cache_root() -> Path:
    """The user cache: $BLGNN_ES_CACHE, else ~/.cache/blgnn-es."""
    override = os.environ.get(CACHE_ENV)
    return Path(override).expanduser() if override else Path.home() / ".cache" / "blgnn-es"


def search_places(data_dir: str | os.PathLike | None = None) -> list[tuple[str, Path | None]]:
    """The roots searched, in order, as (origin, root); root is None when not configured."""
    from_env = os.environ.get(DATA_ENV)
    return [
        ("--data-dir", Path(data_dir).expanduser() if data_dir else None),
        (f"${DATA_ENV}", Path(from_env).expanduser() if from_env else None),
        ("user cache", cache_root()),
        ("system", SYSTEM_DATA_DIR),
    ]


@dataclass(frozen=True)
class DatasetFiles:
    """The four idx files of a dataset, identified by path, size and mtime (so the memo and
    the decoded cache notice a replaced file)."""

    name: str
    folder: Path
    identities: tuple[tuple[str, int, int], ...]

    @property
    def paths(self) -> list[Path]:
        return [Path(path) for path, _, _ in self.identities]


def locate(name: str, data_dir: str | os.PathLike | None = None) -> DatasetFiles:
    """The first folder on the search path holding all four files of `name`."""
    searched = []
    for origin, root in search_places(data_dir):
        if root is None:
            searched.append(f"{origin} (not set)")
            continue
        folder = root / name
        found = [_find_file(folder, stem) for stem in SPLIT_FILES]
        if all(found):
            identities = []
            for path in found:
                status = path.stat()
                identities.append((str(path.resolve()), status.st_size, status.st_mtime_ns))
            return DatasetFiles(name, folder, tuple(identities))
        if folder.is_dir():
            missing = [
                stem + ".gz" for stem, path in zip(SPLIT_FILES, found, strict=True) if not path
            ]
            searched.append(f"{folder} ({origin}; missing {', '.join(missing)})")
        else:
            searched.append(f"{folder} ({origin}; no such folder)")
    raise DataError(
        f"{name} not found; searched: {'; '.join(searched)}. It needs the four files "
        f"{', '.join(stem + '.gz' for stem in SPLIT_FILES)} in a folder {name}/ under one of "
        f"these places. Get them from {WHERE_TO_GET[name]}, or run "
        f"`blgnn-es data download {name}` on a machine with internet access."
    )


def has_dataset(folder: Path) -> bool:
    """Whether `folder` holds all four idx files (gzipped or plain)."""
    return all(_find_file(folder, stem) for stem in SPLIT_FILES)


def load_idx_dataset(name: str, data_dir: str | os.PathLike | None = None) -> LabelledArrays:
    """MNIST or Fashion-MNIST as float32 (n, 784) pixels in [0, 1] and int32 labels 0..9.

    Memoized per process; the arrays are read-only memory maps of the decoded cache (or
    in-memory arrays when the cache cannot be written).
    """
    return decoded_arrays(locate(name, data_dir))


def clear_memo() -> None:
    """Forget the in-process copies (the decoded .npy cache on disk stays)."""
    decoded_arrays.cache_clear()


@functools.lru_cache(maxsize=4)
def decoded_arrays(files: DatasetFiles) -> LabelledArrays:
    """The arrays of located files (see load_idx_dataset)."""
    image_paths, label_paths = files.identities[0::2], files.identities[1::2]
    splits = []
    for images, labels in zip(image_paths, label_paths, strict=True):
        x = _cached(files.name, images, _decode_images)
        y = _cached(files.name, labels, _decode_labels)
        if len(x) != len(y):
            raise DataError(
                f"{images[0]} holds {len(x)} images but {labels[0]} holds {len(y)} labels"
            )
        splits.append((x, y))
    (x_train, y_train), (x_test, y_test) = splits
    return LabelledArrays(x_train, y_train, x_test, y_test, N_CLASSES)


def _decode_images(path: Path) -> np.ndarray:
    raw = read_idx(path, IMAGE_MAGIC)
    if raw.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(f"{path}: images of {raw.shape[1:]}, expected 28x28")
    pixels = raw.reshape(len(raw), IMAGE_SIDE * IMAGE_SIDE).astype(np.float32)
    pixels *= np.float32(1 / 255)
    return pixels


def _decode_labels(path: Path) -> np.ndarray:
    raw = read_idx(path, LABEL_MAGIC)
    if raw.size and raw.max() >= N_CLASSES:
        raise DataError(f"{path}: label {raw.max()} found, expected 0..{N_CLASSES - 1}")
    return raw.astype(np.int32)


def _cached(name: str, identity: tuple[str, int, int],
            decode: Callable[[Path], np.ndarray]) -> np.ndarray:
    """The decoded array of one source file, from <cache>/decoded/ when it is there."""
    key = hashlib.sha256(repr(identity).encode()).hexdigest()[:16]
    stem = Path(identity[0]).name.removesuffix(".gz")
    cache_file = cache_root() / "decoded" / f"{name}-{stem}-{key}.npy"
    if cache_file.exists():
        try:
            return np.load(cache_file, mmap_mode="r")
        except (OSError, ValueError):
            pass  # a damaged cache file: decode again and replace it
    array = decode(Path(identity[0]))
    try:
        _write_atomically(cache_file, array)
    except OSError as err:
        warnings.warn(f"cannot write the decoded cache {cache_file}: {err}", stacklevel=2)
        return array
    return np.load(cache_file, mmap_mode="r")


def _write_atomically(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy.tmp", delete=False)
    try:
        with handle:
            np.save(handle, array)
        os.chmod(handle.name, 0o644)  # tempfile makes it private; a cache is plain data
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _find_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / (stem + ".gz"), folder / stem):
        if candidate.is_file():
            return candidate
    return None
