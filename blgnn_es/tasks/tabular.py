"""The procedural tabular family: one scikit-learn ``make_classification`` problem per task
seed, its shape (features, informative dimensions, classes, class separation) drawn from the
seed unless the spec fixes it; features standardized on the training split.

A family of unlimited, varied tabular tasks for a meta-training mix (issue 12 item 4).
"""

from __future__ import annotations

import functools

import numpy as np

from .arrays import LabelledArrays, standardize, stratified_split
from .seeds import seed_sequence
from .spec import TaskSpec
from .task import ArrayTask
from .transforms import input_transform

__all__ = ["TABULAR_RANGES", "build_tabular_task", "tabular_shape"]

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


def build_tabular_task(spec: TaskSpec, seed: int) -> ArrayTask:
    """Task ``seed`` of the tabular family."""
    options = spec.options
    arrays = _arrays(options["samples"], *tabular_shape(options, seed),
                     options["test_fraction"], seed)
    transform = input_transform(options, seed, "tabular", arrays.n_features)
    return ArrayTask(str(spec), "tabular", arrays, transform=transform)


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
