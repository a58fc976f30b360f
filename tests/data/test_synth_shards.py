"""Sharded synthetic runs: shards hold their share of frames, and merged they are byte-identical to the full run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from handseg.cli import main
from handseg.data.format import HandsegDataset, read_split
from handseg.data.synth import generate_dataset
from handseg.data.synth.shards import merge_shards, parse_shard
from handseg.errors import ConfigError, DataError

SIZE = (48, 32)
FRAMES = 7


def files(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The full run and its two shards (the second with two workers)."""
    base = tmp_path_factory.mktemp("shards")
    full = generate_dataset(base / "single" / "ds", FRAMES, seed=3, size=SIZE, progress=False)
    shards = [
        generate_dataset(base / f"s{k}", FRAMES, seed=3, size=SIZE, progress=False, shard=(k, 2), workers=k + 1)
        for k in range(2)
    ]
    return {"full": full, "s0": shards[0], "s1": shards[1], "base": base}


def test_shards_hold_their_share_with_the_full_runs_bytes(run: dict[str, Path]) -> None:
    full = files(run["full"])
    for k in range(2):
        shard = run[f"s{k}"]
        ids = sorted(read_split(shard, "train") + read_split(shard, "val"))
        assert ids == [f"{i:06d}" for i in range(k, FRAMES, 2)]
        manifest = json.loads((shard / "manifest.json").read_text())
        assert manifest["shard"] == {"index": k, "count": 2, "frames": len(ids)}
        assert manifest["generator"] == json.loads((run["full"] / "manifest.json").read_text())["generator"]
        for rel, data in files(shard).items():
            if not rel.startswith(("splits", "manifest")):
                assert full[rel] == data, rel
        assert len(HandsegDataset(shard, split=None)) == len(ids)  # a shard is a readable dataset


def test_merged_shards_are_byte_identical_to_the_single_run(run: dict[str, Path]) -> None:
    merged = merge_shards(run["base"] / "merged" / "ds", [run["s1"], run["s0"]], progress=False)
    assert files(merged) == files(run["full"])


def test_merge_via_cli_and_force(run: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = run["base"] / "cli" / "ds"
    assert main(["synth", "--merge", str(out), str(run["s0"]), str(run["s1"]), "--quiet"]) == 0
    assert files(out) == files(run["full"])
    assert main(["synth", "--merge", str(out), str(run["s0"]), str(run["s1"]), "--quiet"]) == 1
    assert "--force" in capsys.readouterr().err
    (out / "depth" / "999999.png").write_bytes(b"stale")
    assert main(["synth", "--merge", str(out), str(run["s0"]), str(run["s1"]), "--quiet", "--force"]) == 0
    assert files(out) == files(run["full"]), "--force removes the frames of the dataset it replaces"


def test_missing_or_duplicate_shard_is_refused(run: dict[str, Path]) -> None:
    out = run["base"] / "bad"
    with pytest.raises(ConfigError, match=r"shard\(s\) 1/2 missing"):
        merge_shards(out, [run["s0"]], progress=False)
    copy = run["base"] / "s0copy"
    shutil.copytree(run["s0"], copy)
    with pytest.raises(ConfigError, match=r"shard 0/2 given twice.*duplicate"):
        merge_shards(out, [run["s0"], copy, run["s1"]], progress=False)
    with pytest.raises(DataError, match="not a shard"):
        merge_shards(out, [run["full"]], progress=False)
    assert not out.exists(), "nothing is written when the shards are refused"
    with pytest.raises(ConfigError, match="neither a shard folder nor a folder holding one"):
        merge_shards(run["s0"], [run["s0"], run["s1"]], progress=False, force=True)
    with pytest.raises(ConfigError, match="neither a shard folder"):
        merge_shards(run["base"], [run["s0"], run["s1"]], progress=False, force=True)


def test_shards_of_different_runs_or_incomplete_are_refused(run: dict[str, Path], tmp_path: Path) -> None:
    other = generate_dataset(tmp_path / "seed4", FRAMES, seed=4, size=SIZE, progress=False, shard=(1, 2))
    with pytest.raises(ConfigError, match=r"not from the same run.*generator\.seed is 4, not 3"):
        merge_shards(tmp_path / "out", [run["s0"], other], progress=False)
    three = generate_dataset(tmp_path / "of3", FRAMES, seed=3, size=SIZE, progress=False, shard=(1, 3))
    with pytest.raises(ConfigError, match="shard count is 3, not 2"):
        merge_shards(tmp_path / "out", [run["s0"], three], progress=False)
    broken = tmp_path / "broken"
    shutil.copytree(run["s1"], broken)
    (broken / "parts" / "000003_r.png").unlink()
    with pytest.raises(DataError, match=r"000003_r\.png: missing"):
        merge_shards(tmp_path / "out", [run["s0"], broken], progress=False)
    assert not (tmp_path / "out").exists()


def test_shard_arguments() -> None:
    assert parse_shard("3/8") == (3, 8)
    for text in ("8/8", "1", "-1/2", "a/b", "0/0"):
        with pytest.raises(ConfigError, match="bad shard"):
            parse_shard(text)
    with pytest.raises(ConfigError, match="shard"):
        generate_dataset("/nonexistent/never", 2, shard=(2, 2), progress=False)


def test_cli_shard_then_merge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--frames", "3", "--size", "32x24", "--seed", "1", "--quiet"]
    for k in range(2):
        assert main(["synth", str(tmp_path / f"part{k}"), *common, "--shard", f"{k}/2"]) == 0
    assert "shard 1/2 (1 of 3 frames" in capsys.readouterr().out
    assert main(["synth", str(tmp_path / "a" / "ds"), *common]) == 0
    assert main(["synth", "--merge", str(tmp_path / "b" / "ds"), str(tmp_path / "part0"), str(tmp_path / "part1")]) == 0
    assert files(tmp_path / "a" / "ds") == files(tmp_path / "b" / "ds")
    assert main(["synth", "--merge", str(tmp_path / "c"), str(tmp_path / "part0"), "--frames", "3"]) == 1
    assert "drop --frames" in capsys.readouterr().err
    assert main(["synth", str(tmp_path / "d"), str(tmp_path / "part0"), *common]) == 1
    assert "need --merge" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["synth", str(tmp_path / "e"), *common, "--shard", "2/2"])
    assert "0 <= K < N" in capsys.readouterr().err


