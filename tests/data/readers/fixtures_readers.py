"""Tiny datasets in each public format, built in code, with the samples a correct reader must return."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from handseg.data.format import DatasetWriter, Intrinsics, Manifest
from handseg.data.readers.lmdb_io import write_lmdb
from handseg.data.readers.nyu import encode_nyu_depth
from handseg.data.readers.rhd import LEFT_PART_OF_MASK, RIGHT_PART_OF_MASK, encode_rhd_depth
from handseg.utils.io import atomic_write_png, encode_png

W, H = 32, 24  # small frames keep the tests fast
SMALL = Intrinsics(width=W, height=H, fx=30.0, fy=30.0, cx=15.5, cy=11.5, depth_scale_m=0.001)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def build_nyu(root: Path, frames: int = 3, seed: int = 0) -> dict[str, dict]:
    """train/ and test/ folders of depth_1_NNNNNNN.png (+ rgb_ beside the train ones)."""
    rng, expected = _rng(seed), {}
    for i in range(frames):
        split = "train" if i < frames - 1 else "test"
        folder = root / split
        depth = rng.integers(0, 4000, size=(H, W)).astype(np.uint16)
        stem = f"1_{i + 1:07d}"
        atomic_write_png(folder / f"depth_{stem}.png", encode_nyu_depth(depth))
        color = None
        if split == "train":
            color = rng.integers(0, 256, size=(H, W, 3)).astype(np.uint8)
            atomic_write_png(folder / f"rgb_{stem}.png", color)
        atomic_write_png(folder / f"synthdepth_{stem}.png", encode_nyu_depth(depth))
        expected[f"{split}_{stem}"] = {"depth_mm": depth, "color": color, "split": split}
    (root / "train" / "joint_data.mat").write_bytes(b"not read")
    return expected


def build_handseg(root: Path, frames: int = 3, seed: int = 1) -> dict[str, dict]:
    """images/ uint16 depth and masks/ 0/1/2 with the same names."""
    rng, expected = _rng(seed), {}
    for i in range(frames):
        name = f"user-{i}.{i:08d}"
        depth = rng.integers(0, 9000, size=(H, W)).astype(np.uint16)
        mask = rng.integers(0, 3, size=(H, W)).astype(np.uint8)
        atomic_write_png(root / "images" / f"{name}.png", depth)
        atomic_write_png(root / "masks" / f"{name}.png", mask)
        expected[name] = {"depth_raw": depth, "mask": mask}
    return expected


def build_rhd(root: Path, frames: int = 3, seed: int = 2) -> dict[str, dict]:
    """training/ and evaluation/ with color/ mask/ depth/ NNNNN.png."""
    rng, expected = _rng(seed), {}
    for i in range(frames):
        split_dir, split = ("training", "train") if i < frames - 1 else ("evaluation", "test")
        folder = root / split_dir
        color = rng.integers(0, 256, size=(H, W, 3)).astype(np.uint8)
        mask = rng.integers(0, 34, size=(H, W)).astype(np.uint8)
        raw = rng.integers(0, 65536, size=(H, W)).astype(np.uint16)
        name = f"{i:05d}.png"
        atomic_write_png(folder / "color" / name, color)
        atomic_write_png(folder / "mask" / name, mask)
        atomic_write_png(folder / "depth" / name, encode_rhd_depth(raw))
        expected[f"{split}_{i:05d}"] = {
            "color": color,
            "mask": mask,
            "depth_m": raw.astype(np.float64) / 65535.0 * 5.0,
            "split": split,
        }
    return expected


def part_png(values: np.ndarray) -> bytes:
    """A part map as the course stores it: PNG with 3 equal channels."""
    return encode_png(np.repeat(values.astype(np.uint8)[..., None], 3, axis=2))


def build_eth(root: Path, frames: int = 4, seed: int = 3, size: int = 16, with_bbox: bool = True) -> dict[str, dict]:
    """interhand.lmdb + segm_train_val_mp.lmdb + datalist/path2id files in the course's layout.

    With bboxes, images are 2*size square and the bbox is the central size x size window, so the crop equals a
    plain slice and the expected values are exact. Left parts are stored +16 (17..32), right parts as 1..16.
    """
    rng, expected = _rng(seed), {}
    images, segm, lists, path2id = {}, {}, {"train": [], "val": []}, {"train": {}, "val": {}}
    full = 2 * size if with_bbox else size
    lo = (full - size) // 2
    for i in range(frames):
        split = "train" if i < frames - 1 else "val"
        rel = f"{split}/Capture0/seq/cam400{i}/image{i:04d}"
        image = rng.integers(0, 256, size=(full, full, 3)).astype(np.uint8)
        left = rng.integers(0, 17, size=(full, full)).astype(np.uint8)
        right = rng.integers(0, 17, size=(full, full)).astype(np.uint8)
        images[f"data/InterHand2.6M/images/{rel}.jpg"] = encode_png(image)
        segm_id = str(100 + i)
        segm[f"{segm_id}__l"] = part_png(np.where(left > 0, left + 16, 0))
        segm[f"{segm_id}__r"] = part_png(right)
        entry = {"img_path": f"./data/InterHand2.6M/images/{rel}.jpg", "hand_type": "interacting",
                 "capture": 0, "cam": f"400{i}", "frame": i}  # fmt: skip
        if with_bbox:
            entry["bbox"] = np.array([lo, lo, size, size], np.float32)
        lists[split].append(entry)
        path2id[split][rel] = int(segm_id)
        crop = (slice(lo, lo + size), slice(lo, lo + size))
        expected[rel.replace("/", "_")] = {
            "color": image[crop],
            "parts": np.stack([left[crop], right[crop]]).astype(np.int64),
            "split": split,
        }
    root.mkdir(parents=True, exist_ok=True)
    write_lmdb(root / "interhand.lmdb", images)
    write_lmdb(root / "segm_train_val_mp.lmdb", segm)
    for split in ("train", "val"):
        torch.save(lists[split], root / f"datalist_{split}_mp.pt")
        torch.save(path2id[split], root / f"path2id_{split}.pt")
    return expected


def build_handseg_v1(root: Path, frames: int = 3, seed: int = 4) -> dict[str, dict]:
    """A handseg-v1 folder written with DatasetWriter."""
    rng, expected = _rng(seed), {}
    writer = DatasetWriter(root, Manifest(name="t", sensor=SMALL))
    for i in range(frames):
        frame = {
            "depth": rng.integers(0, 3000, size=(H, W)).astype(np.uint16),
            "label": rng.choice(np.array([0, 1, 2, 255], np.uint8), size=(H, W)),
            "color": rng.integers(0, 256, size=(H, W, 3)).astype(np.uint8),
            "parts": rng.integers(0, 17, size=(2, H, W)).astype(np.uint8),
        }
        writer.write(f"f{i:03d}", **frame)
        expected[f"f{i:03d}"] = frame
    writer.finish({"train": ["f000", "f001"], "val": ["f002"]})
    return expected


def expected_rhd_parts(mask: np.ndarray) -> np.ndarray:
    """Independent restatement of the RHD part mapping for the tests."""
    left = np.zeros_like(mask, np.int64)
    right = np.zeros_like(mask, np.int64)
    ours = {}
    for finger in range(5):  # RHD: 3 segments per finger, tip first; ours: base first
        for k in range(3):
            ours[2 + 3 * finger + k] = 2 + 3 * finger + (2 - k)
    ours[17] = 1
    for value, part in ours.items():
        left[mask == value] = part
        right[mask == value + 16] = part
    assert (LEFT_PART_OF_MASK[mask] == left).all() and (RIGHT_PART_OF_MASK[mask] == right).all()
    return np.stack([left, right])


# DexYCB: <subject>/<sequence>/<serial>/ frames with YCB object ids in seg
DEX_H, DEX_W = 48, 64
HELD, FAR_AWAY, BEHIND = 3, 7, 10  # YCB ids: touching the hand, elsewhere, beside the hand but 20 cm behind it


def dexycb_frame(with_hand: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(seg, depth in mm) of one synthetic DexYCB frame."""
    seg = np.zeros((DEX_H, DEX_W), np.uint8)
    depth = np.full((DEX_H, DEX_W), 900, np.uint16)
    if with_hand:
        seg[10:30, 10:25], depth[10:30, 10:25] = 255, 500
    seg[10:30, 25:35], depth[10:30, 25:35] = HELD, 515  # shares an edge with the hand, 1.5 cm behind it
    seg[35:45, 50:60], depth[35:45, 50:60] = FAR_AWAY, 520
    seg[30:40, 10:25], depth[30:40, 10:25] = BEHIND, 700  # shares an edge, but 20 cm behind
    return seg, depth


