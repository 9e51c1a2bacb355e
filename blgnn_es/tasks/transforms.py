"""Input transforms of stored tasks: widen a task mix without new data (issue 12 item 4).

A fixed feature permutation and a fixed random projection are drawn from the task seed, so
every task seed is a new task of the family; additive Gaussian input noise is drawn with
the examples. They apply after the class subset and standardization, in the order
permutation, projection, noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .options import Option
from .seeds import seed_sequence

__all__ = ["MAX_PROJECT", "TRANSFORM_OPTIONS", "InputTransform", "input_transform"]

MAX_PROJECT = 4096  # features a projection may have: a typo with an extra zero is refused

TRANSFORM_OPTIONS = (
    Option("project", "int", 0, "fixed random projection to this many features, drawn from "
           "the task seed (0: none)", 0, MAX_PROJECT),
    Option("permute_features", "bool", False, "fixed feature (pixel) permutation drawn from "
           "the task seed"),
    Option("input_noise", "float", 0.0, "std of Gaussian noise added to every drawn input",
           0.0, 10.0),
)


@dataclass(frozen=True, eq=False)
class InputTransform:
    """What a task does to its inputs before a learner sees them."""

    permutation: np.ndarray | None  # feature order (n_features,)
    projection: np.ndarray | None  # (n_features, D) float32, entries N(0, 1 / n_features)
    noise: float  # std of the additive input noise
    noise_seed: np.random.SeedSequence  # the noise of a whole split read at once

    @property
    def changes_layout(self) -> bool:
        """Whether inputs are no longer the original pixels (no pictures of them)."""
        return self.permutation is not None or self.projection is not None

    def n_outputs(self, n_features: int) -> int:
        return n_features if self.projection is None else self.projection.shape[1]

    def apply(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """The transformed copy of inputs ``x`` (n, n_features), float32 C-contiguous; the
        noise comes from ``rng`` (a draw's), else from the transform's own seed."""
        if self.permutation is not None:
            x = x[:, self.permutation]
        if self.projection is not None:
            x = x @ self.projection
        x = np.array(x, dtype=np.float32, order="C")
        if self.noise > 0:
            rng = rng if rng is not None else np.random.default_rng(self.noise_seed)
            x += rng.normal(0.0, self.noise, x.shape).astype(np.float32)
        return x


def input_transform(options, seed: int, family: str, n_features: int) -> InputTransform | None:
    """The transform a spec's options ask for, drawn from task ``seed`` (None: none)."""
    project, permute = options.get("project", 0), options.get("permute_features", False)
    noise = float(options.get("input_noise", 0.0))
    if not project and not permute and noise == 0:
        return None
    permutation = projection = None
    if permute:
        rng = np.random.default_rng(seed_sequence(seed, family, "permute_features"))
        permutation = rng.permutation(n_features)
    if project:
        rng = np.random.default_rng(seed_sequence(seed, family, "project"))
        projection = (rng.standard_normal((n_features, project))
                      / np.sqrt(n_features)).astype(np.float32)
    return InputTransform(permutation, projection, noise,
                          seed_sequence(seed, family, "input_noise"))
