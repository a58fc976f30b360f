"""Frame-by-frame segmentation of a camera, a RealSense recording or a folder of depth frames.

source -> resize to the working size -> make_input -> model (PyTorch or ONNX Runtime) -> optional EMA of the logits
-> argmax -> label PNGs and/or an overlay mp4. Frames per second are measured end to end (reading included).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from handseg.data.sources import DepthFolderSource, Frame
from handseg.errors import ConfigError, DataError, HandsegError
from handseg.export.predictor import Predictor, frame_input
from handseg.tasks import get_task
from handseg.utils.io import _file_mode
from handseg.viz.overlay import depth_gray


def iter_folder(folder: str | Path, depth_scale_m: float | None = None, with_color: bool = True) -> Iterator[Frame]:
    """Frames of a folder of uint16 depth PNGs, or of a handseg-v1 dataset folder (depth/ + optional color/)."""
    return iter(DepthFolderSource(folder, depth_scale_m, with_color))


def resize_frame(
    depth: np.ndarray, color: np.ndarray | None, size: tuple[int, int] | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Resize depth (nearest: no mixing with missing pixels) and color (area) to (width, height)."""
    if size is None or (depth.shape[1], depth.shape[0]) == size:
        return depth, color

    depth = cv2.resize(depth, size, interpolation=cv2.INTER_NEAREST)
    if color is not None:
        color = cv2.resize(color, size, interpolation=cv2.INTER_AREA)
    return depth, color


class LogitSmoother:
    """Exponential moving average of the logits: s_t = factor * s_{t-1} + (1 - factor) * z_t (0 = off)."""

    def __init__(self, factor: float = 0.0) -> None:
        if not 0.0 <= factor < 1.0:
            raise ConfigError(f"smoothing factor must be in [0, 1), got {factor}")
        self.factor = factor
        self.state: np.ndarray | None = None

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        if self.factor == 0.0:
            return logits
        if self.state is None or self.state.shape != logits.shape:
            self.state = logits.copy()
        else:
            self.state = self.factor * self.state + (1.0 - self.factor) * logits
        return self.state


class OverlayVideo:
    """An mp4 (mp4v) of label overlays, written to a temp file and renamed into place on close."""

    def __init__(self, path: str | Path, fps: float = 30.0) -> None:
        self.path = Path(path)
        self.fps = fps
        self.writer: Any = None
        self.size: tuple[int, int] = (0, 0)  # (width, height) of the video, set by the first frame
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".mp4", dir=self.path.parent)
        os.fchmod(fd, _file_mode(self.path))  # mkstemp makes 0600 files; a video gets the usual permissions
        os.close(fd)
        self.tmp = tmp
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        if self.writer is None:
            h, w = rgb.shape[:2]
            self.size = (w, h)
            self.writer = cv2.VideoWriter(self.tmp, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self.writer.isOpened():
                raise HandsegError(f"{self.path}: OpenCV cannot open an mp4v video writer")
        if rgb.shape[1::-1] != self.size:  # OpenCV drops frames of another size silently: fit them to the video
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        self.writer.write(np.ascontiguousarray(rgb[..., ::-1]))
        self.frames += 1

    def close(self, keep: bool = True) -> None:
        if self.writer is not None:
            self.writer.release()
        if keep and self.frames:
            os.replace(self.tmp, self.path)
        elif os.path.exists(self.tmp):
            os.unlink(self.tmp)


def overlay_frame(depth: np.ndarray, color: np.ndarray | None, labels: np.ndarray, task: str, text: str) -> np.ndarray:
    """RGB picture of one frame's labels over its color image (or its colourised depth)."""
    base = color if color is not None else depth_gray(depth)
    return get_task(task).overlay(base, labels, text)


@dataclass
class StreamStats:
    """Counts and timings of one stream run (seconds; fps and ms per frame over the frames after the first)."""

    frames: int = 0
    seconds: float = 0.0
    stage_s: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "model": 0.0, "write": 0.0})
    first_stage_s: dict[str, float] = field(default_factory=dict)  # the first (warm-up) frame's stage times
    first_frame_s: float = 0.0
    cpu_s: float = 0.0  # process CPU time (all threads) over the frames after the first

    @property
    def fps(self) -> float:
        """End-to-end frames per second, the first (warm-up) frame excluded."""
        steady = self.seconds - self.first_frame_s
        return (self.frames - 1) / steady if self.frames > 1 and steady > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        # The same frames as fps (all but the first), so the stages add up to 1000 / fps.
        steady = self.frames - 1 if self.frames > 1 else self.frames
        first = self.first_stage_s if self.frames > 1 else {}
        per_frame = {k: (v - first.get(k, 0.0)) / max(steady, 1) * 1000 for k, v in self.stage_s.items()}
        return {
            "frames": self.frames,
            "seconds": self.seconds,
            "fps": self.fps,
            "first_frame_s": self.first_frame_s,
            "cpu_ms_per_frame": self.cpu_s / (self.frames - 1) * 1000 if self.frames > 1 else None,
            "ms_per_frame": per_frame,
        }


def run_stream(
    frames: Iterable[Frame],
    predictor: Predictor,
    size: tuple[int, int] | None = None,
    smooth: float = 0.0,
    labels_dir: str | Path | None = None,
    video: OverlayVideo | None = None,
    max_frames: int | None = None,
    progress: bool = True,
) -> StreamStats:
    """Segment every frame of a source; write label PNGs into `labels_dir` and overlays into `video` when given."""
    frames = iter(frames)  # a Source or an iterator: closing the iterator stops a recording's player or a camera

    smoother = LogitSmoother(smooth)
    stats = StreamStats()
    labels_dir = Path(labels_dir) if labels_dir is not None else None
    bar = tqdm(total=max_frames, unit="frame", disable=not progress, desc="stream")
    start = last = time.perf_counter()
    cpu_start = time.process_time()
    for frame_id, depth, color, _ in frames:
        depth, color = resize_frame(depth, color, size)
        x = frame_input(predictor, depth, color)
        t_input = time.perf_counter()
        logits = smoother(predictor.logits(x))
        labels = get_task(predictor.task).labels(logits)[0]
        t_model = time.perf_counter()
        if labels_dir is not None:
            get_task(predictor.task).write_labels(labels_dir, frame_id, labels)
        if video is not None:
            text = f"{frame_id}  {stats.fps:.1f} fps" if stats.fps else frame_id
            video.write(overlay_frame(depth, color, labels, predictor.task, text))
        now = time.perf_counter()
        stats.stage_s["read"] += t_input - last  # fetching the frame, resizing, normalising
        stats.stage_s["model"] += t_model - t_input  # model, smoothing, argmax
        stats.stage_s["write"] += now - t_model
        last = now
        stats.frames += 1
        if stats.frames == 1:
            stats.first_frame_s = now - start
            stats.first_stage_s = dict(stats.stage_s)
            cpu_start = time.process_time()
        else:
            stats.cpu_s = time.process_time() - cpu_start
        stats.seconds = now - start
        bar.update(1)
        if stats.frames > 1 and stats.frames % 10 == 0:
            bar.set_postfix(fps=f"{stats.fps:.1f}")
        if max_frames is not None and stats.frames >= max_frames:
            break
    bar.close()
    close = getattr(frames, "close", None)
    if close is not None:
        close()  # stops a recording's player or a camera pipeline now, not at garbage collection
    if stats.frames == 0:
        raise DataError(None, "the source produced no frames")
    return stats
