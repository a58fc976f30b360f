"""Learning-rate schedules: shapes with warm-up, validation of every key, checkpoint state and exact resume."""

from __future__ import annotations

import io
from itertools import pairwise
from pathlib import Path

import pytest
import torch

from handseg.config import validate
from handseg.engine.checkpoint import read_checkpoint
from handseg.engine.schedule import SCHEDULES, build_scheduler
from handseg.engine.train import train
from handseg.errors import ConfigError


def lrs(schedule: dict, steps: int, total: int, lr: float = 1.0) -> list[float]:
    """The lr of optimisation steps 1..steps (the lr in force before each step)."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = build_scheduler(optimizer, schedule, total)
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def test_step_default_matches_torch_steplr() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    reference = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.5)
    expected = []
    for _ in range(30):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        reference.step()
    assert lrs({"step_size": 7, "gamma": 0.5}, 30, 30, lr=0.1) == pytest.approx(expected, rel=1e-12)


def test_warmup_rises_linearly_then_cosine_decays_to_the_floor() -> None:
    values = lrs({"name": "cosine", "warmup_steps": 4, "min_lr_ratio": 0.1}, 25, 24)
    assert values[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    decay = values[4:]
    assert all(a >= b for a, b in pairwise(decay))
    assert decay[-1] == pytest.approx(0.1)  # the horizon reached; the lr stays at the floor
    assert values[4 + 10] == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the 20 decay steps


def test_poly_and_onecycle_shapes() -> None:
    poly = lrs({"name": "poly", "power": 2.0}, 11, 10)
    assert poly[0] == 1.0 and poly[5] == pytest.approx(0.25) and poly[10] == 0.0
    one = lrs({"name": "onecycle", "warmup_steps": 5, "div_factor": 10.0, "final_div_factor": 100.0}, 16, 15)
    assert one[0] == pytest.approx(0.1) and max(one) == one[5] == 1.0
    assert one[-1] == pytest.approx(0.01)
    assert all(a < b for a, b in pairwise(one[:6])) and all(a > b for a, b in pairwise(one[5:]))


def test_registry_holds_every_schedule() -> None:
    assert set(SCHEDULES) == {"step", "cosine", "onecycle", "poly"}


@pytest.mark.parametrize(
    ("schedule", "key"),
    [
        ({"name": "linear"}, "schedule.name"),
        ({"warmup_steps": -1}, "schedule.warmup_steps"),
        ({"warmup_steps": 2.5}, "schedule.warmup_steps"),
        ({"gamma": 0.0}, "schedule.gamma"),
        ({"step_size": 0}, "schedule.step_size"),
        ({"min_lr_ratio": 1.5}, "schedule.min_lr_ratio"),
        ({"power": "fast"}, "schedule.power"),
        ({"name": "onecycle"}, "schedule.warmup_steps"),
        ({"total_steps": 0}, "schedule.total_steps"),
        ({"bogus": 1}, "schedule.bogus"),
    ],
)
def test_bad_schedule_values_name_the_key(schedule: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as info:
        validate({"schedule": schedule})
    assert "\n" not in str(info.value)


def test_warmup_longer_than_budget_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"schedule\.warmup_steps: 10 leaves no decay steps in a budget of 10"):
        lrs({"name": "cosine", "warmup_steps": 10}, 1, 10)


def test_state_is_plain_data_and_restores_the_lr() -> None:
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    scheduler = build_scheduler(optimizer, {"name": "cosine", "warmup_steps": 3}, 50)
    for _ in range(17):
        optimizer.step()
        scheduler.step()
    buffer = io.BytesIO()
    torch.save(scheduler.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)  # no functions or classes inside
    assert state["spec"]["name"] == "cosine" and state["last_epoch"] == 17
    fresh_opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    fresh = build_scheduler(fresh_opt, {"name": "cosine", "warmup_steps": 3}, 50)
    fresh.load_state_dict(state)
    assert fresh_opt.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    legacy = torch.optim.lr_scheduler.StepLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1), 5)
    legacy.last_epoch = 12
    fresh.load_state_dict(legacy.state_dict())  # a checkpoint written before schedules had names
    assert fresh.last_epoch == 12


def test_cosine_warmup_run_resumes_exactly(tiny_dataset: Path, tmp_path: Path, tiny_config) -> None:
    config = tiny_config(tiny_dataset, max_steps=9, val_every_steps=5, ckpt_every_steps=100)
    config["schedule"] = {"name": "cosine", "warmup_steps": 3, "min_lr_ratio": 0.05}
    train(config, tmp_path / "full", progress=False)
    train(config, tmp_path / "split", progress=False, stop_after_steps=2)  # inside the warm-up
    train(config, tmp_path / "split", progress=False)
    a, b = read_checkpoint(tmp_path / "full" / "last.ckpt"), read_checkpoint(tmp_path / "split" / "last.ckpt")
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["scheduler"] == b["scheduler"] and a["scheduler"]["spec"]["name"] == "cosine"
    assert a["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.01 * 0.05)  # the end of the decay
