"""Render frames and write synthetic handseg-v1 datasets (deterministic per seed, any number of workers)."""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import inspect
import json
import multiprocessing as mp
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from handseg.data.crop import DEFAULT_MARGIN, check_crop, finish_frame
from handseg.data.format import DatasetWriter, Intrinsics, Manifest
from handseg.data.synth.families import parse_weights, sample_family_scene
from handseg.data.synth.objects import ALL_OBJECT_TYPES, OBJECT_TYPES
from handseg.data.synth.render import render_scene
from handseg.data.synth.sensor import (
    CAMERAS,
    color_image,
    dark_mask,
    depth_image,
    flying_pixels,
    shading_normals,
    stereo_depth_image,
)
from handseg.errors import ConfigError
from handseg.utils.io import atomic_write_bytes, encode_png, png_encoder

GENERATOR_VERSION = 3  # 3: scene families, background people and objects, D400 stereo sensor; 2: sharp colour
_STALE = ("depth", "color", "label", "parts", "scene", "splits")
SENSORS = ("auto", "sr300", "d400", *CAMERAS)
DEPTH_SCALES = (0.001, 0.000125)  # metres per unit: millimetres, or the SR300/SR305's 1/8 mm
# sensor families each scene family is seen with when `sensor="auto"` (DexYCB: D415; FPHA: SR300)
FAMILY_SENSORS = {
    "closeup": {"sr300": 0.6, "d415": 0.2, "d435": 0.2},
    "tabletop": {"d415": 0.5, "d435": 0.25, "sr300": 0.25},
    "egocentric": {"sr300": 0.6, "d435": 0.25, "d415": 0.15},
    "frontal": {"sr300": 0.5, "d415": 0.25, "d435": 0.25},
}


def camera(width: int, height: int, model: str = "sr300") -> Intrinsics:
    """A depth camera's nominal intrinsics (SR300: fx = fy = 475 at 640x480) at another image size."""
    fx = CAMERAS[model]["fx"]
    return Intrinsics(fx=fx, fy=fx).scaled(width, height)


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    """A key drawn with probability proportional to its weight."""
    keys = list(weights)
    p = np.array([weights[k] for k in keys], np.float64)
    return keys[int(np.searchsorted(np.cumsum(p / p.sum()), rng.random(), side="right").clip(0, len(keys) - 1))]


IN_RANGE_TRIES = 20  # with in_range: scenes drawn at most, the last one kept whatever its range
IN_RANGE_MAX_NEAR = 0.02  # with in_range: largest share of hand and object pixels nearer than the minimum range


def near_range_share(depth_m: np.ndarray, label: np.ndarray, min_z: float) -> float:
    """Share of the hand and object pixels (labels 1, 2) nearer than `min_z` metres: the sensor returns no depth."""
    fg = (label == 1) | (label == 2)
    count = int(np.count_nonzero(fg))
    if not count:
        return 0.0
    return np.count_nonzero(fg & (depth_m > 0) & (depth_m < min_z)) / count


def _camera_model(rng: np.random.Generator, family: str, sensor: str) -> str:
    if sensor == "auto":
        return _pick(rng, FAMILY_SENSORS[family])
    if sensor == "d400":
        return _pick(rng, {"d415": 0.6, "d435": 0.4})
    return sensor


def _jittered_camera(width: int, height: int, model: str, rng: np.random.Generator) -> Intrinsics:
    """The model's camera with a unit's calibration spread (focal length +-3 %, principal point +-1.5 %)."""
    nominal = camera(width, height, model)
    f = nominal.fx * rng.uniform(0.97, 1.03)
    cx = nominal.cx + rng.uniform(-0.015, 0.015) * width
    cy = nominal.cy + rng.uniform(-0.015, 0.015) * height
    return Intrinsics(width, height, round(f, 3), round(f, 3), round(cx, 3), round(cy, 3), nominal.depth_scale_m)


