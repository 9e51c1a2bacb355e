"""Tabular tasks: the procedural family and scikit-learn's bundled tables.

``tabular`` is one scikit-learn ``make_classification`` problem per task seed, its shape
(features, informative dimensions, classes, class separation) drawn from the seed unless the
spec fixes it: unlimited, varied tasks for a meta-training mix (issue 12 item 4). ``iris``,
``wine`` and ``breast-cancer`` are the small real tables scikit-learn ships (nothing to
download), split once (``test_fraction``, seed 0). Features are standardized on the training
split.
"""

from __future__ import annotations

import functools

import numpy as np

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

__all__ = ["BUNDLED", "TABULAR_RANGES", "build_tabular_task", "tabular_shape"]

# What a task seed draws when the spec leaves a dimension at 0: (low, high) inclusive
TABULAR_RANGES = {"features": (4, 32), "n_classes": (2, 6), "separation": (0.5, 2.0)}


def tabular_shape(options, seed: int) -> tuple[int, int, int, float]:
    """(features, informative, classes, separation) of task ``seed``."""
    rng = np.random.default_rng(seed_sequence(seed, "tabular", "shape"))
    features = options["features"] or int(rng.integers(TABULAR_RANGES["features"][0],
                                                       TABULAR_RANGES["features"][1] + 1))
    classes = options["n_classes"] or int(rng.integers(TABULAR_RANGES["n_classes"][0],
                                                       TABULAR_RANGES["n_classes"][1] + 1))
    # make_classification needs classes * clusters (1 each) <= 2 ** informative
    fewest = max(2, int(np.ceil(np.log2(classes))))
    informative = options["informative"] or int(rng.integers(fewest, max(fewest, features) + 1))
    informative = min(max(informative, fewest), features)
    separation = options["separation"] or float(rng.uniform(*TABULAR_RANGES["separation"]))
    return features, informative, classes, separation


BUNDLED = {"iris": "load_iris", "wine": "load_wine", "breast-cancer": "load_breast_cancer"}


def build_tabular_task(spec: TaskSpec, seed: int) -> ArrayTask:
    """Task ``seed`` of a tabular family."""
    options = spec.options
    if spec.name in BUNDLED:
        arrays = _bundled(spec.name, options["test_fraction"], options["classes"])
        label_map = None
        if options["permute_labels"]:
            rng = np.random.default_rng(seed_sequence(seed, spec.name, "permute_labels"))
            label_map = label_permutation(arrays.n_classes, rng)
    else:
        arrays = _arrays(options["samples"], *tabular_shape(options, seed),
                         options["test_fraction"], seed)
        label_map = None
    transform = input_transform(options, seed, spec.name, arrays.n_features)
    return ArrayTask(str(spec), "tabular", arrays, label_map, transform=transform)


@functools.lru_cache(maxsize=8)
def _bundled(name: str, test_fraction: float, classes: tuple[int, ...] | None
             ) -> LabelledArrays:
    from sklearn import datasets

    x, y = getattr(datasets, BUNDLED[name])(return_X_y=True)
    arrays = stratified_split(x.astype(np.float32), y.astype(np.int32), test_fraction, 0)
    return standardize(select_classes(arrays, classes, f"task {name}"))


@functools.lru_cache(maxsize=32)
def _arrays(samples: int, features: int, informative: int, classes: int, separation: float,
            test_fraction: float, seed: int) -> LabelledArrays:
    from sklearn.datasets import make_classification

    state = int(seed_sequence(seed, "tabular", "data").generate_state(1)[0])
    x, y = make_classification(
        n_samples=samples, n_features=features, n_informative=informative,
        n_redundant=min(features - informative, informative), n_classes=classes,
        n_clusters_per_class=1, class_sep=separation, flip_y=0.0, random_state=state)
    split_seed = int(seed_sequence(seed, "tabular", "split").generate_state(1)[0])
    return standardize(stratified_split(x.astype(np.float32), y.astype(np.int32),
                                        test_fraction, split_seed))
