"""Image tasks: MNIST, Fashion-MNIST and scikit-learn's 8x8 digits, with their options.

Resolution (SPEC §7): 14 from 28 is the 2x2 mean; 10 from 28 is the central 20x20 crop
([4:24, 4:24]) then the 2x2 mean; any other size, and any size from the 8x8 digits, is area
resampling (each output pixel averages the input area it covers, so integer factors give
plain block means). Prepared arrays are memoized per (dataset, resolution, classes,
standardize), so tasks of different seeds share them; only `permute_labels` depends on the
seed, and it is applied at draw time.
"""

import functools
import os

import numpy as np

from ..errors import DataError
from .arrays import (
    LabelledArrays,
    label_permutation,
    select_classes,
    standardize,
    stratified_split,
)
from .seeds import seed_sequence
from .spec import TaskSpec
from .store import DatasetFiles, decoded_arrays, locate
from .task import ArrayTask
from .transforms import input_transform

__all__ = ["DIGITS_TEST_FRACTION", "build_image_task", "clear_memo", "resample", "source_side"]

DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0


def source_side(name: str) -> int:
    return 8 if name == "digits" else 28


def resample(images: np.ndarray, resolution: int) -> np.ndarray:
    """Square images (n, side, side) at `resolution`, float32 C-contiguous."""
    side = images.shape[1]
    if side == 28 and resolution == 10:
        images, side = images[:, 4:24, 4:24], 20  # SPEC §7: crop to the central 20x20 first
    if resolution == side:
        return np.ascontiguousarray(images, dtype=np.float32)
    if side % resolution == 0:
        return _block_means(images, side // resolution)
    weights = _area_weights(side, resolution).astype(np.float32)
    return np.ascontiguousarray(weights @ images.astype(np.float32) @ weights.T)


def _block_means(images: np.ndarray, factor: int) -> np.ndarray:
    """Means of factor x factor blocks, summed as strided views (3x faster than
    reshape-and-mean on 60,000 images)."""
    total = np.zeros_like(images[:, ::factor, ::factor], dtype=np.float32)
    for row in range(factor):
        for column in range(factor):
            total += images[:, row::factor, column::factor]
    total *= np.float32(1 / factor**2)
    return total


def _area_weights(side: int, resolution: int) -> np.ndarray:
    """(resolution, side): the share of each input pixel in each output pixel's area."""
    edges_out = np.arange(resolution + 1) * side / resolution
    low = np.maximum(edges_out[:-1, None], np.arange(side)[None, :])
    high = np.minimum(edges_out[1:, None], np.arange(1, side + 1)[None, :])
    return np.clip(high - low, 0.0, None) * resolution / side


def build_image_task(spec: TaskSpec, seed: int,
                     data_dir: str | os.PathLike | None = None) -> ArrayTask:
    """Task `seed` of an image family; the seed matters only with permute_labels."""
    options = spec.options
    source = locate(spec.name, data_dir) if spec.name != "digits" else None
    arrays = _prepared(spec.name, source, options["resolution"], options["classes"],
                       options["standardize"])
    label_map = None
    if options["permute_labels"]:
        rng = np.random.default_rng(seed_sequence(seed, spec.name, "permute_labels"))
        label_map = label_permutation(arrays.n_classes, rng)
    transform = input_transform(options, seed, spec.name, arrays.n_features)
    return ArrayTask(str(spec), "image", arrays, label_map, image_side=options["resolution"],
                     transform=transform)


def clear_memo() -> None:
    """Forget the prepared arrays of this process."""
    _prepared.cache_clear()
    _digits.cache_clear()


@functools.lru_cache(maxsize=8)
def _prepared(name: str, source: DatasetFiles | None, resolution: int,
              classes: tuple[int, ...] | None, standardized: bool) -> LabelledArrays:
    arrays = _digits() if source is None else decoded_arrays(source)
    arrays = select_classes(arrays, classes, f"task {name}")
    side = source_side(name)
    if resolution != side:
        def resized(x: np.ndarray) -> np.ndarray:
            return resample(x.reshape(len(x), side, side), resolution).reshape(len(x), -1)

        arrays = LabelledArrays(resized(arrays.x_train), arrays.y_train,
                                resized(arrays.x_test), arrays.y_test, arrays.n_classes)
    return standardize(arrays) if standardized else arrays


@functools.lru_cache(maxsize=1)
def _digits() -> LabelledArrays:
    """scikit-learn's bundled digits (values 0..16 scaled to [0, 1]), 20 % held out per
    class by a fixed seed."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise DataError(f"the digits task needs scikit-learn ({err})") from None
    bunch = load_digits()
    pixels = (bunch.data / 16.0).astype(np.float32)
    return stratified_split(pixels, bunch.target.astype(np.int32), DIGITS_TEST_FRACTION,
                            DIGITS_SPLIT_SEED)
