"""The tiny checkpoint of tests/conftest.py (tiny_ckpt) published into a temporary zoo on HANDSEG_ZOO_PATH."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory, tiny_ckpt: Path) -> Path:
    """A zoo folder with 'tiny' (fp32) and 'tiny16' (fp16) published from tiny_ckpt."""
    from handseg.zoo import publish

    folder = tmp_path_factory.mktemp("zoo")
    publish(tiny_ckpt, name="tiny", out=folder)
    publish(tiny_ckpt, name="tiny16", out=folder, fp16=True)
    return folder


@pytest.fixture()
def zoo(published: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The published zoo folder, first on HANDSEG_ZOO_PATH for this test."""
    monkeypatch.setenv("HANDSEG_ZOO_PATH", str(published))
    return published
