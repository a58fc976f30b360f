"""Exceptions that handseg raises for bad input; the CLI prints them without a traceback."""

from __future__ import annotations

from pathlib import Path


class HandsegError(Exception):
    """Base class for every error handseg reports to a user."""


class DataError(HandsegError):
    """A file or folder of input data is malformed; the message names the file and the problem."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class ConfigError(HandsegError):
    """A configuration value or command-line option is invalid."""


class CheckpointError(HandsegError):
    """A checkpoint cannot be loaded or does not match the model or config."""


class OutputExistsError(HandsegError):
    """An output path exists and would be overwritten without --force."""
