"""Atomic writes and output-folder checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from handseg.errors import HandsegError, OutputExistsError
from handseg.utils.io import atomic_open, atomic_write_text, prepare_output_dir


def test_failed_atomic_write_leaves_old_file(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    atomic_write_text(path, "old")
    with pytest.raises(RuntimeError), atomic_open(path, "w") as handle:
        handle.write("new")
        raise RuntimeError("crash mid-write")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_prepare_output_dir(tmp_path: Path) -> None:
    out = prepare_output_dir(tmp_path / "new")
    (out / "x").write_text("1")
    with pytest.raises(OutputExistsError):
        prepare_output_dir(out)
    assert prepare_output_dir(out, force=True) == out


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_dir(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(HandsegError, match="cannot write"):
        prepare_output_dir(locked / "sub")


def test_atomic_writes_get_the_usual_permissions_and_keep_existing_ones(tmp_path) -> None:
    import stat

    from handseg.utils import io as hio
    from handseg.utils.io import atomic_write_text

    old = hio._UMASK
    hio._UMASK = 0o022
    try:
        atomic_write_text(tmp_path / "new.txt", "a")
        assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644  # not mkstemp's 0600
        (tmp_path / "kept.txt").write_text("x")
        (tmp_path / "kept.txt").chmod(0o640)
        atomic_write_text(tmp_path / "kept.txt", "b")
        assert stat.S_IMODE((tmp_path / "kept.txt").stat().st_mode) == 0o640
    finally:
        hio._UMASK = old