def render_frame(
    seed: int,
    index: int,
    width: int = 640,
    height: int = 480,
    object_types: Sequence[str] | None = None,
    *,
    scenes: str | Sequence[str] | dict[str, float] | None = None,
    sensor: str = "auto",
    depth_scale_m: float = 0.001,
    stereo_window: bool = False,
    in_range: bool = False,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Frame `index` of the stream seeded by `seed`: depth (uint16 in depth_scale_m units), color, labels, scene.

    `scenes` weights the scene families (`families.parse_weights`: "tabletop,frontal", "tabletop:3,closeup:1";
    default all four); `sensor` is "auto" (per family, like the real setups), "sr300", "d400", "d415" or "d435";
    `depth_scale_m` the depth unit: 0.001 (millimetres) or 0.000125 (SR300/SR305 1/8 mm); `stereo_window` lets
    the D400 matching window round off small relief (`sensor.matching_window`); `in_range` draws the scene again
    (up to IN_RANGE_TRIES times) while more than IN_RANGE_MAX_NEAR of its hand and object pixels lie nearer than
    the camera's minimum range, as a person capturing a dataset keeps the hands where the sensor measures them
    (`near_range_share`). A `timings` dict
    collects the CPU milliseconds of each stage (scene, render, depth_sensor, color), added to what it holds.
    """
    _check_size(width, height)
    types = _check_types(object_types or OBJECT_TYPES)
    try:
        weights = parse_weights(scenes)
    except ValueError as exc:
        raise ConfigError(f"scenes: {exc}") from None
    if sensor not in SENSORS:
        raise ConfigError(f"unknown sensor {sensor!r}; choose from {', '.join(SENSORS)}")
    if depth_scale_m not in DEPTH_SCALES:
        raise ConfigError(f"depth_scale_m must be one of {', '.join(map(str, DEPTH_SCALES))}, got {depth_scale_m!r}")
    lap = _Laps(timings)
    rng = np.random.default_rng([int(seed), int(index)])
    family = _pick(rng, weights)
    model = _camera_model(rng, family, sensor)
    intr = _jittered_camera(width, height, model, rng)
    cam = CAMERAS[model]
    draws = 0
    while True:
        draws += 1
        scene = sample_family_scene(rng, intr, types, family)
        lap("scene")
        render = render_scene(scene.prims(), scene.planes, intr, background=scene.background_prims())
        lap("render")
        if not in_range or draws == IN_RANGE_TRIES:
            break
        if near_range_share(render.depth, render.label, cam["min_z"]) <= IN_RANGE_MAX_NEAR:
            break
    normals = shading_normals(render.depth, intr)
    if in_range:
        scene.info["in_range_draws"] = draws
    if model == "sr300":
        depth, sensor_info = depth_image(render, intr, rng, normals[2])
        flying_pixels(depth, render, rng)
        sensor_info = {"model": "sr300", **sensor_info}
    else:
        dark = dark_mask(render, scene.materials, scene.planes)
        depth, sensor_info = stereo_depth_image(
            render,
            intr,
            rng,
            normals[2],
            baseline=cam["baseline"],
            min_z=cam["min_z"],
            dark=dark,
            window=bool(stereo_window),
        )
    sensor_info["camera_model"] = model
    if depth_scale_m != 0.001:  # the sensors work in millimetres; SR300-style files hold 1/8 mm units
        depth = np.clip(np.rint(depth * (0.001 / depth_scale_m)), 0, 65535).astype(np.uint16)
        intr = dataclasses.replace(intr, depth_scale_m=depth_scale_m)
    lap("depth_sensor")
    color, color_info = color_image(render, scene.materials, scene.planes, rng, normals)
    lap("color")
    info = {
        "seed": int(seed),
        "index": int(index),
        "generator_version": GENERATOR_VERSION,
        "family": family,
        "camera": intr.to_dict(),
        "depth_sensor": sensor_info,
        "color_camera": color_info,
        **scene.info,
    }
    return {
        "depth": depth,
        "color": color,
        "label": render.label,
        "parts": render.parts,
        "visible_parts": render.visible_parts,
        "scene": info,
        "intrinsics": intr,
    }


class _Laps:
    """CPU milliseconds between calls, added into a dict under each call's name (nothing when the dict is None)."""

    def __init__(self, into: dict[str, float] | None) -> None:
        self.into, self.start = into, time.process_time()

    def __call__(self, name: str) -> None:
        if self.into is not None:
            now = time.process_time()
            self.into[name] = self.into.get(name, 0.0) + 1000 * (now - self.start)
            self.start = now


def _check_size(width: int, height: int) -> None:
    if not (isinstance(width, int | np.integer) and isinstance(height, int | np.integer)) or width < 16 or height < 16:
        raise ConfigError(f"image size must be two integers of at least 16, got {width}x{height}")


def _check_types(types: Sequence[str]) -> tuple[str, ...]:
    bad = [t for t in types if t not in ALL_OBJECT_TYPES]
    if bad or not types:
        raise ConfigError(f"unknown object type(s) {bad or '(none)'}; choose from {', '.join(ALL_OBJECT_TYPES)}")
    return tuple(types)


def split_indices(frames: int, seed: int, val_fraction: float) -> set[int]:
    """Indices of the validation frames: a seeded random subset of round(frames * val_fraction)."""
    n_val = round(frames * val_fraction)
    if val_fraction > 0 and frames >= 2:
        n_val = min(max(n_val, 1), frames - 1)
    order = np.random.default_rng([int(seed), 2**31 - 1]).permutation(frames)
    return {int(i) for i in order[:n_val]}


_WORKER: dict[str, Any] = {}


def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory: frames allocate and free the same MB-sized arrays, which it would otherwise
    return to the system and fault back in page by page (about a fifth of the rendering time). No-op elsewhere."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD: arrays up to 64 MB come from the heap...
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD: ...which keeps up to 256 MB of free memory
    except (OSError, AttributeError):
        pass


def _init_worker(
    writer: DatasetWriter, seed: int, size: tuple[int, int], child: bool = False, options: dict | None = None
) -> None:
    _WORKER.update(writer=writer, seed=seed, size=size, options=options or {})
    keep_freed_memory()
    if child:  # one process per core: keep OpenCV from starting threads of its own
        cv2.setNumThreads(1)


def _write_frame(task: tuple[int, str, tuple[str, ...]]) -> tuple[str, str, str]:
    """Render one frame and write its files; returns (id, split, object type)."""
    index, split, types = task
    width, height = _WORKER["size"]
    writer = _WORKER["writer"]
    frame = render_frame(_WORKER["seed"], index, width, height, types, **_WORKER["options"])
    frame = finish_frame(frame, writer.manifest.generator)  # hand-centred crop / visible maps, when asked for
    sample_id = f"{index:06d}"
    scene = {**frame["scene"], "split": split}
    writer.write(
        sample_id, frame["depth"], frame["label"], None, frame["parts"], scene, visible_parts=frame["visible_parts"]
    )
    # the colour image is as noisy as a camera's (OpenCV's encoder, where ISA-L is missing, codes it Huffman-only)
    png = encode_png(frame["color"], writer.compression, noisy=True)
    atomic_write_bytes(writer.root / "color" / f"{sample_id}.png", png, durable=False)
    return sample_id, split, scene["object"]["type"]


_FRAME_ARGS = ("seed", "index", "width", "height", "object_types")


def check_render_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of `options` once render_frame has each as a keyword and it is JSON-able (it goes to the manifest)."""
    options = dict(options or {})
    params = inspect.signature(render_frame).parameters
    any_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key in options:
        if key in _FRAME_ARGS or not (key in params or any_keyword):
            known = [k for k, p in params.items() if k not in _FRAME_ARGS and p.kind is p.POSITIONAL_OR_KEYWORD]
            known += [k for k, p in params.items() if p.kind is p.KEYWORD_ONLY]
            raise ConfigError(
                f"render option {key!r} is not an option of generator version {GENERATOR_VERSION} "
                f"(it has {', '.join(known) or 'none'})"
            )
    try:
        json.dumps(options, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"render options must be JSON values (they are stored in the manifest): {exc}") from None
    return options


def check_shard(shard: tuple[int, int] | None) -> tuple[int, int] | None:
    """(K, N) with 0 <= K < N, or None for an unsharded run."""
    if shard is None:
        return None
    try:
        index, count = (int(v) for v in shard)
    except (TypeError, ValueError):
        raise ConfigError(f"shard must be (K, N), got {shard!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"shard {index}/{count}: need 0 <= K < N")
    return index, count


def _clear_stale(root: Path) -> None:
    """With --force: drop the manifest and frame files an earlier dataset left in `root`."""
    (root / "manifest.json").unlink(missing_ok=True)
    for kind in _STALE:
        folder = root / kind
        if folder.is_dir():
            for path in folder.iterdir():
                if path.is_file() and path.suffix in (".png", ".json", ".txt"):
                    path.unlink()


def generate_dataset(
    out: str | Path,
    frames: int,
    *,
    seed: int = 0,
    size: tuple[int, int] = (640, 480),
    workers: int = 1,
    force: bool = False,
    val_fraction: float = 0.25,
    progress: bool = True,
    val_objects: Sequence[str] | None = None,
    train_objects: Sequence[str] | None = None,
    compression: int = 1,
    crop: str | None = None,
    render_size: tuple[int, int] | None = None,
    crop_margin: float = DEFAULT_MARGIN,
    visible_parts: bool = False,
    render_options: dict[str, Any] | None = None,
    shard: tuple[int, int] | None = None,
) -> Path:
    """Write a synthetic handseg-v1 dataset of `frames` frames with train/val splits; returns its folder.

    With `val_objects`, validation frames show only those object types and training frames never do;
    `train_objects` names the training frames' types (default: every default type not in `val_objects`, and the
    validation frames' too when `val_objects` is not given; `objects.EXTRA_TYPES` appear only where named). With
    crop="hands", frames render at `render_size` (default 640x480) and are cut to `size` around both hands
    (`handseg.data.crop`); crops also store the visible part maps, as does `visible_parts`.
    `render_options` go to render_frame as keywords (and to the manifest). With `shard=(K, N)` only the frames
    whose index % N == K are written, byte for byte as in the full run; the manifest records the shard beside the
    full run's settings, and `handseg.data.synth.shards.merge_shards` joins N such shards into the full dataset.
    """
    if not isinstance(frames, int | np.integer) or isinstance(frames, bool) or frames < 1:
        raise ConfigError(f"frames must be a positive integer, got {frames!r}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    width, height = (int(v) for v in size)
    _check_size(width, height)
    check_crop(crop, crop_margin, "crop")
    if render_size is not None and not crop:
        raise ConfigError("render_size: only with crop (without one, frames render at size)")
    render_w, render_h = (int(v) for v in (render_size or ((640, 480) if crop else (width, height))))
    _check_size(render_w, render_h)
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if int(workers) < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    if train_objects is not None:
        train_types = _check_types(list(train_objects))
        val_types = _check_types(list(val_objects)) if val_objects else train_types
        if val_objects and (shared := [t for t in train_types if t in val_types]):
            raise ConfigError(f"train_objects and val_objects share {', '.join(shared)}: held-out types must be unseen")
    else:
        val_types = _check_types(list(val_objects)) if val_objects else OBJECT_TYPES
        train_types = tuple(t for t in OBJECT_TYPES if t not in val_types) if val_objects else OBJECT_TYPES
        if not train_types:
            raise ConfigError("val_objects holds every object type: nothing is left for training")
    options = check_render_options(render_options)
    shard = check_shard(shard)
    val_set = split_indices(int(frames), int(seed), float(val_fraction))
    nominal = options.get("sensor") if options.get("sensor") in CAMERAS else "sr300"
    intr = dataclasses.replace(camera(width, height, nominal), depth_scale_m=options.get("depth_scale_m", 0.001))
    settings = {
        "name": "handseg.synth",
        "version": GENERATOR_VERSION,
        "seed": int(seed),
        "frames": int(frames),
        "size": [width, height],
        "val_fraction": float(val_fraction),
        "train_objects": list(train_types),
        "val_objects": list(val_types),
        "render_options": options,
        "png": png_encoder(compression),  # the files' bytes (not their pixels) depend on the encoder
    }
    if crop:
        settings["render_size"] = [render_w, render_h]
        settings["crop"] = {"mode": crop, "size": [width, height], "margin": float(crop_margin)}
    if crop or visible_parts:
        settings["visible_parts"] = True
    indices = range(int(frames)) if shard is None else range(shard[0], int(frames), shard[1])
    if options and len(indices):  # let render_frame refuse bad option values before the folder is made
        first = indices[0]
        render_frame(int(seed), first, render_w, render_h, val_types if first in val_set else train_types, **options)
    out = Path(out)
    extra = {} if shard is None else {"shard": {"index": shard[0], "count": shard[1], "frames": len(indices)}}
    existed = out.is_dir() and any(out.iterdir())
    writer = DatasetWriter(
        out, Manifest(name=out.name, sensor=intr, generator=settings, extra=extra), force=force, compression=compression
    )
    if existed:
        _clear_stale(out)
        writer = DatasetWriter(out, writer.manifest, force=True, compression=compression)
    tasks = [(i, "val" if i in val_set else "train", val_types if i in val_set else train_types) for i in indices]
    splits: dict[str, list[str]] = {"train": [], "val": []}
    results = _run(tasks, writer, int(seed), (render_w, render_h), int(workers), progress, options)
    for sample_id, split, _ in results:
        splits[split].append(sample_id)
    writer.finish({k: sorted(v) for k, v in splits.items()})
    return out


def _run(tasks, writer, seed, size, workers, progress, options=None) -> list[tuple[str, str, str]]:
    bar = tqdm(total=len(tasks), desc="synth", unit="frame", disable=not progress)
    results = []
    try:
        if workers == 1:  # one core, like each worker process: OpenCV single-threaded while we run
            _init_worker(writer, seed, size, options=options)
            threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
            try:
                for task in tasks:
                    results.append(_write_frame(task))
                    bar.update()
            finally:
                cv2.setNumThreads(threads)
        else:
            ctx = mp.get_context("spawn")
            with ctx.Pool(workers, initializer=_init_worker, initargs=(writer, seed, size, True, options)) as pool:
                for result in pool.imap(_write_frame, tasks, chunksize=4):
                    results.append(result)
                    bar.update()
    finally:
        bar.close()
    return results
