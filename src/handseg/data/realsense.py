"""RealSense recordings (.bag / .db3) and live cameras via pyrealsense2, plus a writer of .db3 recordings.

Every source yields Frames (data.format.Frame: id, depth_m float32 HxW in metres (0 = missing), color uint8 HxWx3
RGB aligned to the depth pixel grid or None, Intrinsics of the depth stream). Color is aligned to depth with the
SDK's rs.align.

Playback reads the file with `set_real_time(False)`: the player then waits for our frame callback, so no frame is
dropped however slow the consumer is. We pair each depth frame with the color frame nearest in time ourselves and
hand the pair to rs.align as one frameset. Measured with pyrealsense2 2.59 on these machines: the pipeline/syncer
route in non-real-time mode mis-pairs frames or stalls after two framesets, a C++ frame_queue as the sensor
callback hangs now and then, and pause()/resume() around the sensor starts stalls resume() for 10 s at times.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from handseg.data.format import Frame, Intrinsics
from handseg.errors import DataError, HandsegError, OutputExistsError

RECORDING_SUFFIXES = (".bag", ".db3")
_STALL_TIMEOUT_S = 30.0


def _rs() -> Any:
    """Import pyrealsense2 with a clear error when it (or libusb) is missing."""
    try:
        import pyrealsense2 as rs
    except ImportError as exc:
        fix = "apt-get install libusb-1.0-0" if "libusb" in str(exc) else "pip install pyrealsense2"
        raise HandsegError(f"pyrealsense2 cannot be imported ({exc}); {fix}") from None
    return rs


def _clean_scale(scale: float) -> float:
    """The depth unit as the shortest decimal of its float32 (0.0010000000474974513 -> 0.001)."""
    return float(repr(np.float32(scale)).removeprefix("np.float32(").removesuffix(")"))


def _intrinsics(profile: Any, depth_scale: float) -> Intrinsics:
    """handseg Intrinsics of a pyrealsense2 video stream profile."""
    intr = profile.as_video_stream_profile().get_intrinsics()
    return Intrinsics(intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy, float(depth_scale))


def _frame_arrays(frameset: Any, depth_scale: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Depth in metres and RGB color (or None) from an aligned frameset."""
    rs = _rs()
    depth = np.asanyarray(frameset.get_depth_frame().get_data()).astype(np.float32) * np.float32(depth_scale)
    color_frame = frameset.get_color_frame()
    color = None
    if color_frame:
        color = np.asanyarray(color_frame.get_data())
        fmt = color_frame.get_profile().format()
        if fmt == rs.format.bgr8:
            color = color[..., ::-1]
        elif fmt in (rs.format.rgba8, rs.format.bgra8):
            color = color[..., [2, 1, 0]] if fmt == rs.format.bgra8 else color[..., :3]
        elif fmt == rs.format.yuyv:
            h, w = color_frame.get_height(), color_frame.get_width()
            color = cv2.cvtColor(np.ascontiguousarray(color).view(np.uint8).reshape(h, w, 2), cv2.COLOR_YUV2RGB_YUYV)
        elif fmt != rs.format.rgb8:
            raise HandsegError(f"color format {fmt} is not supported (rgb8, bgr8, rgba8, bgra8, yuyv)")
        color = np.ascontiguousarray(color, dtype=np.uint8)
    return depth, color


class _Pairer:
    """Pairs each depth frame with the color frame nearest in time, through rs.align (or alone without color)."""

    def __init__(self, align_to: str | None) -> None:
        rs = _rs()
        self.rs = rs
        self.colors: deque[Any] = deque(maxlen=4)
        self.align = None
        if align_to == "depth":
            self.align = rs.align(rs.stream.depth)
        elif align_to == "color":
            self.align = rs.align(rs.stream.color)
        elif align_to is not None:
            raise HandsegError(f"align_to must be 'depth', 'color' or None, not {align_to!r}")
        self._color: list[Any] = []
        self.block = rs.processing_block(self._combine)
        self.out = rs.frame_queue(2, keep_frames=True)
        self.block.start(self.out)

    def _combine(self, frame: Any, source: Any) -> None:
        source.frame_ready(source.allocate_composite_frame([frame, *self._color]))

    def frameset(self, depth: Any) -> Any:
        """A frameset of `depth` and its nearest color frame, aligned as asked."""
        ts = depth.get_timestamp()
        nearest = min(self.colors, key=lambda c: abs(c.get_timestamp() - ts), default=None)
        self._color = [] if nearest is None else [nearest]
        self.block.invoke(depth)
        frameset = self.out.wait_for_frame(5000).as_frameset()
        if nearest is not None and self.align is not None:
            frameset = self.align.process(frameset)
        return frameset


