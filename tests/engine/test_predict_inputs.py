"""predict: every input checked (dtype, shape, modality) before anything is written; --skip-bad; .npy and TIFF."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from handseg.cli import main
from handseg.engine.predict import predict
from handseg.errors import DataError
from handseg.utils.io import atomic_write_png, read_png


def _ckpt(path: Path, modality: str) -> Path:
    """A checkpoint of an untrained tiny U-Net (labels do not matter here, only what gets written)."""
    from handseg.config import validate
    from handseg.engine.checkpoint import save_checkpoint
    from handseg.models import build_model

    config = validate(
        {"model": {"name": "unet", "width": 8, "depth": 2}, "data": {"size": [32, 24], "modality": modality}}
    )
    name = config["model"]["name"]
    model = build_model(name, **{k: v for k, v in config["model"].items() if k != "name"})
    save_checkpoint(path, {"model": model.state_dict(), "config": config})
    return path


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ckpts")
    return {m: _ckpt(root / f"{m}.ckpt", m) for m in ("depth", "rgb")}


def _depth(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(300, 900, (24, 32)).astype(np.uint16)


def _colour() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 255, (24, 32, 3)).astype(np.uint8)


def test_bad_input_found_before_anything_is_written(ckpts, tmp_path):
    folder = tmp_path / "in"
    for k in range(4):
        atomic_write_png(folder / f"a{k}.png", _depth(k))
    atomic_write_png(folder / "z_colour.png", _colour())  # sorted last: the old code wrote a0..a3 first
    out = tmp_path / "out"
    with pytest.raises(DataError, match="z_colour.png.*colour image.*depth model"):
        predict(ckpts["depth"], [folder], out, progress=False)
    assert not out.exists() and not list(tmp_path.glob(".out.*"))  # nothing a retry must --force
    written = predict(ckpts["depth"], [folder], out, progress=False, skip_bad=True)
    assert written == ["a0", "a1", "a2", "a3"] and list(written.skipped) == [str(folder / "z_colour.png")]
    assert sorted(p.name for p in (out / "label").iterdir()) == [f"a{k}.png" for k in range(4)]


def test_skip_bad_cli_prints_counts_and_all_bad_exits_1(ckpts, tmp_path, capsys):
    folder = tmp_path / "in"
    atomic_write_png(folder / "good.png", _depth())
    (folder / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    assert main(["predict", str(ckpts["depth"]), str(folder), "--out", str(tmp_path / "o"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "torn.png" in err and "Traceback" not in err
    code = main(
        ["predict", str(ckpts["depth"]), str(folder), "--out", str(tmp_path / "o"), "--skip-bad", "--no-progress"]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "wrote 1 frames" in printed and "skipped 1 bad inputs" in printed and "torn.png" in printed
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.png").write_bytes(b"junk")
    code = main(["predict", str(ckpts["depth"]), str(only_bad), "--out", str(tmp_path / "o2"), "--skip-bad"])
    assert code == 1 and not (tmp_path / "o2").exists()


def test_npy_and_16bit_tiff_depth_accepted(ckpts, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    depth = _depth()
    np.save(folder / "raw.npy", depth)  # integer: depth units x --depth-scale
    np.save(folder / "metres.npy", depth.astype(np.float32) / 1000)  # float: metres
    assert cv2.imwrite(str(folder / "t.tiff"), depth)
    out = tmp_path / "out"
    assert predict(ckpts["depth"], [folder], out, progress=False) == ["metres", "raw", "t"]
    labels = [read_png(out / "label" / f"{i}.png") for i in ("metres", "raw", "t")]
    assert all(label.shape == depth.shape for label in labels)
    assert np.array_equal(labels[0], labels[1]) and np.array_equal(labels[1], labels[2])  # same metres, same labels


def test_pickled_or_odd_npy_refused(ckpts, tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="obj.npy.*plain .npy"):
        predict(ckpts["depth"], [tmp_path / "obj.npy"], tmp_path / "o", progress=False)
    np.save(tmp_path / "nan.npy", np.full((24, 32), np.nan, np.float32))
    with pytest.raises(DataError, match="nan.npy.*finite"):
        predict(ckpts["depth"], [tmp_path / "nan.npy"], tmp_path / "o", progress=False)
    np.save(tmp_path / "tiny.npy", np.zeros((2, 2), np.uint16))
    with pytest.raises(DataError, match="tiny.npy.*8..8192"):
        predict(ckpts["depth"], [tmp_path / "tiny.npy"], tmp_path / "o", progress=False)


def test_modality_checked_both_ways(ckpts, tmp_path):
    atomic_write_png(tmp_path / "depth.png", _depth())
    atomic_write_png(tmp_path / "colour.png", _colour())
    with pytest.raises(DataError, match="depth.png.*RGB model needs 8-bit colour.*a depth map"):
        predict(ckpts["rgb"], [tmp_path / "depth.png"], tmp_path / "o", progress=False)
    with pytest.raises(DataError, match="colour.png.*depth model"):
        predict(ckpts["depth"], [tmp_path / "colour.png"], tmp_path / "o", progress=False)
    assert predict(ckpts["rgb"], [tmp_path / "colour.png"], tmp_path / "o", progress=False) == ["colour"]


@pytest.mark.parametrize(
    "option", [["--batch-size", "0"], ["--batch-size", "-1"], ["--depth-scale", "0"], ["--depth-scale", "-1"],
               ["--depth-scale", "nan"], ["--device", "bogus"]],
)  # fmt: skip
def test_bad_options_are_usage_errors(ckpts, tmp_path, capsys, option):
    atomic_write_png(tmp_path / "a.png", _depth())
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(ckpts["depth"]), str(tmp_path / "a.png"), "--out", str(tmp_path / "o"), *option])
    assert exc.value.code == 2 and option[0] in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_depth_scale_help_names_the_sensors(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "SR300/SR305 0.000125" in text and "D400" in text and "0.001" in text
