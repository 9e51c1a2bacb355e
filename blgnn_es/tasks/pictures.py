"""Pictures and text summaries of a task, for `blgnn-es tasks show`."""

from pathlib import Path

import numpy as np

from ..errors import DataError
from .task import ArrayTask, Task

__all__ = ["draw_task", "summarize_task"]

SUMMARY_SAMPLES = 4000
GRID_ROWS, GRID_COLUMNS = 4, 8


def summarize_task(task: Task, seed: int = 0) -> str:
    """Shapes, split sizes and class counts, as aligned text lines."""
    rng = np.random.default_rng(seed)
    _, y_test = task.test_split()
    if isinstance(task, ArrayTask):
        _, y_train = task.train_split()
        train = f"{len(y_train)} examples"
        test = f"{len(y_test)} examples"
    else:
        _, y_train = task.sample_train(rng, SUMMARY_SAMPLES)
        train = f"unlimited fresh samples (counts below: {SUMMARY_SAMPLES} of them)"
        test = f"{len(y_test)} fixed samples from the task seed"
    outputs = "1 output, sign-coded" if task.n_outputs == 1 else f"{task.n_outputs} outputs"
    side = f" ({task.image_side}x{task.image_side} images)" if task.image_side else ""
    lines = [
        ("task", task.name),
        ("kind", task.kind),
        ("inputs", f"{task.n_inputs}{side}"),
        ("classes", f"{task.n_classes} ({outputs})"),
        ("train", train),
        ("test", test),
        ("train counts", _counts(y_train, task.n_classes)),
        ("test counts", _counts(y_test, task.n_classes)),
    ]
    return "\n".join(f"{key:<13} {value}" for key, value in lines)


def draw_task(task: Task, path: Path, seed: int = 0) -> None:
    """A scatter plot of a 2-D task (its test sample, coloured by label) or a grid of
    training images with their labels, saved to `path` (format from the suffix)."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    if task.n_inputs == 2:
        x, y = task.test_split()
        figure = Figure(figsize=(5, 5))
        axes = figure.subplots()
        scatter = axes.scatter(x[:, 0], x[:, 1], c=y, s=6, cmap="tab10",
                               vmin=0, vmax=9, linewidths=0)
        axes.legend(*scatter.legend_elements(), title="label", loc="upper right",
                    fontsize="small")
        axes.set(xlim=(-1, 1), ylim=(-1, 1), aspect="equal", title=task.name)
    elif task.image_side and task.image_side**2 == task.n_inputs:
        x, y = task.sample_train(np.random.default_rng(seed), GRID_ROWS * GRID_COLUMNS)
        figure = Figure(figsize=(GRID_COLUMNS * 1.2, GRID_ROWS * 1.35))
        grid = figure.subplots(GRID_ROWS, GRID_COLUMNS)
        side = task.image_side
        for axes, image, label in zip(grid.flat, x, y, strict=True):
            axes.imshow(image.reshape(side, side), cmap="gray", interpolation="nearest")
            axes.set_title(str(label), fontsize="small")
            axes.set_axis_off()
        figure.suptitle(task.name)
    else:
        raise DataError(f"{task.name}: cannot draw {task.n_inputs} inputs that are neither "
                        "2-D points nor square images")
    figure.savefig(path, dpi=100, bbox_inches="tight")


def _counts(labels: np.ndarray, n_classes: int) -> str:
    counts = np.bincount(labels, minlength=n_classes)
    return "  ".join(f"{label}: {count}" for label, count in enumerate(counts))