def iter_recording(path: str | Path, align_to: str | None = "depth", *, color: bool = True) -> Iterator[Frame]:
    """Frames of a RealSense .bag/.db3 recording, every frame once, in recorded order (color=False: depth only)."""
    rs = _rs()
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "recording not found")
    if path.suffix.lower() not in RECORDING_SUFFIXES:
        raise DataError(path, "not a RealSense recording (expected .bag or .db3)")
    try:
        device = rs.context().load_device(str(path))
    except RuntimeError as exc:
        raise DataError(path, f"pyrealsense2 cannot open the recording ({exc})") from None
    playback = device.as_playback()
    playback.set_real_time(False)
    sensors = device.query_sensors()
    depth_sensors = [s for s in sensors if s.is_depth_sensor()]
    if not depth_sensors:
        raise DataError(path, "the recording has no depth stream")
    depth_scale = _clean_scale(depth_sensors[0].as_depth_sensor().get_depth_scale())

    frames: queue.Queue[Any] = queue.Queue(maxsize=8)  # a full queue holds the player back: no frame is dropped
    stopping = threading.Event()
    all_started = threading.Event()

    def on_frame(frame: Any) -> None:
        frame.keep()
        all_started.wait(_STALL_TIMEOUT_S)
        while not stopping.is_set():
            try:
                frames.put(frame, timeout=0.1)
                return
            except queue.Full:
                continue

    started = []
    try:
        for sensor in sensors:
            profiles = [
                p
                for p in sensor.get_stream_profiles()
                if p.is_video_stream_profile()
                and (p.stream_type() == rs.stream.depth or (color and p.stream_type() == rs.stream.color))
            ]
            if profiles:
                sensor.open(profiles)
                started.append(sensor)
        # A non-real-time player waits for each callback to return before it reads on, so the first callback waits
        # until every sensor has started: no stream loses its first frames. (pause()/resume() around the starts
        # instead stalls resume() for 10 s now and then: it waits for callbacks that need the GIL it holds.)
        for sensor in started:
            sensor.start(on_frame)
        all_started.set()
        yield from _paired_frames(path, frames, playback, depth_scale, align_to)
    finally:
        all_started.set()
        stopping.set()  # unblock a callback waiting on a full queue when the consumer stops early
        while not frames.empty():
            frames.get_nowait()
        for sensor in started:
            try:
                sensor.stop()
                sensor.close()
            except RuntimeError:
                pass


def _paired_frames(path: Path, frames: Any, playback: Any, depth_scale: float, align_to: str | None):
    """Consume the player's frames, emitting each depth frame once the next one (or the end) shows up."""
    rs = _rs()
    pairer = _Pairer(align_to)
    pending = None
    seen: set[str] = set()
    count = 0
    last_activity = time.monotonic()
    while True:
        try:
            frame = frames.get(timeout=0.1)
        except queue.Empty:
            if playback.current_status() == rs.playback_status.stopped and frames.empty():
                break
            if time.monotonic() - last_activity > _STALL_TIMEOUT_S:
                raise DataError(path, f"playback stalled (no frame for {_STALL_TIMEOUT_S:.0f} s)") from None
            continue
        last_activity = time.monotonic()
        stream = frame.get_profile().stream_type()
        if stream == rs.stream.color:
            pairer.colors.append(frame)
            continue
        if stream != rs.stream.depth:
            continue
        if pending is not None:
            yield _emit(pairer, pending, depth_scale, seen, count)
            count += 1
        pending = frame
    if pending is not None:
        yield _emit(pairer, pending, depth_scale, seen, count)
        count += 1
    if count == 0:
        raise DataError(path, "the recording holds no depth frame")