def test_render_options_reach_render_frame_and_the_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from handseg.data.synth import generate as gen

    seen: list[dict] = []
    original = gen.render_frame

    def render_frame(seed, index, width=640, height=480, object_types=None, *, scenes="hands"):
        if scenes not in ("hands", "people"):
            raise ConfigError(f"unknown scenes {scenes!r}")
        seen.append({"scenes": scenes})
        return original(seed, index, width, height, object_types)

    monkeypatch.setattr(gen, "render_frame", render_frame)
    root = generate_dataset(tmp_path / "ds", 2, size=SIZE, progress=False, render_options={"scenes": "people"})
    assert seen and all(s == {"scenes": "people"} for s in seen)
    assert HandsegDataset(root).manifest.generator["render_options"] == {"scenes": "people"}
    with pytest.raises(ConfigError, match="unknown scenes 'cats'"):
        generate_dataset(tmp_path / "bad", 2, size=SIZE, progress=False, render_options={"scenes": "cats"})
    assert not (tmp_path / "bad").exists(), "a bad option value is refused before the folder is made"
    with pytest.raises(ConfigError, match="render option 'colour' is not an option"):
        generate_dataset(tmp_path / "bad", 2, size=SIZE, progress=False, render_options={"colour": 1})


def test_cli_fills_render_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import handseg.data.synth

    calls: list[dict] = []
    monkeypatch.setattr(handseg.data.synth, "generate_dataset", lambda out, frames, **kw: calls.append(kw) or out)
    args = ["synth", str(tmp_path / "ds"), "--frames", "2", "--quiet"]
    assert main([*args, "--scenes", "people,table", "--sensor", "d415"]) == 0
    assert main(args) == 0
    assert calls[0]["render_options"] == {"scenes": "people,table", "sensor": "d415"}
    assert calls[1]["render_options"] == {} and calls[1]["shard"] is None


def test_scenes_and_sensor_reach_the_generator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With the generator's own options: values it refuses fail before OUT is made; others land in the manifest."""
    import inspect

    from handseg.data.synth import render_frame

    if not {"scenes", "sensor"} <= set(inspect.signature(render_frame).parameters):
        pytest.skip("this generator has no scenes/sensor options")
    args = ["synth", "--frames", "2", "--size", "48x32", "--quiet"]
    assert main([*args[:1], str(tmp_path / "bad"), *args[1:], "--sensor", "kinect"]) == 1
    assert "kinect" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    out = tmp_path / "ok"
    assert main([*args[:1], str(out), *args[1:], "--sensor", "d415", "--scenes", "tabletop"]) == 0
    dataset = HandsegDataset(out, split=None)
    assert dataset.manifest.generator["render_options"] == {"scenes": "tabletop", "sensor": "d415"}
    for sample_id in dataset.ids:
        scene = dataset.scene(sample_id)
        assert scene["family"] == "tabletop" and scene["depth_sensor"]["camera_model"] == "d415"
    windowed = tmp_path / "window"
    assert main([*args[:1], str(windowed), *args[1:], "--sensor", "d415", "--stereo-window"]) == 0
    dataset = HandsegDataset(windowed, split=None)
    assert dataset.manifest.generator["render_options"] == {"sensor": "d415", "stereo_window": True}
    assert all("matching_window" in dataset.scene(i)["depth_sensor"] for i in dataset.ids)


def test_sharded_hand_crops_with_visible_maps_merge_byte_identical(tmp_path: Path) -> None:
    """Crops write the visible part maps too: they travel with their frames."""
    options = {"seed": 5, "size": (32, 32), "progress": False, "crop": "hands", "render_size": (96, 72)}
    full = generate_dataset(tmp_path / "a" / "ds", 3, **options)
    assert (full / "parts" / "000001_l_visible.png").is_file()
    shards = [generate_dataset(tmp_path / f"s{k}", 3, shard=(k, 2), **options) for k in range(2)]
    assert files(merge_shards(tmp_path / "b" / "ds", shards, progress=False)) == files(full)
