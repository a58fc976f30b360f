"""Hand frames to a mask editor: rejected frames as Label Studio tasks with the automatic labels as polygons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from handseg.annotate.review.store import ReviewStore, frame_ids
from handseg.errors import DataError
from handseg.utils.io import atomic_write_text, check_can_write_file, read_png

CLASS_NAMES = {1: "hand", 2: "object"}
# The Label Studio labelling interface these tasks fit (Settings > Labeling Interface > Code).
LABEL_CONFIG = """<View>
  <Image name="image" value="$image" zoom="true"/>
  <PolygonLabels name="label" toName="image">
    <Label value="hand" background="#e6463c"/>
    <Label value="object" background="#3c8cf0"/>
  </PolygonLabels>
</View>
"""


def label_polygons(label: np.ndarray, min_area: float = 4.0) -> list[dict[str, Any]]:
    """Label Studio polygonlabels results (points in % of the image) of the hand and object regions of a label map."""
    height, width = label.shape
    results = []
    for value, name in CLASS_NAMES.items():
        mask = (label == value).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            if cv2.contourArea(contour) < min_area or len(contour) < 3:
                continue
            points = [[round(100.0 * float(x) / width, 3), round(100.0 * float(y) / height, 3)]
                      for x, y in contour[:, 0]]  # fmt: skip
            results.append({
                "from_name": "label", "to_name": "image", "type": "polygonlabels",
                "original_width": width, "original_height": height, "image_rotation": 0,
                "value": {"points": points, "closed": True, "polygonlabels": [name]},
            })  # fmt: skip
    return results


def export_rejected(root: str | Path, out: str | Path, *, force: bool = False, image_prefix: str = "") -> int:
    """Write the rejected frames of `root` as Label Studio tasks (JSON list) to `out`; return how many.

    Each task's image is the frame's color PNG (else its overlay) as `image_prefix` + absolute path, e.g.
    "/data/local-files/?d=" for Label Studio's local file serving; its prediction holds the automatic labels as
    polygons to correct. `LABEL_CONFIG` is written beside the JSON (`<out>.xml`).
    """
    root = Path(root)
    out = Path(out)
    if out.suffix.lower() != ".json":
        raise DataError(out, "the Label Studio export must be a .json file")
    check_can_write_file(out, force)
    if not (root / "label").is_dir():
        raise DataError(root, "not an annotated handseg-v1 dataset (no label/ folder)")
    decisions = ReviewStore(root).decisions
    tasks = []
    for frame_id in frame_ids(root):
        if decisions.get(frame_id) != "reject":
            continue
        label_path = root / "label" / f"{frame_id}.png"
        if not label_path.is_file():
            raise DataError(label_path, "missing label of a rejected frame")
        image = root / "color" / f"{frame_id}.png"
        image = image if image.is_file() else root / "overlays" / f"{frame_id}.png"
        tasks.append({
            "data": {"image": image_prefix + str(image.resolve()), "handseg_id": frame_id},
            "predictions": [{"model_version": "handseg-annotate", "result": label_polygons(read_png(label_path))}],
        })  # fmt: skip
    atomic_write_text(out, json.dumps(tasks, indent=1))
    atomic_write_text(out.with_suffix(".xml"), LABEL_CONFIG)
    return len(tasks)
