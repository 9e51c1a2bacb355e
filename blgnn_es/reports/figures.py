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
