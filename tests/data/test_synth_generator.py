"""The synthetic generator: output contract, determinism, exact labels and amodal parts, dataset writing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handseg.data.format import HandsegDataset, read_split
from handseg.data.synth import OBJECT_TYPES, camera, generate_dataset, render_frame
from handseg.data.synth.render import render_scene, zbuffer
from handseg.data.synth.scene import sample_scene
from handseg.errors import ConfigError, OutputExistsError

W, H = 160, 120
FINGER_PARTS = np.arange(2, 17)


@pytest.fixture(scope="module")
def frames() -> list[dict]:
    return [render_frame(11, i, W, H, scenes="closeup", sensor="sr300") for i in range(12)]


def test_render_frame_contract(frames: list[dict]) -> None:
    frame = frames[0]
    assert frame["depth"].dtype == np.uint16 and frame["depth"].shape == (H, W)
    assert frame["color"].dtype == np.uint8 and frame["color"].shape == (H, W, 3)
    assert frame["label"].dtype == np.uint8 and frame["label"].shape == (H, W)
    assert frame["parts"].dtype == np.uint8 and frame["parts"].shape == (2, H, W)
    assert frame["intrinsics"].width == W and frame["intrinsics"].fx == pytest.approx(475 * W / 640, rel=0.031)
    json.dumps(frame["scene"])  # JSON-able
    assert frame["scene"]["object"]["type"] in OBJECT_TYPES
    for f in frames:
        assert set(np.unique(f["label"])) <= {0, 1, 2}
        assert int(f["parts"].max()) <= 16
        assert (f["label"] == 1).any(), "every frame shows a hand"
        valid = f["depth"][f["depth"] > 0]
        assert valid.min() >= 150 and valid.max() <= 2300  # millimetres within the sensor's range


def test_same_seed_same_bytes_and_index_matters() -> None:
    a, b = render_frame(5, 2, W, H), render_frame(5, 2, W, H)
    for key in ("depth", "color", "label", "parts"):
        assert a[key].tobytes() == b[key].tobytes()
    assert a["scene"] == b["scene"]
    assert render_frame(5, 3, W, H)["depth"].tobytes() != a["depth"].tobytes()
    assert render_frame(6, 2, W, H)["depth"].tobytes() != a["depth"].tobytes()


def test_amodal_maps_contain_every_visible_hand_pixel(frames: list[dict]) -> None:
    for f in frames:
        hand_pixels = np.zeros((H, W), bool)
        for h in range(2):
            vis = f["visible_parts"][h]
            hand_pixels |= vis > 0
            own = (vis >= 1) & (vis <= 16)  # visible pixels of this hand, forearm (17) excluded
            assert (f["label"][own] == 1).all()
            assert (f["parts"][h][own] > 0).all()
            np.testing.assert_array_equal(f["parts"][h][own], vis[own])
            assert (f["parts"][h][vis == 17] == 0).all(), "forearm has no part id"
        np.testing.assert_array_equal(hand_pixels, f["label"] == 1)


def test_objects_hide_fingers_that_stay_in_the_amodal_maps(frames: list[dict]) -> None:
    hidden = 0
    for f in frames:
        occluded = (f["label"] == 2)[None] & np.isin(f["parts"], FINGER_PARTS)
        hidden += bool(occluded.any())
    assert hidden >= len(frames) // 3, f"objects hide fingers in only {hidden} of {len(frames)} frames"


def test_fingers_are_in_front_of_objects_too() -> None:
    intr = camera(W, H)
    in_front = 0
    for index in range(12):
        scene = sample_scene(np.random.default_rng([11, index]), intr)
        render = render_scene(scene.prims(), scene.planes, intr)
        object_alone, _, _ = zbuffer([p for p in scene.prims() if p.group == 2], intr)
        finger = np.isin(render.visible_parts, FINGER_PARTS).any(axis=0)
        in_front += bool((finger & np.isfinite(object_alone)).any())
    assert in_front >= 4, f"fingers cover the object in only {in_front} of 12 scenes"


def test_generate_dataset_is_valid_and_split(synth_dataset: Path) -> None:
    train, val = read_split(synth_dataset, "train"), read_split(synth_dataset, "val")
    assert len(train) == 6 and len(val) == 2 and not set(train) & set(val)
    assert sorted(train + val) == [f"{i:06d}" for i in range(8)]
    dataset = HandsegDataset(synth_dataset, split="val")
    sample = dataset[0]
    assert sample["depth"].dtype == np.float32 and sample["depth"].shape == (H, W)
    assert sample["label"] is not None and set(np.unique(sample["label"])) <= {0, 1, 2}
    assert sample["parts"].shape == (2, H, W)
    scene = dataset.scene(sample["id"])
    assert scene is not None and scene["split"] == "val"
    generator = dataset.manifest.generator
    assert generator is not None and generator["seed"] == 0 and generator["size"] == [W, H]


def test_dataset_bytes_do_not_depend_on_workers(tmp_path: Path) -> None:
    roots = [generate_dataset(tmp_path / f"w{w}" / "ds", 6, seed=4, size=(64, 48), workers=w, progress=False)
             for w in (1, 2)]  # fmt: skip
    files = [sorted(p.relative_to(r) for p in r.rglob("*") if p.is_file()) for r in roots]
    assert files[0] == files[1] and len(files[0]) == 1 + 2 + 6 * 6
    for rel in files[0]:
        assert (roots[0] / rel).read_bytes() == (roots[1] / rel).read_bytes(), rel


def test_held_out_objects_only_in_val(tmp_path: Path) -> None:
    root = generate_dataset(tmp_path / "ds", 12, seed=1, size=(64, 48), val_objects=["mug", "torus"], progress=False)
    dataset = HandsegDataset(root, split=None)
    for split, allowed in (("train", set(OBJECT_TYPES) - {"mug", "torus"}), ("val", {"mug", "torus"})):
        for sample_id in read_split(root, split):
            assert dataset.scene(sample_id)["object"]["type"] in allowed
    with pytest.raises(ConfigError, match="unknown object"):
        generate_dataset(tmp_path / "bad", 2, val_objects=["teapot"], progress=False)


def test_train_objects_name_the_training_types_and_may_not_overlap_the_held_out_ones(tmp_path: Path) -> None:
    root = generate_dataset(
        tmp_path / "ds", 12, seed=1, size=(64, 48), val_objects=["mug"], train_objects=["composite", "box"],
        val_fraction=0.25, progress=False,
    )  # fmt: skip
    dataset = HandsegDataset(root, split=None)
    seen = {dataset.scene(i)["object"]["type"] for i in read_split(root, "train")}
    assert seen <= {"composite", "box"} and "composite" in seen
    assert {dataset.scene(i)["object"]["type"] for i in read_split(root, "val")} == {"mug"}
    with pytest.raises(ConfigError, match="share mug"):
        generate_dataset(tmp_path / "x", 2, val_objects=["mug"], train_objects=["mug", "box"], progress=False)
    assert not (tmp_path / "x").exists(), "nothing is written before the arguments are checked"
    # the default mix never draws a type that must be named
    default = generate_dataset(tmp_path / "d", 8, seed=2, size=(32, 24), progress=False)
    plain = HandsegDataset(default, split=None)
    assert all(plain.scene(i)["object"]["type"] in OBJECT_TYPES for i in plain.ids)


def test_composite_objects_are_assemblies_of_several_parts_that_hands_can_grasp() -> None:
    from handseg.data.synth.grasp import grasp
    from handseg.data.synth.objects import make_object
    from handseg.data.synth.primitives import sdf_union
    from handseg.data.synth.scene import _shape

    rng = np.random.default_rng(0)
    for _ in range(6):
        obj = make_object("composite", rng)
        assert 2 <= len(obj.prims) <= 4 and len(obj.colors) == 2
        assert all(v < 0.3 for v in obj.dims.values()), "dims are sizes in metres"
        # every part touches the main one: the assembly is one rigid body, not loose pieces
        main = obj.prims[:1]
        for part in obj.prims[1:]:
            lo, hi = part.aabb()
            grid = np.stack(np.meshgrid(*[np.linspace(a, b, 24) for a, b in zip(lo, hi)]), -1).reshape(-1, 3)
            assert ((sdf_union([part], grid) <= 0) & (sdf_union(main, grid) <= 0)).any(), "a part overlaps the main one"
        *_, info = grasp(_shape("right", rng), obj, rng)
        assert info["touching_segments"], "fingers close onto the object"


def test_bad_arguments_and_existing_output(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="frames"):
        generate_dataset(tmp_path / "a", 0, progress=False)
    with pytest.raises(ConfigError, match="size"):
        generate_dataset(tmp_path / "a", 1, size=(0, 480), progress=False)
    with pytest.raises(ConfigError, match="val_fraction"):
        generate_dataset(tmp_path / "a", 1, val_fraction=1.5, progress=False)
    root = generate_dataset(tmp_path / "b", 4, size=(32, 24), progress=False)
    with pytest.raises(OutputExistsError, match="--force"):
        generate_dataset(root, 2, size=(32, 24), progress=False)
    generate_dataset(root, 2, size=(32, 24), force=True, progress=False)
    assert len(list((root / "depth").glob("*.png"))) == 2, "stale frames of the old dataset are removed"


def test_color_edges_sit_on_material_edges_after_the_recorded_registration() -> None:
    """Undoing the recorded colour warp puts a material edge exactly between two pixel columns (no blur, no shift)."""
    import cv2

    from handseg.data.synth.render import Render
    from handseg.data.synth.sensor import color_image, shading_normals

    h, w, edge = 96, 128, 61
    depth = np.full((h, w), 0.5, np.float32)
    material = np.zeros((h, w), np.uint8)
    material[:, edge:] = 1  # material 0 left of the edge, 1 from column `edge` on
    empty = np.zeros((2, h, w), np.uint8)
    render = Render(depth, np.ones((h, w), np.uint8), empty, empty, material, np.full((h, w), 255, np.uint8))
    materials = np.array([[220, 40, 40], [40, 40, 220]], np.float32)
    color, info = color_image(render, materials, [], np.random.default_rng(3), shading_normals(depth, camera(w, h)))
    m = cv2.getRotationMatrix2D((w / 2, h / 2), info["rotation_deg"], info["scale"])
    m[:, 2] += info["shift_px"]
    aligned = cv2.warpAffine(color, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP).astype(np.float32)
    redness = (aligned[..., 0] - aligned[..., 2])[20:-20].mean(axis=0)  # rows away from the warp's border
    red, blue = redness[edge - 6], redness[edge + 5]
    assert red > 100 and blue < -100
    assert redness[edge - 1] > 0.4 * red and redness[edge] < 0.4 * blue  # the edge lies between the two columns
    assert abs(redness[edge - 1] + redness[edge]) < 0.1 * (red - blue)  # ... in the middle: no sub-pixel shift