def _emit(pairer: _Pairer, depth_frame: Any, depth_scale: float, seen: set[str], index: int) -> Frame:
    """One output tuple for a depth frame; ids are frame numbers, made unique by the running index if repeated."""
    frameset = pairer.frameset(depth_frame)
    depth, color = _frame_arrays(frameset, depth_scale)
    profile = frameset.get_depth_frame().get_profile()
    frame_id = f"{depth_frame.get_frame_number():06d}"
    if frame_id in seen:
        frame_id = f"{frame_id}_{index:06d}"
    seen.add(frame_id)
    return Frame(frame_id, depth, color, _intrinsics(profile, depth_scale))


def list_cameras() -> list[str]:
    """Serial numbers of the connected RealSense cameras."""
    rs = _rs()
    return [d.get_info(rs.camera_info.serial_number) for d in rs.context().query_devices()]


def iter_camera(
    serial: str | None = None,
    size: tuple[int, int] = (640, 480),
    fps: int = 30,
    color: bool = True,
    align_to: str | None = "depth",
    max_frames: int | None = None,
) -> Iterator[Frame]:
    """Frames of a live RealSense camera (the first one, or the one with `serial`), aligned to depth."""
    rs = _rs()
    serials = list_cameras()
    if not serials:
        raise HandsegError("no RealSense camera is connected (check the USB 3 cable and `rs-enumerate-devices`)")
    if serial is not None and serial not in serials:
        raise HandsegError(f"no RealSense camera with serial {serial}; connected: {', '.join(serials)}")
    pipeline = rs.pipeline()
    config = rs.config()
    if serial is not None:
        config.enable_device(serial)
    width, height = size
    config.enable_stream(rs.stream.depth, width, height, rs.format.z16, fps)
    if color:
        config.enable_stream(rs.stream.color, width, height, rs.format.rgb8, fps)
    try:
        profile = pipeline.start(config)
    except RuntimeError as exc:
        raise HandsegError(f"cannot start the RealSense camera at {width}x{height} {fps} fps ({exc})") from None
    try:
        depth_scale = _clean_scale(profile.get_device().first_depth_sensor().get_depth_scale())
        align = rs.align(rs.stream.depth if align_to == "depth" else rs.stream.color) if color and align_to else None
        index = 0
        while max_frames is None or index < max_frames:
            frameset = pipeline.wait_for_frames(5000)
            if align is not None:
                frameset = align.process(frameset)
            depth, rgb = _frame_arrays(frameset, depth_scale)
            intr = _intrinsics(frameset.get_depth_frame().get_profile(), depth_scale)
            yield Frame(f"{index:06d}", depth, rgb, intr)
            index += 1
    finally:
        pipeline.stop()


def _video_stream(rs: Any, kind: Any, uid: int, intr: Intrinsics, fmt: Any, bpp: int, fps: int) -> Any:
    """A software-device video stream description."""
    ri = rs.intrinsics()
    ri.width, ri.height, ri.fx, ri.fy, ri.ppx, ri.ppy = intr.width, intr.height, intr.fx, intr.fy, intr.cx, intr.cy
    ri.model = rs.distortion.none
    ri.coeffs = [0.0] * 5
    stream = rs.video_stream()
    stream.type, stream.index, stream.uid = kind, 0, uid
    stream.width, stream.height, stream.fps, stream.bpp, stream.fmt = intr.width, intr.height, fps, bpp, fmt
    stream.intrinsics = ri
    return stream


def _software_frame(rs: Any, pixels: np.ndarray, profile: Any, index: int, fps: int) -> Any:
    """A software_video_frame holding `pixels` (kept alive by the caller)."""
    frame = rs.software_video_frame()
    frame.pixels = pixels
    frame.bpp = pixels.itemsize * (pixels.shape[2] if pixels.ndim == 3 else 1)
    frame.stride = pixels.shape[1] * frame.bpp
    frame.timestamp = index * 1000.0 / fps
    frame.domain = rs.timestamp_domain.hardware_clock
    frame.frame_number = index
    frame.profile = profile.as_video_stream_profile()
    return frame


