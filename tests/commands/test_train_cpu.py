"""`handseg train CONFIG --cpu`: the CPU-scale variant of any recipe, the same config a `<name>_cpu.yaml` twin gives."""

from __future__ import annotations

import pytest

from handseg.cli import main


def _printed(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["train", *args, "--print-config"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("recipe", ["table2/fcn8s", "table2/dense_attention_seg", "table3/attention_os8"])
def test_cpu_flag_equals_the_shipped_twin(capsys: pytest.CaptureFixture[str], recipe: str) -> None:
    layered = _printed(capsys, recipe, "--cpu")
    assert layered == _printed(capsys, f"{recipe}_cpu")
    assert layered.startswith(f"name: {recipe.split('/')[1]}_cpu\n") and "size: [160, 120]" in layered


def test_cpu_flag_takes_the_tasks_cpu_scale(capsys: pytest.CaptureFixture[str]) -> None:
    amodal = _printed(capsys, "amodal/unet_ce", "--cpu")
    assert "name: unet_ce_cpu" in amodal and "size: [128, 128]" in amodal and "size: [160, 120]" not in amodal
    assert "name: renamed" in _printed(capsys, "table2/gcn", "--cpu", "--set", "name=renamed")  # --set still wins
    assert "size: [160, 120]" not in _printed(capsys, "table2/gcn")
