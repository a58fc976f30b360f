"""Fuzzing every reader with damaged files: only handseg's own errors escape, and --skip-bad skips and counts."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixtures_readers import SMALL, build_eth, build_handseg, build_handseg_v1, build_nyu, build_rhd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handseg.data.format import Intrinsics
from handseg.data.readers import open_dataset
from handseg.data.readers.lmdb_io import LmdbStore, write_lmdb
from handseg.errors import DataError, HandsegError

OPS = ("truncate", "flip", "delete", "wrong_dtype", "out_of_range", "size")
FORMATS = {
    "nyu": (build_nyu, {"intrinsics": SMALL}),
    "handseg": (build_handseg, {"intrinsics": Intrinsics(**{**SMALL.to_dict(), "depth_scale_m": 0.000125})}),
    "rhd": (build_rhd, {"intrinsics": Intrinsics(**{**SMALL.to_dict(), "depth_scale_m": 5 / 65535})}),
    "eth-amodal": (build_eth, {"size": 16}),
    "handseg-v1": (build_handseg_v1, {}),
}


def corrupt(data: bytes, op: str, frac: float, byte: int) -> bytes | None:
    """Damage a file's bytes: cut, flip, delete (None), or replace an image by a wrong one."""
    if op == "truncate":
        return data[: int(len(data) * frac)]
    if op == "flip":
        out = bytearray(data)
        if out:
            out[min(int(len(out) * frac), len(out) - 1)] ^= byte or 0x55
        return bytes(out)
    if op == "delete":
        return None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if image is None:  # not an image (a .pt list, a .mat): cut it instead
        return data[: len(data) // 2]
    h, w = image.shape[:2]
    if op == "wrong_dtype":
        options = [
            np.zeros((h, w), np.uint16) + 7,
            np.zeros((h, w), np.uint8) + 1,
            np.zeros((h, w, 3), np.uint8) + np.array([1, 2, 3], np.uint8),
            np.zeros((h, w, 3), np.uint16) + 300,
        ]
        replacement = options[byte % len(options)]
    elif op == "out_of_range":
        replacement = np.full((h, w), 34 + byte % 200, np.uint8)
    else:  # size
        replacement = image[: max(1, h - 1 - byte % 5), : max(1, w - byte % 3)]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(replacement))
    assert ok
    return buf.tobytes()


def _targets(root: Path) -> list[str]:
    """Damageable things: files (relative paths) and LMDB values ("name.lmdb::key")."""
    out = []
    for path in sorted(root.rglob("*")):
        if path.suffix == ".lmdb" and path.is_dir():
            store = LmdbStore(path)
            out += [f"{path.relative_to(root)}::{key}" for key in store.all_keys()]
            store.close()
        elif path.is_file() and path.parent.suffix != ".lmdb":
            out.append(str(path.relative_to(root)))
    return out


def _apply(root: Path, target: str, op: str, frac: float, byte: int) -> None:
    if "::" in target:
        name, key = target.split("::", 1)
        store = LmdbStore(root / name)
        items = {k: store.get(k) or b"" for k in store.all_keys()}
        store.close()
        damaged = corrupt(items[key], op, frac, byte)
        if damaged is None:
            del items[key]
        else:
            items[key] = damaged
        shutil.rmtree(root / name)
        write_lmdb(root / name, items)
        return
    path = root / target
    damaged = corrupt(path.read_bytes(), op, frac, byte)
    if damaged is None:
        path.unlink()
    else:
        path.write_bytes(damaged)


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[str]]]:
    out = {}
    for fmt, (build, _) in FORMATS.items():
        root = tmp_path_factory.mktemp(fmt.replace("-", "_")) / "src"
        build(root)
        out[fmt] = (root, _targets(root))
    return out


