"""Errors that reach a user: each says what was wrong, where, and what is allowed."""


class BlgnnError(Exception):
    """Base of every error blgnn-es raises on bad input; the CLI prints it in one line."""


class GenomeError(BlgnnError):
    """A genome file or array that is not a valid genome."""


class NetworkError(BlgnnError):
    """Network settings that SPEC.md does not allow."""


class ConfigError(BlgnnError):
    """A config file, key or value that is not allowed (the CLI exits with code 2)."""


class DataError(BlgnnError):
    """Data that cannot be found or does not have the expected shape or content."""


class FileError(BlgnnError):
    """A file or folder that cannot be read or written (permissions, a full disk, a folder
    where a file was expected): the message names the path and the cause."""


class RunDirError(BlgnnError):
    """A run directory that cannot be continued as it is (a missing or damaged checkpoint,
    an edited config.toml, gaps in metrics.jsonl): resuming it would lose or mix work."""


def os_error_text(err: OSError, path: object = None) -> str:
    """``<path>: <cause>`` for an OSError, in one line."""
    where = err.filename if err.filename is not None else path
    cause = err.strerror or str(err) or type(err).__name__
    return f"{where}: {cause}" if where is not None else cause
