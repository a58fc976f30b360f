"""dense_attention_seg's attention_mode: fine-only and coarse-only gates for the Table 3 ablation."""

from __future__ import annotations

import pytest
import torch

from handseg.errors import ConfigError
from handseg.models import build_model


@pytest.mark.parametrize(
    ("mode", "fine", "coarse"), [("both", True, True), ("fine", True, False), ("coarse", False, True)]
)
def test_mode_builds_only_its_gates(mode: str, fine: bool, coarse: bool) -> None:
    torch.manual_seed(0)
    model = build_model("dense_attention_seg", backbone="resnet18", backbone_width=8, k=8, attention_mode=mode).eval()
    assert hasattr(model, "fine_gates") == fine and hasattr(model, "coarse_gates") == coarse
    logits, maps = model(torch.randn(1, 1, 40, 56), return_attention=True)
    assert logits.shape == (1, 3, 40, 56)
    # a missing kind of gate is reported as all ones; a present one varies over the levels that have it
    assert all(bool((m == 1).all()) != fine for m in maps["fine"][1:])
    assert all(bool((m == 1).all()) != coarse for m in maps["coarse"][:-1])


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="attention_mode"):
        build_model("dense_attention_seg", attention_mode="sideways")
