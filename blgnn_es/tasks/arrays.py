"""Labelled arrays and the transforms shared by image sets and user files.

Class subsets, held-out splits and standardization are applied once per dataset and option
set (and memoized by the caller); seed-dependent relabelling happens later, at draw time.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = [
    "LabelledArrays",
    "label_permutation",
    "select_classes",
    "standardize",
    "stratified_split",
]


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (a cache key)
class LabelledArrays:
    """Train and test examples: float32 (n, n_features) C-contiguous, int32 labels 0..n-1."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])


def select_classes(arrays: LabelledArrays, classes: tuple[int, ...] | None,
                   source: str) -> LabelledArrays:
    """Keep only `classes` (sorted) and relabel them 0..len(classes)-1."""
    if classes is None:
        return arrays
    missing = [c for c in classes if c >= arrays.n_classes]
    if missing:
        raise ConfigError(
            f"{source}: classes {missing} do not exist (labels are 0..{arrays.n_classes - 1})"
        )
    relabel = np.full(arrays.n_classes, -1, dtype=np.int32)
    relabel[list(classes)] = np.arange(len(classes), dtype=np.int32)

    def subset(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = relabel[y] >= 0
        return np.ascontiguousarray(x[keep]), relabel[y[keep]]

    x_train, y_train = subset(arrays.x_train, arrays.y_train)
    x_test, y_test = subset(arrays.x_test, arrays.y_test)
    return LabelledArrays(x_train, y_train, x_test, y_test, len(classes))


def standardize(arrays: LabelledArrays) -> LabelledArrays:
    """Per-feature zero mean and unit std, both estimated on the train split.

    Features constant in the train split (MNIST's border pixels) are only centred: dividing
    by a zero std would turn them into NaN.
    """
    mean = arrays.x_train.mean(axis=0, dtype=np.float64)
    std = arrays.x_train.std(axis=0, dtype=np.float64)
    std[std < 1e-8] = 1.0

    def scale(x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(((x - mean) / std).astype(np.float32))

    return LabelledArrays(scale(arrays.x_train), arrays.y_train, scale(arrays.x_test),
                          arrays.y_test, arrays.n_classes)


def stratified_split(x: np.ndarray, y: np.ndarray, fraction: float,
                     seed: int) -> LabelledArrays:
    """Hold out `fraction` of every class (at least one example of a class with two or
    more), chosen by `seed`; both parts keep the original order."""
    n_classes = int(y.max()) + 1
    rng = np.random.default_rng(seed)
    held_out = np.zeros(len(y), dtype=bool)
    for label in range(n_classes):
        members = np.flatnonzero(y == label)
        count = int(round(fraction * len(members)))
        count = min(max(count, 1 if len(members) > 1 else 0), len(members) - 1)
        held_out[rng.choice(members, size=count, replace=False)] = True
    return LabelledArrays(
        np.ascontiguousarray(x[~held_out]), y[~held_out],
        np.ascontiguousarray(x[held_out]), y[held_out], n_classes,
    )


def label_permutation(n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """A random relabelling: new_label = permutation[old_label]."""
    return rng.permutation(n_classes).astype(np.int32)
