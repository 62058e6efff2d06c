"""The package's exceptions. Every error of the library is an `Error`; invalid configurations
and values are also `ValueError`s (`ConfigError`), as are malformed data (`DataError`)."""

from typing import Optional


class Error(Exception):
    """An sgd-escape error. `key` names the configuration key or option when there is one."""

    key: Optional[str]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.key = None


class ConfigError(Error, ValueError):
    """An invalid configuration: an unknown, missing or ill-typed key, or a value out of range.
    The message and `key` name the key (e.g. ``dynamics.lr``) and the value."""


class DataError(Error, ValueError):
    """Malformed data: ragged, empty, non-numeric or non-finite values, wrong shapes."""
