"""One error policy for every command: our errors become one-line messages.

``Error: <message>`` on stderr, no traceback. ConfigError (bad input the user can fix in a
config, flag or file) exits with code 2; any other BlgnnError, and an OSError that reached
the command (a read-only folder, a full disk), with code 1. Only click's own usage errors
(an unknown flag, a bad flag value) print the "Usage: ... Try --help" banner.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from blgnn_es.errors import BlgnnError, ConfigError, os_error_text

CONFIG_EXIT = 2
ERROR_EXIT = 1


class CommandError(click.ClickException):
    """``Error: <message>`` and an exit code, without the usage banner."""

    def __init__(self, message: str, exit_code: int = ERROR_EXIT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def error_message(err: BaseException) -> tuple[str, int]:
    """(one-line message, exit code) of an error a command did not handle."""
    if isinstance(err, ConfigError):
        return str(err), CONFIG_EXIT
    if isinstance(err, BlgnnError):
        return str(err), ERROR_EXIT
    if isinstance(err, OSError):
        return os_error_text(err), ERROR_EXIT
    if isinstance(err, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({err})", ERROR_EXIT
    if isinstance(err, EOFError):
        return f"a file ended early ({err or 'no data'})", ERROR_EXIT
    raise err


def check_output_folder(folder: Path, force: bool) -> None:
    """Refuse to write into an earlier output folder (one that is not empty) without
    ``--force``, and a file where a folder is wanted."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {folder}: is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise ConfigError(f"{folder} exists and holds an earlier output; pass --force to "
                          "replace it, or --out DIR for a new one")


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our own errors (and I/O failures) into one-line messages: exit 2 for config
    errors, 1 otherwise."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except click.ClickException:
            raise
        except (BlgnnError, OSError, UnicodeDecodeError, EOFError) as err:
            message, code = error_message(err)
            # one line, whatever the cause's own text (pickle's and numpy's can span lines)
            raise CommandError(" ".join(message.split()), code) from None

    return wrapper