def _depth_units(depth: np.ndarray, depth_units: float, index: int) -> np.ndarray:
    """uint16 depth in `depth_units` from float metres (or uint16 already in those units)."""
    depth = np.asarray(depth)
    if depth.dtype == np.uint16:
        return np.ascontiguousarray(depth)
    if not np.issubdtype(depth.dtype, np.floating):
        raise HandsegError(f"frame {index}: depth must be float metres or uint16 units, not {depth.dtype}")
    units = np.round(np.nan_to_num(depth, nan=0.0) / depth_units)
    if units.max(initial=0) > 65535 or units.min(initial=0) < 0:
        raise HandsegError(f"frame {index}: depth outside 0..{65535 * depth_units:.2f} m for units {depth_units}")
    return np.ascontiguousarray(units.astype(np.uint16))


def write_recording(
    path: str | Path,
    frames: Iterable[tuple[np.ndarray, np.ndarray | None]],
    intrinsics: Intrinsics,
    depth_units: float = 0.001,
    fps: int = 30,
    force: bool = False,
) -> Path:
    """Record (depth, color or None) frames to a ROS2 .db3 file with a pyrealsense2 software device.

    Depth is float metres (or uint16 in `depth_units`); color, if the first frame has it, uint8 RGB of the same
    size, recorded as an rgb8 stream already aligned to depth (identity extrinsics, same intrinsics).
    """
    rs = _rs()
    path = Path(path)
    if path.suffix.lower() != ".db3":
        raise HandsegError(f"{path}: pyrealsense2's recorder writes ROS2 .db3 files only; use a .db3 name")
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: exists; pass --force to overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    iterator = iter(frames)
    try:
        first = next(iterator)
    except StopIteration:
        raise HandsegError(f"{path}: no frames to record") from None
    with_color = first[1] is not None
    w, h = intrinsics.width, intrinsics.height

    device = rs.software_device()
    depth_sensor = device.add_sensor("Depth")
    depth_profile = depth_sensor.add_video_stream(
        _video_stream(rs, rs.stream.depth, 0, intrinsics, rs.format.z16, 2, fps)
    )
    depth_sensor.add_read_only_option(rs.option.depth_units, float(depth_units))
    sensors = [depth_sensor]
    color_sensor = color_profile = None
    if with_color:
        color_sensor = device.add_sensor("Color")
        color_profile = color_sensor.add_video_stream(
            _video_stream(rs, rs.stream.color, 1, intrinsics, rs.format.rgb8, 3, fps)
        )
        extrinsics = rs.extrinsics()
        extrinsics.rotation = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        extrinsics.translation = [0.0, 0.0, 0.0]
        color_profile.register_extrinsics_to(depth_profile, extrinsics)
        depth_profile.register_extrinsics_to(color_profile, extrinsics)
        sensors.append(color_sensor)
    device.create_matcher(rs.matchers.default)

    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".db3", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # the recorder creates the file itself
    recorder = rs.recorder(tmp, device)
    try:
        depth_sensor.open(depth_profile)
        depth_sensor.start(lambda frame: None)
        if color_sensor is not None:
            color_sensor.open(color_profile)
            color_sensor.start(lambda frame: None)
        for index, (depth, color) in enumerate(_chain(first, iterator)):
            units = _depth_units(depth, depth_units, index)
            if units.shape != (h, w):
                raise HandsegError(f"frame {index}: depth is {units.shape[1]}x{units.shape[0]}, intrinsics say {w}x{h}")
            depth_sensor.on_video_frame(_software_frame(rs, units, depth_profile, index, fps))
            if color_sensor is not None:
                if color is None or color.shape != (h, w, 3) or color.dtype != np.uint8:
                    raise HandsegError(f"frame {index}: color must be uint8 {h}x{w}x3 like the first frame")
                rgb = np.ascontiguousarray(color)
                color_sensor.on_video_frame(_software_frame(rs, rgb, color_profile, index, fps))
        for sensor in sensors:
            sensor.stop()
            sensor.close()
        del recorder  # closing the recorder flushes the file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    """`first` followed by the rest of an iterator."""
    yield first
    yield from rest