def _check_reader(root: Path, fmt: str) -> None:
    """Read everything strictly, then with skip_bad: only clear handseg errors, consistent counts."""
    opts = FORMATS[fmt][1]
    try:
        strict = open_dataset(root, fmt, **opts)
        for sample in strict:
            assert sample["depth"].dtype == np.float32
    except DataError as exc:
        assert exc.path, "a DataError must name the file"
    try:
        lenient = open_dataset(root, fmt, skip_bad=True, **opts)
    except DataError as exc:  # damage to the dataset as a whole (a list file, an LMDB)
        assert exc.path
        return
    samples = list(lenient)
    assert len(samples) + len(lenient.skipped) == len(lenient)
    assert sum(lenient.skip_counts.values()) == len(lenient.skipped)
    for reason in lenient.skipped.values():
        assert str(root) in reason or "(to write)" in reason


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_only_clear_errors(templates: dict, fmt: str, data: st.DataObject) -> None:
    template, targets = templates[fmt]
    target = data.draw(st.sampled_from(targets), label="target")
    op = data.draw(st.sampled_from(OPS), label="op")
    frac = data.draw(st.floats(0.0, 1.0), label="frac")
    byte = data.draw(st.integers(0, 255), label="byte")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "src"
        shutil.copytree(template, root)
        _apply(root, target, op, frac, byte)
        _check_reader(root, fmt)


CASES = [
    # format, target, op, expected message fragment
    ("handseg", "images/user-1.00000001.png", "truncate", "truncated PNG"),
    ("handseg", "images/user-1.00000001.png", "wrong_dtype", "expected single-channel uint16"),
    ("handseg", "masks/user-1.00000001.png", "delete", "missing mask"),
    ("handseg", "masks/user-1.00000001.png", "out_of_range", "mask values out of range"),
    ("handseg", "masks/user-1.00000001.png", "size", "does not match"),
    ("rhd", "training/mask/00001.png", "out_of_range", "mask values out of range"),
    ("rhd", "training/depth/00001.png", "delete", "missing depth"),
    ("rhd", "training/color/00001.png", "size", "does not match"),
    ("nyu", "train/depth_1_0000002.png", "wrong_dtype", "8-bit RGB"),
    ("nyu", "train/rgb_1_0000002.png", "truncate", "truncated PNG"),
    ("eth-amodal", "segm_train_val_mp.lmdb::101__l", "out_of_range", "part values out of range"),
    ("eth-amodal", "segm_train_val_mp.lmdb::101__r", "delete", "missing part map"),
    ("eth-amodal", "segm_train_val_mp.lmdb::101__r", "size", "does not match"),
    ("handseg-v1", "label/f001.png", "out_of_range", "label values out of range"),
]


@pytest.mark.parametrize(("fmt", "target", "op", "message"), CASES)
def test_each_problem_named_and_skipped(templates: dict, tmp_path: Path, fmt: str, target: str, op: str,
                                        message: str) -> None:  # fmt: skip
    root = tmp_path / "src"
    shutil.copytree(templates[fmt][0], root)
    _apply(root, target, op, 0.5, 3)
    opts = FORMATS[fmt][1]
    with pytest.raises(DataError, match=message) as exc:
        list(open_dataset(root, fmt, **opts))
    assert Path(target.split("::")[0]).name in str(exc.value)
    reader = open_dataset(root, fmt, skip_bad=True, **opts)
    assert len(list(reader)) == len(reader) - 1
    assert len(reader.skipped) == 1 and message in next(iter(reader.skipped.values()))


def test_corrupt_lists_and_lmdb_files_are_data_errors(templates: dict, tmp_path: Path) -> None:
    root = tmp_path / "src"
    shutil.copytree(templates["eth-amodal"][0], root)
    (root / "datalist_train_mp.pt").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(DataError, match="datalist_train_mp.pt"):
        open_dataset(root, "eth-amodal", size=16)
    (root / "datalist_train_mp.pt").unlink()
    (root / "interhand.lmdb" / "data.mdb").write_bytes(b"\0" * 100)
    with pytest.raises(HandsegError, match="interhand.lmdb"):
        open_dataset(root, "eth-amodal", size=16)
