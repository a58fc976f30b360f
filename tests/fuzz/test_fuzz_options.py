"""Every numeric option of every command over generated bad values: a one-line usage error naming the option."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# (argv before the option, option, kind, lowest allowed, highest allowed)
INT, POS_FLOAT, NONNEG_FLOAT, FRACTION = "int", "pos_float", "nonneg_float", "fraction"
OPTIONS = [
    (["predict", "m.ckpt", "a.png", "--out", "o"], "--batch-size", INT, 1, None),
    (["predict", "m.ckpt", "a.png", "--out", "o"], "--depth-scale", POS_FLOAT, None, None),
    (["eval", "m.ckpt", "data"], "--batch-size", INT, 1, None),
    (["eval", "m.ckpt", "data"], "--workers", INT, 0, None),
    (["eval", "m.ckpt", "data"], "--worst", INT, 0, None),
    (["convert", "src", "dst"], "--depth-scale", POS_FLOAT, None, None),
    (["convert", "src", "dst"], "--size", INT, 8, 4096),
    (["convert", "src", "dst"], "--limit", INT, 0, None),
    (["bench"], "--threads", INT, 1, None),
    (["bench"], "--repeats", INT, 1, None),
    (["review", "data"], "--port", INT, 0, 65535),
    (["review", "data", "--finalize"], "--val-fraction", FRACTION, None, None),
    (["review", "data", "--finalize"], "--seed", INT, 0, None),
    (["export", "m.ckpt", "--onnx", "m.onnx"], "--atol", NONNEG_FLOAT, None, None),
    (["export", "m.ckpt", "--onnx", "m.onnx"], "--opset", INT, 17, None),
    (["stream", "frames", "--ckpt", "m.ckpt"], "--smooth", FRACTION, None, None),
    (["stream", "frames", "--ckpt", "m.ckpt"], "--fps", POS_FLOAT, None, None),
    (["stream", "frames", "--ckpt", "m.ckpt"], "--threads", INT, 1, None),
    (["stream", "frames", "--ckpt", "m.ckpt"], "--max-frames", INT, 1, None),
    (["stream", "frames", "--ckpt", "m.ckpt"], "--depth-scale", POS_FLOAT, None, None),
    (["annotate", "in", "out"], "--workers", INT, 1, None),
    (["annotate", "in", "out"], "--depth-scale", POS_FLOAT, None, None),
    (["annotate", "--calibrate", "data", "--out", "x.yaml"], "--frames", INT, 1, None),
    (["train", "c.yaml"], "--devices", INT, 1, 1024),
    (["train", "c.yaml"], "--num-nodes", INT, 1, 4096),
    (["experiment", "table2"], "--steps", INT, 2, None),
    (["experiment", "table2"], "--finetune-steps", INT, 1, None),
    (["experiment", "table2"], "--frames", INT, 8, None),
    (["experiment", "table2"], "--workers", INT, 1, None),
    (["demo"], "--frames", INT, 1, None),
    (["demo"], "--steps", INT, 1, None),
    (["demo"], "--finetune-steps", INT, 1, None),
    (["models"], "--in-channels", INT, 1, 64),
    (["show", "data"], "--frames", INT, 1, None),
    (["show", "data"], "--per-row", INT, 1, None),
    (["show", "data"], "--tile-width", INT, 1, None),
    (["synth", "out", "--frames", "2"], "--seed", INT, 0, None),
    (["synth", "out", "--frames", "2"], "--workers", INT, 1, None),
]
WORDS = st.sampled_from(["", "abc", "nan", "inf", "-inf", "1e999", "0x10", "1,5", "--", "None", "[1]", "½"])


def bad_values(kind: str, lo: float | None, hi: float | None) -> st.SearchStrategy[str]:
    """Strings the option must refuse."""
    options = [WORDS]
    if kind == INT:
        if lo is not None:
            options.append(st.integers(max_value=int(lo) - 1).map(str))
        if hi is not None:
            options.append(st.integers(min_value=int(hi) + 1).map(str))
        options.append(st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: v != int(v)).map(repr))
    elif kind == POS_FLOAT:
        options.append(st.floats(max_value=0.0).map(repr))
    elif kind == NONNEG_FLOAT:
        options.append(st.floats(max_value=-1e-9).map(repr) | st.just("nan"))
    elif kind == FRACTION:
        options.append(st.floats(min_value=1.0).map(repr) | st.floats(max_value=-1e-9).map(repr))
    return st.one_of(*options).filter(lambda s: not s.startswith("-") or s[1:2].isdigit() or s[1:3] == "in")


@pytest.mark.parametrize("argv, option, kind, lo, hi", OPTIONS, ids=[f"{a[0]} {o}" for a, o, *_ in OPTIONS])
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_numeric_option_refuses_bad_values(fuzz, argv, option, kind, lo, hi, data) -> None:
    value = data.draw(bad_values(kind, lo, hi), label="value")
    with tempfile.TemporaryDirectory() as tmp:
        fuzz.run([*argv, f"{option}={value}"], Path(tmp), [option])


@pytest.mark.parametrize("command", [["predict", "m.ckpt", "a.png", "--out", "o"], ["eval", "m.ckpt", "data"]])
@pytest.mark.parametrize("device", ["bogus", "cuda:x", "gpu", "", "cuda:99"])
def test_device_option(fuzz, tmp_path, command, device) -> None:
    fuzz.run([*command, "--device", device], tmp_path, ["--device"])


def test_cuda_without_cuda(fuzz, tmp_path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    fuzz.run(["eval", "m.ckpt", "data", "--device", "cuda"], tmp_path, ["--device"])


@pytest.mark.parametrize(
    "argv, name",
    [
        (["bogus"], "COMMAND"),
        (["predict"], "required"),
        (["predict", "m.ckpt", "a.png", "--out", "o", "--backend", "tensorrt"], "--backend"),
        (["convert", "a", "b", "--format", "coco"], "--format"),
        (["train", "c.yaml", "--precision", "8"], "--precision"),
        (["stream", "x"], "--ckpt"),
        (["synth", "o", "--frames", "2", "--size", "5x5"], "--size"),
    ],
)
def test_usage_errors(fuzz, tmp_path, argv, name) -> None:
    fuzz.run(argv, tmp_path, [name])
