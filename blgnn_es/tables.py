"""Markdown tables: one helper for every report (tabulate's GitHub format)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tabulate import tabulate


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """``rows`` under ``header`` as a GitHub-flavoured Markdown table (cells as given).

    >>> print(markdown_table(["a", "b"], [[1, "x"]]))
    | a   | b   |
    |-----|-----|
    | 1   | x   |
    """
    return tabulate(rows, headers=list(header), tablefmt="github", disable_numparse=True)
