"""The user's own data: `file:PATH` for an .npz (X, y, optional X_test, y_test) or a .csv
whose last column is the label.

Everything is checked before a learner sees it: inputs numeric and finite, labels integers
0..n-1 with every class present in the training part and at least two classes, lengths and
feature counts that agree. Every error names the file. Without a test split, `test_fraction`
of each class is held out, chosen by a fixed seed (FILE_SPLIT_SEED), so all tasks of a file
share one split; the task seed only matters with permute_labels.
"""

import functools
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..fileio import sha256_file
from .arrays import (
    LabelledArrays,
    label_permutation,
    select_classes,
    standardize,
    stratified_split,
)
from .seeds import seed_sequence
from .spec import TaskSpec
from .task import ArrayTask
from .transforms import input_transform

__all__ = ["FILE_SPLIT_SEED", "build_file_task", "clear_memo", "read_labelled_file",
           "resolve_file_spec"]

FILE_SPLIT_SEED = 0


def build_file_task(spec: TaskSpec, seed: int) -> ArrayTask:
    """Task `seed` of a data file (refused when it no longer has the recorded sha256)."""
    path = _existing(spec)
    status = path.stat()
    expected = spec.options["sha256"]
    if expected is not None:
        actual = _file_sha256(str(path.resolve()), status.st_size, status.st_mtime_ns)
        if actual != expected:
            raise DataError(f"{path}: changed since it was recorded (sha256 {actual[:16]}..., "
                            f"recorded {expected[:16]}...); restore the file or start a new "
                            "run")
    arrays, image_side = _prepared(str(path.resolve()), status.st_size, status.st_mtime_ns,
                                   spec.options["test_fraction"], spec.options["classes"],
                                   spec.options["standardize"])
    label_map = None
    if spec.options["permute_labels"]:
        rng = np.random.default_rng(seed_sequence(seed, "file", "permute_labels"))
        label_map = label_permutation(arrays.n_classes, rng)
    transform = input_transform(spec.options, seed, "file", arrays.n_features)
    return ArrayTask(str(spec), "file", arrays, label_map, image_side=image_side,
                     transform=transform)


def resolve_file_spec(spec: TaskSpec) -> TaskSpec:
    """The spec with an absolute path and the file's sha256, as a run records it when it
    starts: it then reads the same bytes from any folder, or says the file changed."""
    if spec.kind != "file":
        return spec
    path = _existing(spec).resolve()
    status = path.stat()
    digest = _file_sha256(str(path), status.st_size, status.st_mtime_ns)
    if spec.options["sha256"] not in (None, digest):
        raise DataError(f"{path}: its sha256 is {digest[:16]}..., the spec says "
                        f"{spec.options['sha256'][:16]}...")
    return TaskSpec(spec.name, {**spec.options, "path": str(path), "sha256": digest})


def _existing(spec: TaskSpec) -> Path:
    path = Path(spec.options["path"]).expanduser()
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a data file (.npz or .csv)")
    if not path.is_file():
        where = "" if path.is_absolute() else f" (relative to the current folder, {Path.cwd()})"
        raise DataError(f"{path}: no such file{where}")
    return path


@functools.lru_cache(maxsize=32)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # part of the memo key only
    try:
        return sha256_file(path)
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror})") from None


def clear_memo() -> None:
    _prepared.cache_clear()
    _file_sha256.cache_clear()


@functools.lru_cache(maxsize=8)
def _prepared(path: str, size: int, mtime_ns: int, test_fraction: float,
              classes: tuple[int, ...] | None, standardized: bool
              ) -> tuple[LabelledArrays, int | None]:
    del size, mtime_ns  # part of the memo key only: a rewritten file is read again
    arrays, image_side = read_labelled_file(Path(path), test_fraction)
    arrays = select_classes(arrays, classes, path)
    return (standardize(arrays) if standardized else arrays), image_side


