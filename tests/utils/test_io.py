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


@pytest.mark.parametrize(
    "shape, dtype",
    [((13, 17), "uint8"), ((13, 17), "uint16"), ((13, 17, 3), "uint8"), ((13, 17, 4), "uint8"), ((5, 6, 3), "uint16")],
)
@pytest.mark.parametrize("compression", [1, 3, 6])
def test_png_round_trip_through_opencv_and_pillow(shape: tuple, dtype: str, compression: int) -> None:
    """Both encoders (ISA-L at 1-3, OpenCV otherwise) write valid PNGs (checksums included) of the exact pixels."""
    import io

    import numpy as np
    from PIL import Image

    from handseg.utils.io import decode_png, encode_png

    image = np.random.default_rng(0).integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
    image[:3, :4] = 0  # runs and noise: what label maps and depth images hold
    data = encode_png(image, compression)
    np.testing.assert_array_equal(decode_png(data, "x.png"), image[..., :3] if image.ndim == 3 else image)
    with Image.open(io.BytesIO(data)) as pil:
        pil.verify()  # chunk CRCs and the zlib stream
    if dtype == "uint8" or image.ndim == 2:  # Pillow has no 16-bit RGB mode
        with Image.open(io.BytesIO(data)) as pil:
            np.testing.assert_array_equal(np.asarray(pil), image)


def test_isal_and_opencv_encoders_agree_on_synthetic_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ISA-L path writes the same pixels as OpenCV's and files no larger than 10 % more."""
    import numpy as np

    import handseg.utils.io as io_module
    from handseg.data.synth import render_frame
    from handseg.utils.io import decode_png, encode_png, png_encoder

    if io_module._ISAL is None:
        pytest.skip("python-isal is not installed")
    frame = render_frame(0, 1, 160, 120)
    images = [frame["color"], frame["depth"], frame["label"], frame["parts"][0], frame["parts"][1]]
    fast = [encode_png(image, 1, noisy=i == 0) for i, image in enumerate(images)]
    assert png_encoder(1).startswith("isal")
    monkeypatch.setattr(io_module, "_ISAL", None)
    assert png_encoder(1).startswith("opencv")
    slow = [encode_png(image, 1, noisy=i == 0) for i, image in enumerate(images)]
    for image, a, b in zip(images, fast, slow):
        np.testing.assert_array_equal(decode_png(a, "a.png"), decode_png(b, "b.png"))
        np.testing.assert_array_equal(decode_png(a, "a.png"), image)
    assert sum(map(len, fast)) <= 1.1 * sum(map(len, slow))


def test_atomic_write_bytes_creates_the_folder_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    from handseg.utils.io import atomic_write_bytes

    target = tmp_path / "new" / "sub" / "f.bin"
    atomic_write_bytes(target, b"x" * 100_000, durable=False)
    atomic_write_bytes(target, b"y", durable=True)
    assert target.read_bytes() == b"y"
    assert [p.name for p in target.parent.iterdir()] == ["f.bin"]
    with pytest.raises(TypeError):
        atomic_write_bytes(target, 5)  # type: ignore[arg-type]
    assert target.read_bytes() == b"y" and [p.name for p in target.parent.iterdir()] == ["f.bin"]
