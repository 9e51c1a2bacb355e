"""What one unroll produces, for the kernel's learner and the NumPy oracle alike."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class UnrollResult:
    """Metrics of one unroll. Accuracy and losses are NaN when there was no eval data or
    the genome diverged; ``curve[t]`` is the eval accuracy after step t (if recorded)."""

    accuracy: float
    l2: float
    ce: float
    diverged: bool
    steps_done: int
    curve: np.ndarray | None = None


@dataclass
class TrainResult(UnrollResult):
    """An unroll's metrics and the trained synapses in SPEC layout (V is None when tied)."""

    forward: list[np.ndarray] = field(default_factory=list)
    backward: list[np.ndarray] | None = None
