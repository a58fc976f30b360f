"""`handseg convert`: converts, prints counts, skips bad frames with --skip-bad, rejects misuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_readers import build_handseg, build_rhd

from handseg.cli import main
from handseg.data.format import HandsegDataset
from handseg.utils.io import atomic_write_png


def _full_size_handseg(root: Path, frames: int = 3) -> None:
    """HandSeg frames at the real 640x480 size (the CLI uses the default intrinsics)."""
    import numpy as np

    rng = np.random.default_rng(0)
    for i in range(frames):
        atomic_write_png(root / "images" / f"u.{i:03d}.png", rng.integers(0, 8000, (480, 640)).astype(np.uint16))
        atomic_write_png(root / "masks" / f"u.{i:03d}.png", rng.integers(0, 3, (480, 640)).astype(np.uint8))


def test_convert_with_skip_bad_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _full_size_handseg(tmp_path / "hs")
    (tmp_path / "hs" / "masks" / "u.001.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert main(["convert", str(tmp_path / "hs"), str(tmp_path / "out"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "u.001.png" in err and "truncated PNG" in err
    code = main(["convert", str(tmp_path / "hs"), str(tmp_path / "out"), "--skip-bad", "--force", "--no-progress",
                 "--depth-scale", "0.001"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "written 2, skipped 1" in out and "truncated PNG" in out
    converted = HandsegDataset(tmp_path / "out", split=None)
    assert converted.ids == ["u.000", "u.002"] and converted.intrinsics.depth_scale_m == 0.001


def test_convert_limit_and_option_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _full_size_handseg(tmp_path / "hs", frames=2)
    assert main(["convert", str(tmp_path / "hs"), str(tmp_path / "o"), "--limit", "1", "--no-progress"]) == 0
    assert "written 1" in capsys.readouterr().out
    build_rhd(tmp_path / "rhd", frames=1)
    assert main(["convert", str(tmp_path / "rhd"), str(tmp_path / "o2"), "--depth-scale", "0.001"]) == 1
    assert "--depth-scale applies to" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "hs"), str(tmp_path / "o3"), "--size", "64"]) == 1
    assert main(["convert", str(tmp_path / "hs"), str(tmp_path / "o")]) == 1  # exists, no --force
    assert "--force" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "nope"), str(tmp_path / "o4")]) == 1


def test_small_handseg_fixture_is_rejected_at_default_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_handseg(tmp_path / "hs", frames=1)  # 32x24 frames are not HandSeg's 640x480
    assert main(["convert", str(tmp_path / "hs"), str(tmp_path / "o"), "--no-progress"]) == 1
    assert "does not match 640x480" in capsys.readouterr().err
