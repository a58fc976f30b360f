"""Exceptions that handseg raises for bad input; the CLI prints them without a traceback."""

from __future__ import annotations

from pathlib import Path

_WORKER_MARK = "in DataLoader worker process"


def original_message(text: str) -> str:
    """The original one-line message of an error that torch re-raised from a DataLoader worker, else `text`.

    torch re-raises a worker's exception as `type(exc)("Caught X in DataLoader worker process N.\\nOriginal
    Traceback ...\\nmodule.X: message")`; the user needs only the last part.
    """
    if _WORKER_MARK not in text.split("\n", 1)[0]:
        return text
    for line in reversed(text.strip().splitlines()):
        head, sep, rest = line.partition(": ")
        if sep and head.rsplit(".", 1)[-1].endswith("Error") and " " not in head:
            return rest.strip()
    return text.strip().splitlines()[-1]


class HandsegError(Exception):
    """Base class for every error handseg reports to a user."""

    def __init__(self, *args: object) -> None:
        if len(args) == 1 and isinstance(args[0], str):
            args = (original_message(args[0]),)  # a DataLoader worker's error keeps its own message
        super().__init__(*args)


class DataError(HandsegError):
    """A file or folder of input data is malformed; the message names the file and the problem."""

    def __init__(self, path: str | Path | None, problem: str | None = None) -> None:
        if problem is None:  # the one-argument form, as torch re-raises a worker's error: a whole message
            self.path, self.problem = None, original_message(str(path))
            super().__init__(self.problem)
            return
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class ConfigError(HandsegError):
    """A configuration value or command-line option is invalid."""


class CheckpointError(HandsegError):
    """A checkpoint cannot be loaded or does not match the model or config."""


class OutputExistsError(HandsegError):
    """An output path exists and would be overwritten without --force."""
