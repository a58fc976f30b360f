"""Re-import of masks corrected in Label Studio: brush RLE and polygons -> label PNGs, checked, atomic, no overwrite.

The fixtures follow Label Studio's documented JSON export: a list of tasks, each with `data`, `annotations` (each
with `result`, `was_cancelled`, `created_at`/`updated_at`) and `predictions`; a brush result is
{"type": "brushlabels", "value": {"format": "rle", "rle": [...], "brushlabels": [...]}, "original_width", ...}.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handseg.annotate.review.labelstudio import label_polygons
from handseg.annotate.review.labelstudio_import import decode_brush_rle, encode_brush_rle, import_corrected
from handseg.annotate.review.store import ReviewStore
from handseg.cli import main
from handseg.errors import DataError, OutputExistsError
from handseg.utils.io import read_png

W, H = 160, 120


def _bits_to_bytes(bits: str) -> list[int]:
    bits += "0" * (-len(bits) % 8)
    return [int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)]


def test_decode_a_hand_packed_stream_with_a_run_and_a_literal_chunk() -> None:
    # 8 values, 8-bit words, length fields of 3 bits each; a run of four 0s, then the literal values 1, 2, 3, 250.
    header = format(8, "032b") + format(7, "05b") + format(2, "04b") * 4
    run = "1" + "00" + "011" + format(0, "08b")
    literal = "0" + "00" + "011" + "".join(format(v, "08b") for v in (1, 2, 3, 250))
    assert decode_brush_rle(_bits_to_bytes(header + run + literal)).tolist() == [0, 0, 0, 0, 1, 2, 3, 250]
    with pytest.raises(DataError, match="ends early"):
        decode_brush_rle(_bits_to_bytes(header + run))


def test_encode_decode_round_trip_with_long_runs_and_lone_values() -> None:
    rng = np.random.default_rng(0)
    values = np.zeros(W * H * 4, np.uint8)
    values[1000:90000] = 255  # longer than one 16-bit run
    values[rng.integers(0, values.size, 300)] = 7  # lone values: literal chunks
    assert np.array_equal(decode_brush_rle(encode_brush_rle(values)), values)


def brush(mask: np.ndarray, name: str) -> dict:
    """A Label Studio brushlabels result of a mask (RGBA canvas: the label's colour where painted)."""
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[mask] = (230, 70, 60, 255)
    return {"id": f"b{name}", "type": "brushlabels", "from_name": "tag", "to_name": "image", "origin": "manual",
            "original_width": mask.shape[1], "original_height": mask.shape[0], "image_rotation": 0,
            "value": {"format": "rle", "rle": encode_brush_rle(rgba), "brushlabels": [name]}}  # fmt: skip


def task(frame_id: str, results: list[dict], task_id: int = 1, **annotation: object) -> dict:
    """One task of Label Studio's JSON export."""
    return {"id": task_id, "data": {"image": f"/data/local-files/?d=/x/color/{frame_id}.png", "handseg_id": frame_id},
            "annotations": [{"id": task_id * 10, "completed_by": 1, "result": results, "was_cancelled": False,
                             "created_at": "2026-01-01T10:00:00Z", "updated_at": "2026-01-01T10:05:00Z",
                             **annotation}],
            "predictions": []}  # fmt: skip


def expected_label() -> tuple[np.ndarray, list[dict]]:
    """A corrected label: a hand rectangle painted by brush over an object polygon."""
    label = np.zeros((H, W), np.uint8)
    label[30:90, 40:120] = 2
    label[50:70, 20:60] = 1
    polygon = {"id": "p1", "type": "polygonlabels", "from_name": "label", "to_name": "image",
               "original_width": W, "original_height": H, "image_rotation": 0,
               "value": {"points": [[100 * 40 / W, 100 * 30 / H], [100 * 119 / W, 100 * 30 / H],
                                    [100 * 119 / W, 100 * 89 / H], [100 * 40 / W, 100 * 89 / H]],
                         "closed": True, "polygonlabels": ["object"]}}  # fmt: skip
    return label, [polygon, brush(label == 1, "hand")]


def test_import_writes_corrected_labels_keeps_the_automatic_ones_and_refuses_a_second_import(
    scene_dataset: Path, tmp_path: Path
) -> None:
    auto = read_png(scene_dataset / "label" / "f001.png")
    label, results = expected_label()
    export = tmp_path / "export.json"
    pending = {"id": 2, "data": {"handseg_id": "f002"}, "annotations": [], "predictions": []}
    cancelled = task("f003", [brush(np.ones((H, W), bool), "hand")], task_id=3, was_cancelled=True)
    export.write_text(json.dumps([task("f001", results), pending, cancelled]))
    assert main(["review", str(scene_dataset), "--import-corrected", str(export)]) == 0
    assert np.array_equal(read_png(scene_dataset / "label" / "f001.png"), label)
    assert np.array_equal(read_png(scene_dataset / "label_auto" / "f001.png"), auto)
    assert not (scene_dataset / "label_auto" / "f003.png").exists()  # a cancelled annotation changes nothing
    assert ReviewStore(scene_dataset).decisions == {"f001": "accept"}
    # A second import would replace a person's correction: refused without --force, and nothing is written.
    label2 = np.zeros((H, W), np.uint8)
    export.write_text(json.dumps([task("f001", [brush(label2 == 0, "object")])]))
    with pytest.raises(OutputExistsError, match="--force"):
        import_corrected(scene_dataset, export)
    assert np.array_equal(read_png(scene_dataset / "label" / "f001.png"), label)
    import_corrected(scene_dataset, export, force=True)
    assert (read_png(scene_dataset / "label" / "f001.png") == 2).all()
    assert np.array_equal(read_png(scene_dataset / "label_auto" / "f001.png"), auto)  # still the automatic one


def test_the_exported_polygons_come_back_as_the_same_label(scene_dataset: Path, tmp_path: Path) -> None:
    auto = read_png(scene_dataset / "label" / "f002.png")
    export = tmp_path / "export.json"
    export.write_text(json.dumps([task("f002", label_polygons(auto))]))
    import_corrected(scene_dataset, export)
    assert np.array_equal(read_png(scene_dataset / "label" / "f002.png"), auto)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"value": {"format": "rle", "rle": encode_brush_rle(np.zeros(W * H, np.uint8)), "brushlabels": ["hand"]}},
         "RGBA mask"),
        ({"value": {"format": "rle", "rle": [1, 2], "brushlabels": ["hand"]}}, "ends early"),
        ({"value": {"points": [[1, 1], [50, 1], [50, 50]], "polygonlabels": ["cup"]}, "type": "polygonlabels"},
         "expected one of"),
        ({"original_width": 640}, "640x120 image"),
        ({"type": "rectanglelabels"}, "not a mask"),
    ],
)  # fmt: skip
def test_bad_exports_are_refused_before_anything_is_written(
    scene_dataset: Path, tmp_path: Path, bad: dict, message: str
) -> None:
    before = read_png(scene_dataset / "label" / "f000.png")
    good = task("f000", [brush(np.ones((H, W), bool), "hand")], task_id=1)
    result = brush(np.ones((H, W), bool), "hand")
    result.update(bad)
    export = tmp_path / "export.json"
    export.write_text(json.dumps([good, task("f001", [result], task_id=2)]))
    with pytest.raises(DataError, match=message) as info:
        import_corrected(scene_dataset, export)
    assert "task 2" in str(info.value)
    assert np.array_equal(read_png(scene_dataset / "label" / "f000.png"), before)
    assert not (scene_dataset / "label_auto").exists()


def test_unknown_frames_and_duplicates_are_refused(scene_dataset: Path, tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    export.write_text(json.dumps([task("nope", [])]))
    with pytest.raises(DataError, match="'nope', which is not in the dataset"):
        import_corrected(scene_dataset, export)
    export.write_text(json.dumps([task("f000", []), task("f000", [], task_id=2)]))
    with pytest.raises(DataError, match="also in"):
        import_corrected(scene_dataset, export)
    export.write_text("{not json")
    with pytest.raises(DataError, match="cannot read"):
        import_corrected(scene_dataset, export)