def read_labelled_file(path: Path, test_fraction: float = 0.2
                       ) -> tuple[LabelledArrays, int | None]:
    """The checked arrays of a file, and the image side when X holds square images."""
    suffix = path.suffix.lower()
    if suffix == ".npz":
        x, y, x_test, y_test = _read_npz(path)
    elif suffix == ".csv":
        x, y = _read_csv(path)
        x_test = y_test = None
    else:
        raise DataError(f"{path}: unknown file type {suffix!r}; expected .npz or .csv")
    image_side = x.shape[1] if x.ndim == 3 and x.shape[1] == x.shape[2] else None
    x, y = _checked_pair(path, x, y, "X", "y")
    n_classes = _checked_classes(path, y)
    if x_test is None:
        return stratified_split(x, y, test_fraction, FILE_SPLIT_SEED), image_side
    x_test, y_test = _checked_pair(path, x_test, y_test, "X_test", "y_test")
    if x_test.shape[1] != x.shape[1]:
        raise DataError(
            f"{path}: X_test has {x_test.shape[1]} features per example, X has {x.shape[1]}"
        )
    if y_test.max() >= n_classes:
        raise DataError(
            f"{path}: y_test holds label {y_test.max()}, but y has only labels 0..{n_classes - 1}"
        )
    return LabelledArrays(x, y, x_test, y_test, n_classes), image_side


def _read_npz(path: Path) -> tuple[np.ndarray, ...]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            stored = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: not a readable .npz archive ({err or 'empty file'})"
                        ) from None
    for key in ("X", "y"):
        if key not in stored:
            raise DataError(
                f"{path}: missing array {key!r}; the file holds {sorted(stored) or 'nothing'} "
                "and needs X, y and optionally X_test, y_test"
            )
    if ("X_test" in stored) != ("y_test" in stored):
        raise DataError(f"{path}: has only one of X_test and y_test; give both or neither")
    return stored["X"], stored["y"], stored.get("X_test"), stored.get("y_test")


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path) as handle:
            first_line = handle.readline()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            table = np.loadtxt(path, delimiter=",", ndmin=2,
                               skiprows=_header_rows(first_line))
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except ValueError as err:
        raise DataError(f"{path}: not a numeric CSV ({err})") from None
    if table.size == 0:
        raise DataError(f"{path}: holds no rows of numbers")
    if table.shape[1] < 2:
        raise DataError(f"{path}: needs at least one input column and a label column")
    return table[:, :-1], table[:, -1]


def _header_rows(first_line: str) -> int:
    """1 when the first line is a header (some field is not a number), else 0."""
    try:
        [float(field) for field in first_line.split(",")]
    except ValueError:
        return 1
    return 0


def _checked_pair(path: Path, x: np.ndarray, y: np.ndarray, x_name: str,
                  y_name: str) -> tuple[np.ndarray, np.ndarray]:
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: {x_name} has dtype {x.dtype}; expected numbers")
    if x.ndim < 2 or len(x) == 0:
        raise DataError(f"{path}: {x_name} has shape {x.shape}; expected (examples, features)")
    x = x.reshape(len(x), -1)
    if not np.isfinite(x).all():
        bad = int(np.argwhere(~np.isfinite(x))[0, 0])
        raise DataError(f"{path}: {x_name} holds NaN or infinite values (first in row {bad})")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.dtype.kind not in "biuf":
        raise DataError(f"{path}: {y_name} has shape {y.shape} and dtype {y.dtype}; "
                        "expected one integer label per example")
    if len(y) != len(x):
        raise DataError(f"{path}: {x_name} has {len(x)} examples but {y_name} has {len(y)}")
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise DataError(f"{path}: {y_name} holds non-integer labels; expected 0..n-1")
    if y.min() < 0:
        raise DataError(f"{path}: {y_name} holds label {y.min()}; labels must be 0..n-1")
    return np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int32)


def _checked_classes(path: Path, y: np.ndarray) -> int:
    n_classes = int(y.max()) + 1
    if n_classes < 2:
        raise DataError(f"{path}: y holds a single class; a task needs at least 2")
    counts = np.bincount(y, minlength=n_classes)
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        raise DataError(
            f"{path}: labels must be 0..n-1 with every class present; y goes up to "
            f"{n_classes - 1} but has no example of class {int(empty[0])}"
        )
    return n_classes
