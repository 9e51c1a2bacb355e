"""click parameter types for the values our commands take, so that every bad value is a
usage error naming the option that received it."""

from __future__ import annotations

from typing import Any

import click

from blgnn_es.config.baselines import default_rates


class IntList(click.ParamType):
    """Comma-separated integers >= 1: ``512`` or ``256,128``."""

    name = "N[,N...]"

    def __init__(self, example: str) -> None:
        self.example = example

    def convert(self, value: Any, param, ctx) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        try:
            numbers = tuple(int(part) for part in str(value).replace(" ", "").split(",") if part)
        except ValueError:
            self.fail(f"{value!r}: expected integers such as {self.example}", param, ctx)
        if not numbers or any(n < 1 for n in numbers):
            self.fail(f"{value!r}: expected integers >= 1 such as {self.example}", param, ctx)
        return numbers


class EvalBatches(click.ParamType):
    """A count of evaluation batches >= 1, or ``all`` (the whole test split)."""

    name = "N|all"

    def convert(self, value: Any, param, ctx) -> int | str:
        if value == "all" or (isinstance(value, int) and value >= 1):
            return value
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if number < 1:
            self.fail(f"{value!r}: an integer >= 1 or 'all'", param, ctx)
        return number


class Rates(click.ParamType):
    """Learning rates: ``LOW:HIGH:COUNT`` (log-spaced) or a comma list."""

    name = "RATES"

    def convert(self, value: Any, param, ctx) -> tuple[float, ...]:
        if isinstance(value, tuple):
            return value
        text = str(value)
        try:
            if ":" in text:
                low, high, count = text.split(":")
                return default_rates(int(count), float(low), float(high))
            rates = tuple(float(part) for part in text.split(",") if part.strip())
        except ValueError:
            rates = ()
        if not rates or not all(rate > 0 for rate in rates):
            self.fail(f"{text!r}: give LOW:HIGH:COUNT (1e-4:1:13) or a list of rates > 0 "
                      "(0.01,0.1,1)", param, ctx)
        return rates
