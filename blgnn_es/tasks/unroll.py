"""The data of one fitness sample (SPEC §6): T training batches, then held-out batches.

draw_unroll is a pure function of (task, seed), so every genome of a generation can be
shown exactly the same batches, in any process.
"""

from dataclasses import dataclass

import numpy as np

from .task import Task

__all__ = ["UnrollData", "draw_unroll", "small_split_notes"]


@dataclass(frozen=True)
class UnrollData:
    """Batches for one unroll: x_train (T, B, n_in) float32 and y_train (T, B) int32;
    x_eval (E, B, n_in) float32 and y_eval (E, B) int32; with the whole test split as one
    batch, E = 1 and B = the split's size. All C-contiguous, writable, owned."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray

    @property
    def steps(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def batch(self) -> int:
        return int(self.x_train.shape[1])


def draw_unroll(task: Task, seed: int, steps: int, batch: int,
                eval_batches: int | None = None) -> UnrollData:
    """`steps` fresh training batches of `batch` examples, then `eval_batches` held-out
    batches of the same size (None: the whole test split as one batch).

    The paper's protocol, 15 learning steps then accuracy on 20 held-out batches of 128, is
    draw_unroll(task, seed, 15, 128, 20).
    """
    if steps < 0 or batch < 1 or (eval_batches is not None and eval_batches < 1):
        raise ValueError(f"need steps >= 0, batch >= 1, eval_batches >= 1 or None; got "
                         f"{steps}, {batch}, {eval_batches}")
    rng = np.random.default_rng(seed)
    x_train, y_train = _batches(task.sample_train, rng, steps, batch, task.n_inputs)
    if eval_batches is None:
        x_test, y_test = task.test_split()
        # Copies: the split may be a read-only shared array, and numba compiles a separate
        # specialization for read-only inputs.
        x_eval = np.array(x_test[None], dtype=np.float32, order="C")
        y_eval = np.array(y_test[None], dtype=np.int32, order="C")
    else:
        x_eval, y_eval = _batches(task.sample_test, rng, eval_batches, batch, task.n_inputs)
    return UnrollData(x_train, y_train, x_eval, y_eval)


def _batches(sample, rng: np.random.Generator, count: int, batch: int,
             n_inputs: int) -> tuple[np.ndarray, np.ndarray]:
    inputs = np.empty((count, batch, n_inputs), dtype=np.float32)
    labels = np.empty((count, batch), dtype=np.int32)
    for index in range(count):
        inputs[index], labels[index] = sample(rng, batch)
    return inputs, labels


def small_split_notes(task: Task, batch: int, eval_batches: int | None) -> list[str]:
    """One line per split of a stored task too small for a batch: its batches repeat
    examples (each draws with replacement once the split is smaller than the batch)."""
    arrays = getattr(task, "arrays", None)
    if arrays is None:  # toy tasks draw fresh examples
        return []
    notes = []
    splits = [("training", len(arrays.y_train), "lower --batch")]
    if eval_batches is not None:
        splits.append(("test", len(arrays.y_test), "lower --batch or use --eval-batches all"))
    for split, size, remedy in splits:
        if size < batch:
            notes.append(f"{task.name}: {size} {split} examples, fewer than a batch of {batch}: "
                         f"each batch repeats examples (drawn with replacement); {remedy}")
    return notes
