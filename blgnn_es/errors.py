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
