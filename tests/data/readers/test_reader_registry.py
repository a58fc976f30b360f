"""Every registered reader has a fixture that it detects and reads; the CLI's --format follows the registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_readers import SMALL, build_dexycb, build_eth, build_handseg, build_handseg_v1, build_nyu, build_rhd

from handseg.data.format import Intrinsics
from handseg.data.readers import READERS, detect_format, open_dataset

# format -> (fixture builder, reader options the small fixture frames need)
FIXTURES = {
    "dexycb": (build_dexycb, {}),
    "eth-amodal": (build_eth, {"size": 16}),
    "handseg": (build_handseg, {"intrinsics": Intrinsics(**{**SMALL.to_dict(), "depth_scale_m": 0.000125})}),
    "handseg-v1": (build_handseg_v1, {}),
    "nyu": (build_nyu, {"intrinsics": SMALL}),
    "rhd": (build_rhd, {"intrinsics": Intrinsics(**{**SMALL.to_dict(), "depth_scale_m": 5 / 65535})}),
}


def test_every_registered_reader_has_a_fixture() -> None:
    assert set(READERS.names()) == set(FIXTURES)


@pytest.mark.parametrize("name", READERS.names())
def test_reader_detects_and_reads_its_fixture(name: str, tmp_path: Path) -> None:
    root = tmp_path / name
    build, options = FIXTURES[name]
    build(root)
    assert detect_format(root) == name
    reader = open_dataset(root, format=name, **options)
    assert len(reader) > 0 and reader[0]["depth"].ndim == 2