def build_dexycb(root: Path, calibration: bool = True) -> Path:
    """<subject>/<sequence>/<serial>/ with color_*.jpg, aligned_depth_to_color_*.png, labels_*.npz (+ calibration)."""
    cam = root / "20200709-subject-01" / "20200709_141754" / "836212060125"
    cam.mkdir(parents=True)
    for k, with_hand in enumerate((True, False)):
        seg, depth = dexycb_frame(with_hand)
        atomic_write_png(cam / f"aligned_depth_to_color_{k:06d}.png", depth)
        color = np.zeros((DEX_H, DEX_W, 3), np.uint8)
        color[seg == 255] = (200, 150, 120)
        cv2.imwrite(str(cam / f"color_{k:06d}.jpg"), color[..., ::-1])
        pose_y = np.zeros((3, 3, 4), np.float32)
        np.savez(cam / f"labels_{k:06d}.npz", seg=seg, pose_y=pose_y, ycb_ids=np.array([HELD, FAR_AWAY, BEHIND]))
    if calibration:
        intr = root / "calibration" / "intrinsics"
        intr.mkdir(parents=True)
        (intr / "836212060125_640x480.yml").write_text(
            "color:\n  fx: 616.5\n  fy: 616.0\n  ppx: 318.2\n  ppy: 243.1\ndepth:\n  fx: 380.0\n  fy: 380.0\n"
        )
    return root
