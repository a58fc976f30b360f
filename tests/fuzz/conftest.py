"""The fuzz harness: run `handseg` in-process on a bad input and classify what happened.

Every case counts as exactly one of: a clear error (exit 1 or 2, one line on stderr naming the file, key or
option, nothing written), a traceback (an exception escaped, or an "internal error" line), a partial output (a
file or folder created or changed), or an unclear error (anything else). `pytest tests/fuzz -n 0` prints the
tally at the end (the README's reliability section quotes it).
"""

from __future__ import annotations

import io
import os
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

TALLY: Counter[str] = Counter()


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for path in root.rglob("*"):
        stat = path.lstat()
        out[str(path.relative_to(root))] = (stat.st_size if path.is_file() else -1, stat.st_mtime_ns)
    return out


class Fuzz:
    """run(argv, root, names): one case, classified, tallied and asserted."""

    def run(self, argv: Sequence[str], root: Path, names: Sequence[str]) -> str:
        from handseg.cli import main

        before = _snapshot(root)
        err, out = io.StringIO(), io.StringIO()
        escaped = None
        code = None
        with _cwd(root), redirect_stderr(err), redirect_stdout(out):
            try:
                code = main(list(argv))
            except SystemExit as exc:
                code = exc.code
            except Exception:
                escaped = traceback.format_exc()
        after = _snapshot(root)
        changed = sorted(k for k, v in after.items() if before.get(k) != v)
        text = err.getvalue()
        if escaped or "Traceback" in text or "internal error" in text:
            kind = "traceback"
        elif changed:
            kind = "partial output"
        elif code in (1, 2) and text.count("\n") == 1 and text.endswith("\n") and any(n in text for n in names):
            kind = "clear error"
        else:
            kind = "unclear error"
        TALLY["tried"] += 1
        TALLY[kind] += 1
        assert kind == "clear error", (
            f"{kind}: handseg {' '.join(argv)} -> exit {code}; changed {changed[:5]}; stderr {text!r}; "
            f"expected a name among {list(names)}; {escaped or ''}"
        )
        return text


@pytest.fixture(scope="session")
def fuzz() -> Fuzz:
    """The harness."""
    return Fuzz()


@pytest.fixture(scope="session")
def tiny_ckpt_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of an untrained tiny depth U-Net (32x24)."""
    from handseg.config import validate
    from handseg.engine.checkpoint import save_checkpoint
    from handseg.models import build_model

    config = validate({"model": {"name": "unet", "width": 8, "depth": 2}, "data": {"size": [32, 24]}})
    model = build_model("unet", **{k: v for k, v in config["model"].items() if k != "name"})
    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    save_checkpoint(path, {"model": model.state_dict(), "config": config})
    return path


def pytest_terminal_summary(terminalreporter) -> None:
    """One line with the tally of this process's cases (run with -n 0 to see the whole suite's)."""
    if TALLY["tried"]:
        parts = ", ".join(f"{TALLY[k]} {k}" for k in ("clear error", "traceback", "partial output", "unclear error"))
        terminalreporter.write_line(f"handseg fuzz: {TALLY['tried']} cases tried: {parts}")
