"""Task: one concrete classification problem that a learner is trained and tested on.

A Task hands out fresh training batches and held-out examples; it does not know about
networks or genomes. Tasks built from big datasets share the module-level cached arrays, so
the evolution driver should send (spec, seed) pairs to worker processes and rebuild tasks
there with load_task (cheap after the first time), not pickle Task objects.
"""

import numpy as np

from .arrays import LabelledArrays
from .transforms import InputTransform

__all__ = ["TWO_CLASS_CODINGS", "ArrayTask", "Task", "output_size"]

# How a two-class task meets the network: one output read by its sign (SPEC §3, the
# default), or two outputs read by argmax like every other task.
TWO_CLASS_CODINGS = ("sign", "argmax")


def output_size(n_classes: int, two_class: str = "sign") -> int:
    """Output neurons for a task of ``n_classes``: one per class, except one sign-coded
    output for two classes under the "sign" coding."""
    if two_class not in TWO_CLASS_CODINGS:
        raise ValueError(f"two_class must be one of {', '.join(TWO_CLASS_CODINGS)}, "
                         f"not {two_class!r}")
    return 1 if n_classes == 2 and two_class == "sign" else n_classes


class Task:
    """The interface every task kind implements.

    Draws are float32 C-contiguous inputs (n, n_inputs) and int32 labels (n,) in
    0..n_classes-1, a pure function of the numpy Generator passed in.
    """

    name: str
    kind: str
    n_inputs: int
    n_classes: int
    image_side: int | None = None  # set when the inputs are square images (for pictures)

    @property
    def n_outputs(self) -> int:
        """Output neurons under the default coding: one per class, one sign-coded output
        for two classes (SPEC §3); :func:`output_size` for the other coding."""
        return output_size(self.n_classes)

    def sample_train(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def sample_test(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def test_split(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole fixed held-out set, read-only (it is shared, not copied)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name} inputs={self.n_inputs} "
                f"classes={self.n_classes}>")


class ArrayTask(Task):
    """A task over stored examples (an image set or a user's file).

    Training draws sample the train split, eval draws the test split: without replacement
    within one draw (unless n exceeds the split), with replacement across draws. A label
    permutation and an input transform (tasks/transforms.py) are applied at draw time, so
    tasks of different seeds share one set of arrays.
    """

    def __init__(
        self,
        name: str,
        kind: str,
        arrays: LabelledArrays,
        label_map: np.ndarray | None = None,
        image_side: int | None = None,
        transform: InputTransform | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.arrays = arrays
        self.transform = transform
        self.n_inputs = arrays.n_features if transform is None else transform.n_outputs(
            arrays.n_features)
        self.n_classes = arrays.n_classes
        self.label_map = None if label_map is None else np.asarray(label_map, dtype=np.int32)
        self.image_side = None if transform is not None and transform.changes_layout \
            else image_side

    def sample_train(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._draw(rng, n, self.arrays.x_train, self.arrays.y_train)

    def sample_test(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._draw(rng, n, self.arrays.x_test, self.arrays.y_test)

    def test_split(self) -> tuple[np.ndarray, np.ndarray]:
        return (_read_only(self.inputs(self.arrays.x_test)),
                _read_only(self._labels(self.arrays.y_test)))

    def train_split(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole training split, as read-only views of the shared arrays (transformed
        copies under an input transform)."""
        return (_read_only(self.inputs(self.arrays.x_train)),
                _read_only(self._labels(self.arrays.y_train)))

    def inputs(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Stored inputs as the learner sees them (the task's input transform applied)."""
        return x if self.transform is None else self.transform.apply(x, rng)

    def _draw(
        self, rng: np.random.Generator, n: int, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        index = rng.choice(len(y), size=n, replace=n > len(y))
        if self.transform is not None:
            return self.transform.apply(x[index], rng), self._labels(y[index])
        return np.ascontiguousarray(x[index], dtype=np.float32), self._labels(y[index])

    def _labels(self, labels: np.ndarray) -> np.ndarray:
        if self.label_map is None:
            return labels
        return self.label_map[labels]


def _read_only(array: np.ndarray) -> np.ndarray:
    """A plain ndarray view that cannot be written (the arrays are shared by all tasks)."""
    view = np.asarray(array).view()
    view.flags.writeable = False
    return view
