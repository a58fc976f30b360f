"""generate_with_ray: Ray tasks render the shards of a run, merged byte-identical to the single-process run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from handseg.data.synth import generate_dataset
from handseg.errors import OutputExistsError

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="ray is not installed (optional extra: pip install 'handseg[cluster]')",
)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ray_shards_merge_to_the_single_run(tmp_path: Path) -> None:
    from handseg.data.synth.cluster import generate_with_ray

    single = generate_dataset(tmp_path / "a" / "ds", 5, seed=2, size=(32, 24), progress=False)
    init = {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False}
    out = generate_with_ray(tmp_path / "b" / "ds", 5, 2, seed=2, size=(32, 24), progress=False, init_options=init)
    files = {p.relative_to(single): p.read_bytes() for p in single.rglob("*") if p.is_file()}
    assert files == {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert not (tmp_path / "b" / "ds.shards").exists(), "the shard folders are removed after the merge"
    with pytest.raises(OutputExistsError, match="force"):
        generate_with_ray(out, 5, 2, seed=2, size=(32, 24), progress=False, init_options=init)
