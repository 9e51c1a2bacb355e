"""Figure helpers shared by every report: a headless pyplot, atomic PNG writes.

matplotlib is imported on first use only (it costs about half a second).
"""

from __future__ import annotations

from pathlib import Path

from blgnn_es.fileio import atomic_write


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG atomically and close it."""
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110,
                                              bbox_inches="tight"), binary=True)
    pyplot().close(fig)
    return path


def integer_ticks(ax) -> None:
    """Whole-number ticks on the x axis: steps and generations have no halves."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 seed``, ``3 seeds``: a count that reads right."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def accuracy_axes(ax, xlabel: str, ylabel: str, legend_size: int = 8) -> None:
    """The look of every accuracy panel: labels, the 0-1 range, a light grid, the legend
    and whole-number ticks."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)
    integer_ticks(ax)
