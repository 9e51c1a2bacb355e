"""One error policy for every command: our errors become one-line messages.

ConfigError (bad input the user can fix in a config, flag or file) exits with code 2;
any other BlgnnError with code 1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from blgnn_es.errors import BlgnnError, ConfigError


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our own errors into one-line messages (exit 2 for config errors, 1 otherwise)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as err:
            raise click.UsageError(str(err)) from None
        except BlgnnError as err:
            raise click.ClickException(str(err)) from None

    return wrapper
